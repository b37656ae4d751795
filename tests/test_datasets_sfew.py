"""SFEW 2.0 reader: Train/ and Val/ class folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from dafw.data import DataError
from tests.fixtures_data import Seeds, build_reader, make_class_tree


@pytest.fixture
def sfew_root(tmp_path: Path) -> Path:
    seeds = Seeds()
    make_class_tree(tmp_path / "Train", {"Angry": 2, "Neutral": 1, "Surprise": 3}, seeds)
    make_class_tree(tmp_path / "Val", {"Happy": 1, "Sad": 2}, seeds, suffix=".jpg")
    return tmp_path


def test_splits_and_counts(sfew_root: Path) -> None:
    report = build_reader("sfew", sfew_root).report()
    assert list(report.counts) == ["train", "val"]
    assert report.counts["train"]["angry"] == 2
    assert report.counts["train"]["neutral"] == 1
    assert report.counts["train"]["surprise"] == 3
    assert report.counts["val"]["sad"] == 2
    assert report.missing_classes["val"] == ["angry", "disgust", "fear", "surprise", "neutral"]


def test_custom_split_folders(sfew_root: Path) -> None:
    (sfew_root / "Val").rename(sfew_root / "Val_Aligned_Faces")
    reader = build_reader("sfew", sfew_root, val_dir="Val_Aligned_Faces")
    assert len(reader.samples("val")) == 3


def test_missing_val_folder_is_named(sfew_root: Path) -> None:
    (sfew_root / "Val").rename(sfew_root / "Validation")
    with pytest.raises(DataError, match="SFEW val folder") as caught:
        build_reader("sfew", sfew_root)
    assert str(sfew_root / "Val") in str(caught.value)
