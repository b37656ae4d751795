"""First-party dataset plugins: FER2013, RAF-DB, CK+, JAFFE, SFEW, ExpW, image folders, digits."""
