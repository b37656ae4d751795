"""FER2013 reader: CSV and image-folder layouts, label order and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dafw.classes import class_index
from dafw.data import DataError
from tests.fixtures_data import Seeds, build_reader, make_class_tree, make_fer_csv, make_fer_folders

# (label code, Usage) rows: codes follow the CSV order angry..neutral.
CSV_ROWS = [
    (0, "Training"),
    (3, "Training"),
    (6, "Training"),
    (4, "PublicTest"),
    (5, "PublicTest"),
    (1, "PrivateTest"),
    (2, "PrivateTest"),
    (6, "PrivateTest"),
]


@pytest.fixture
def fer_csv(tmp_path: Path) -> tuple[Path, list[np.ndarray]]:
    images = make_fer_csv(tmp_path / "fer2013.csv", CSV_ROWS, Seeds())
    return tmp_path, images


def write_csv(path: Path, lines: list[str]) -> Path:
    path.write_text("emotion,pixels,Usage\n" + "\n".join(lines) + "\n")
    return path


def good_pixels() -> str:
    return " ".join(["7"] * 2304)


def test_csv_splits_and_counts(fer_csv: tuple[Path, list[np.ndarray]]) -> None:
    root, _ = fer_csv
    reader = build_reader("fer2013", root)

    assert reader.splits() == ("train", "test", "public_test", "private_test")
    assert len(reader.samples("train")) == 3
    assert len(reader.samples("public_test")) == 2
    assert len(reader.samples("private_test")) == 3
    assert reader.samples("test") == reader.samples("public_test") + reader.samples("private_test")


def test_csv_labels_map_to_canonical_names(fer_csv: tuple[Path, list[np.ndarray]]) -> None:
    root, _ = fer_csv
    reader = build_reader("fer2013", root)
    names = [reader.classes[s.label] for s in reader.samples("train")]
    assert names == ["angry", "happy", "neutral"]
    names = [reader.classes[s.label] for s in reader.samples("private_test")]
    assert names == ["disgust", "fear", "neutral"]
    names = [reader.classes[s.label] for s in reader.samples("public_test")]
    assert names == ["sad", "surprise"]


def test_csv_load_returns_row_pixels(fer_csv: tuple[Path, list[np.ndarray]]) -> None:
    root, images = fer_csv
    reader = build_reader("fer2013", root)
    sample = reader.samples("public_test")[1]  # the fifth CSV row

    assert sample.key.endswith("fer2013.csv#row=4")
    loaded = reader.load(sample)
    assert loaded.dtype == np.uint8
    assert loaded.shape == (48, 48, 1)
    assert np.array_equal(loaded, images[4])


def test_csv_fingerprint_has_row_and_mtime(fer_csv: tuple[Path, list[np.ndarray]]) -> None:
    root, _ = fer_csv
    reader = build_reader("fer2013", root)
    first, second = reader.samples("train")[:2]
    assert reader.source_fingerprint(first) != reader.source_fingerprint(second)
    assert str(root / "fer2013.csv") in reader.source_fingerprint(first)


def test_csv_found_in_fer2013_subfolder(tmp_path: Path) -> None:
    make_fer_csv(tmp_path / "fer2013" / "fer2013.csv", CSV_ROWS[:2], Seeds())
    reader = build_reader("fer2013", tmp_path)
    assert len(reader.samples("train")) == 2


def test_header_with_spaces_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "fer2013.csv"
    path.write_text(f"emotion, Usage, pixels\n3,Training,{good_pixels()}\n")
    reader = build_reader("fer2013", tmp_path)
    assert reader.classes[reader.samples("train")[0].label] == "happy"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (f"3,{' '.join(['7'] * 2303)},Training", "expected 2304 pixel values"),
        (f"3,{' '.join(['7'] * 2303)} x,Training", "must be whole numbers"),
        (f"3,{' '.join(['300'] * 2304)},Training", "pixel values must be in 0..255"),
        (f"7,{' '.join(['7'] * 2304)},Training", "unknown label '7'"),
        (f"-1,{' '.join(['7'] * 2304)},Training", "unknown label '-1'"),
        (f"3,{' '.join(['7'] * 2304)},Validation", "unknown Usage 'Validation'"),
        (f"3,{' '.join(['7'] * 2304)}", "expected 3 fields, found 2"),
    ],
)
def test_bad_csv_row_names_row_and_line(tmp_path: Path, line: str, message: str) -> None:
    write_csv(tmp_path / "fer2013.csv", [f"0,{good_pixels()},Training", line])
    with pytest.raises(DataError) as caught:
        build_reader("fer2013", tmp_path)
    text = str(caught.value)
    assert message in text
    assert "row 1 (line 3)" in text
    assert "fer2013.csv" in text


def test_csv_without_usage_column_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "fer2013.csv").write_text(f"emotion,pixels\n0,{good_pixels()}\n")
    with pytest.raises(DataError, match="lacks usage"):
        build_reader("fer2013", tmp_path)


def test_folder_layout_labels_by_name_not_position(tmp_path: Path) -> None:
    counts = {
        "train": {"angry": 2, "neutral": 3, "sad": 1, "surprise": 1},
        "test": {"neutral": 2, "happy": 2},
    }
    make_fer_folders(tmp_path, counts, Seeds())
    reader = build_reader("fer2013", tmp_path)
    report = reader.report()

    assert report.counts["train"]["neutral"] == 3
    assert report.counts["train"]["angry"] == 2
    assert report.counts["test"]["happy"] == 2
    # Sorted folder order puts neutral fifth; its canonical index is 6.
    neutral = [s for s in reader.samples("train") if "/neutral/" in s.key]
    assert {s.label for s in neutral} == {class_index("neutral")}
    assert report.missing_classes["test"] == ["angry", "disgust", "fear", "sad", "surprise"]


def test_folder_layout_tells_test_sets_apart(tmp_path: Path) -> None:
    make_fer_folders(tmp_path, {"train": {"happy": 1}, "test": {"happy": 3, "sad": 2}}, Seeds())
    reader = build_reader("fer2013", tmp_path)

    public = reader.samples("public_test")
    private = reader.samples("private_test")
    assert len(public) == 3
    assert len(private) == 2
    assert all(Path(s.key).name.startswith("PublicTest_") for s in public)
    assert len(reader.samples("test")) == 5


def test_folder_layout_without_prefixes_has_only_test(tmp_path: Path) -> None:
    seeds = Seeds()
    make_class_tree(tmp_path / "train", {"happy": 1}, seeds)
    make_class_tree(tmp_path / "test", {"happy": 2}, seeds)
    reader = build_reader("fer2013", tmp_path)
    assert reader.splits() == ("train", "test")


def test_auto_prefers_csv_and_folders_can_be_forced(tmp_path: Path) -> None:
    seeds = Seeds()
    make_fer_csv(tmp_path / "fer2013.csv", CSV_ROWS, seeds)
    make_fer_folders(tmp_path, {"train": {"happy": 1}, "test": {"sad": 1}}, seeds)

    assert len(build_reader("fer2013", tmp_path).samples("train")) == 3
    assert len(build_reader("fer2013", tmp_path, layout="folders").samples("train")) == 1


def test_missing_layout_names_what_was_expected(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    with pytest.raises(DataError) as caught:
        build_reader("fer2013", tmp_path)
    assert "fer2013.csv" in str(caught.value)
    assert str(tmp_path / "test") in str(caught.value)


def test_missing_root_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        build_reader("fer2013", tmp_path / "nowhere")


def test_unknown_class_folder_is_rejected(tmp_path: Path) -> None:
    seeds = Seeds()
    make_class_tree(tmp_path / "train", {"happy": 1, "contempt": 1}, seeds)
    make_class_tree(tmp_path / "test", {"happy": 1}, seeds)
    with pytest.raises(DataError) as caught:
        build_reader("fer2013", tmp_path)
    assert "contempt" in str(caught.value)
    assert str(tmp_path / "train" / "contempt") in str(caught.value)


def test_empty_class_folder_is_named(tmp_path: Path) -> None:
    seeds = Seeds()
    make_class_tree(tmp_path / "train", {"happy": 1}, seeds)
    make_class_tree(tmp_path / "test", {"happy": 1}, seeds)
    (tmp_path / "train" / "sad").mkdir()
    with pytest.raises(DataError, match="contains no image file") as caught:
        build_reader("fer2013", tmp_path)
    assert str(tmp_path / "train" / "sad") in str(caught.value)


def test_unknown_split_lists_splits(fer_csv: tuple[Path, list[np.ndarray]]) -> None:
    reader = build_reader("fer2013", fer_csv[0])
    with pytest.raises(DataError, match="train, test, public_test, private_test"):
        reader.samples("validation")
