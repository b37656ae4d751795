"""RAF-DB reader: label order 1-7, train/test prefixes, variants and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dafw.data import DataError
from tests.fixtures_data import Seeds, build_reader, make_rafdb, write_image

ENTRIES = [
    ("train_00001.jpg", 1),
    ("train_00002.jpg", 2),
    ("train_00003.jpg", 3),
    ("train_00004.jpg", 4),
    ("train_00005.jpg", 5),
    ("train_00006.jpg", 6),
    ("train_00007.jpg", 7),
    ("test_0001.jpg", 6),
    ("test_0002.jpg", 7),
]


@pytest.fixture
def rafdb_root(tmp_path: Path) -> Path:
    make_rafdb(tmp_path, ENTRIES, Seeds())
    return tmp_path


def test_labels_follow_rafdb_order(rafdb_root: Path) -> None:
    reader = build_reader("rafdb", rafdb_root)
    names = [reader.classes[s.label] for s in reader.samples("train")]
    assert names == ["surprise", "fear", "disgust", "happy", "sad", "angry", "neutral"]
    names = [reader.classes[s.label] for s in reader.samples("test")]
    assert names == ["angry", "neutral"]


def test_splits_come_from_prefix(rafdb_root: Path) -> None:
    reader = build_reader("rafdb", rafdb_root)
    assert reader.splits() == ("train", "test")
    assert len(reader.samples("train")) == 7
    assert reader.samples("test")[0].key.endswith("Image/aligned/test_0001_aligned.jpg")


def test_load_gives_rgb_pixels(rafdb_root: Path) -> None:
    reader = build_reader("rafdb", rafdb_root)
    pixels = reader.load(reader.samples("train")[0])
    assert pixels.shape == (16, 16, 3)
    assert pixels.dtype == np.uint8


def test_original_variant_reads_original_folder(tmp_path: Path) -> None:
    seeds = Seeds()
    make_rafdb(tmp_path, ENTRIES[:2], seeds)
    write_image(tmp_path / "Image" / "original" / "train_00001.jpg", seeds(), 30, 3)
    write_image(tmp_path / "Image" / "original" / "train_00002.jpg", seeds(), 30, 3)
    reader = build_reader("rafdb", tmp_path, variant="original")
    assert reader.samples("train")[0].key == str(tmp_path / "Image/original/train_00001.jpg")
    assert reader.load(reader.samples("train")[0]).shape == (30, 30, 3)


def test_missing_label_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "Image" / "aligned").mkdir(parents=True)
    with pytest.raises(DataError, match="RAF-DB label list") as caught:
        build_reader("rafdb", tmp_path)
    assert str(tmp_path / "EmoLabel" / "list_patition_label.txt") in str(caught.value)


def test_label_outside_one_to_seven_names_line(rafdb_root: Path) -> None:
    label_file = rafdb_root / "EmoLabel" / "list_patition_label.txt"
    label_file.write_text(label_file.read_text() + "train_00009.jpg 0\n")
    with pytest.raises(DataError) as caught:
        build_reader("rafdb", rafdb_root)
    assert "line 10" in str(caught.value)
    assert "unknown label '0'" in str(caught.value)


def test_bad_prefix_and_duplicates_are_rejected(rafdb_root: Path) -> None:
    label_file = rafdb_root / "EmoLabel" / "list_patition_label.txt"
    original = label_file.read_text()
    label_file.write_text(original + "val_00001.jpg 3\n")
    with pytest.raises(DataError, match="neither 'train_' nor 'test_'"):
        build_reader("rafdb", rafdb_root)
    label_file.write_text(original + "train_00001.jpg 3\n")
    with pytest.raises(DataError, match="listed twice"):
        build_reader("rafdb", rafdb_root)


def test_missing_images_are_listed(rafdb_root: Path) -> None:
    (rafdb_root / "Image" / "aligned" / "test_0002_aligned.jpg").unlink()
    with pytest.raises(DataError, match="1 image listed in") as caught:
        build_reader("rafdb", rafdb_root)
    assert "test_0002_aligned.jpg" in str(caught.value)
