"""Generic image-folder reader: layouts, class maps, explicit classes and policies."""

from __future__ import annotations

from pathlib import Path

import pytest

from dafw.classes import class_index
from dafw.data import DataError
from tests.fixtures_data import Seeds, build_reader, make_class_tree


def test_flat_tree_is_one_split(tmp_path: Path) -> None:
    make_class_tree(tmp_path, {"Happy": 2, "neutral": 1}, Seeds())
    reader = build_reader("image_folder", tmp_path)
    assert reader.splits() == ("all",)
    assert reader.report().counts["all"]["happy"] == 2
    assert {s.label for s in reader.samples("all") if "/neutral/" in s.key} == {
        class_index("neutral")
    }


def test_split_folders_become_splits(tmp_path: Path) -> None:
    seeds = Seeds()
    make_class_tree(tmp_path / "train", {"sad": 2}, seeds)
    make_class_tree(tmp_path / "valid", {"sad": 1, "fear": 1}, seeds)
    reader = build_reader("image_folder", tmp_path)
    assert reader.splits() == ("train", "valid")
    assert len(reader.samples("valid")) == 2


def test_class_map_renames_folders(tmp_path: Path) -> None:
    make_class_tree(tmp_path, {"0": 1, "3": 2}, Seeds())
    reader = build_reader("image_folder", tmp_path, class_map={"0": "angry", "3": "happy"})
    counts = reader.report().counts["all"]
    assert counts["angry"] == 1
    assert counts["happy"] == 2


def test_explicit_classes_index_in_given_order(tmp_path: Path) -> None:
    make_class_tree(tmp_path, {"cat": 1, "dog": 2}, Seeds())
    reader = build_reader("image_folder", tmp_path, classes=["dog", "cat", "bird"])
    assert reader.classes == ("dog", "cat", "bird")
    labels = {Path(s.key).parent.name: s.label for s in reader.samples("all")}
    assert labels == {"dog": 0, "cat": 1}
    assert reader.report().missing_classes["all"] == ["bird"]


def test_unknown_folder_errors_by_default(tmp_path: Path) -> None:
    make_class_tree(tmp_path, {"happy": 1, "contempt": 2}, Seeds())
    with pytest.raises(DataError, match="contempt"):
        build_reader("image_folder", tmp_path)


def test_unknown_folder_dropped_on_request(tmp_path: Path) -> None:
    make_class_tree(tmp_path, {"happy": 1, "contempt": 2}, Seeds())
    reader = build_reader("image_folder", tmp_path, extra_classes="drop")
    assert len(reader.samples("all")) == 1
    assert reader.report().dropped == {"contempt (extra_classes='drop')": 2}


def test_mixed_tree_asks_for_splits(tmp_path: Path) -> None:
    seeds = Seeds()
    make_class_tree(tmp_path, {"happy": 1}, seeds)
    make_class_tree(tmp_path / "test", {"happy": 1}, seeds)
    with pytest.raises(DataError, match="set 'splits'"):
        build_reader("image_folder", tmp_path)
    reader = build_reader("image_folder", tmp_path, splits=["test"])
    assert reader.splits() == ("test",)


def test_empty_folder_is_named(tmp_path: Path) -> None:
    make_class_tree(tmp_path, {"happy": 1}, Seeds())
    (tmp_path / "sad").mkdir()
    with pytest.raises(DataError, match="neither image files nor class folders") as caught:
        build_reader("image_folder", tmp_path)
    assert str(tmp_path / "sad") in str(caught.value)


def test_duplicate_class_names_are_rejected(tmp_path: Path) -> None:
    make_class_tree(tmp_path, {"happy": 1}, Seeds())
    with pytest.raises(DataError, match="class names must be unique"):
        build_reader("image_folder", tmp_path, classes=["happy", "happy"])
