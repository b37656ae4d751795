"""Domain aligners: adversarial (gradient reversal), CORAL and multi-kernel MMD."""
