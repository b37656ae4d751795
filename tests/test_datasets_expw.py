"""ExpW reader: face crops, label order, confidence filter and the photo split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dafw.data import DataError
from tests.fixtures_data import Seeds, build_reader, make_expw

# (photo, face id, (top, left, right, bottom), confidence, label)
FACES = [
    ("angry_man_1.jpg", 0, (2, 3, 20, 25), 60.5, 0),
    ("angry_man_1.jpg", 1, (10, 22, 38, 30), 35.0, 4),
    ("happy_kid_7.jpg", 0, (0, 0, 40, 40), 80.0, 3),
    ("crowd_3.jpg", 0, (5, 5, 15, 15), 20.0, 6),
    ("crowd_3.jpg", 1, (20, 20, 30, 30), 55.0, 5),
    ("shock_9.jpg", 0, (1, 2, 30, 31), 70.0, 1),
    ("scared_2.jpg", 0, (4, 4, 36, 36), 66.0, 2),
]


@pytest.fixture
def expw_root(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    photos = make_expw(tmp_path, FACES, Seeds())
    return tmp_path, photos


def test_labels_follow_expw_order(expw_root: tuple[Path, dict[str, np.ndarray]]) -> None:
    root, _ = expw_root
    reader = build_reader("expw", root)
    names = {
        s.key.rsplit("/", 1)[1]: reader.classes[s.label]
        for split in reader.splits()
        for s in reader.samples(split)
    }
    assert names == {
        "angry_man_1.jpg#face=0": "angry",
        "angry_man_1.jpg#face=1": "sad",
        "happy_kid_7.jpg#face=0": "happy",
        "crowd_3.jpg#face=0": "neutral",
        "crowd_3.jpg#face=1": "surprise",
        "shock_9.jpg#face=0": "disgust",
        "scared_2.jpg#face=0": "fear",
    }


def test_load_crops_the_box(expw_root: tuple[Path, dict[str, np.ndarray]]) -> None:
    root, photos = expw_root
    reader = build_reader("expw", root, test_fraction=0.0)
    sample = next(s for s in reader.samples("train") if s.key.endswith("angry_man_1.jpg#face=1"))
    crop = reader.load(sample)
    # top 10, left 22, right 38, bottom 30
    assert crop.shape == (20, 16, 3)
    assert np.array_equal(crop, photos["angry_man_1.jpg"][10:30, 22:38])


def test_faces_of_a_photo_share_a_split(expw_root: tuple[Path, dict[str, np.ndarray]]) -> None:
    root, _ = expw_root
    for seed in range(6):
        reader = build_reader("expw", root, test_fraction=0.4, seed=seed)
        train = {s.group for s in reader.samples("train")}
        test = {s.group for s in reader.samples("test")}
        assert train.isdisjoint(test)
        assert len(test) == 2  # round(0.4 * 5 photos)


def test_split_is_reproducible_and_recorded(expw_root: tuple[Path, dict[str, np.ndarray]]) -> None:
    root, _ = expw_root
    first = build_reader("expw", root, seed=3)
    second = build_reader("expw", root, seed=3)
    assert first.samples("test") == second.samples("test")
    notes = " ".join(first.report().notes)
    assert "seed=3" in notes
    assert "digest" in notes


def test_split_file_replaces_seeded_split(expw_root: tuple[Path, dict[str, np.ndarray]]) -> None:
    root, _ = expw_root
    (root / "test_photos.txt").write_text("crowd_3.jpg\nshock_9.jpg\n")
    reader = build_reader("expw", root, split_file="test_photos.txt")
    assert {s.group for s in reader.samples("test")} == {"crowd_3.jpg", "shock_9.jpg"}
    assert len(reader.samples("train")) == 4


def test_split_file_with_unknown_photo(expw_root: tuple[Path, dict[str, np.ndarray]]) -> None:
    root, _ = expw_root
    (root / "test_photos.txt").write_text("nobody.jpg\n")
    with pytest.raises(DataError, match="nobody.jpg"):
        build_reader("expw", root, split_file="test_photos.txt")


def test_min_confidence_drops_and_counts(expw_root: tuple[Path, dict[str, np.ndarray]]) -> None:
    root, _ = expw_root
    reader = build_reader("expw", root, min_confidence=50.0)
    total = sum(len(reader.samples(split)) for split in reader.splits())
    assert total == 5
    assert reader.report().dropped == {"confidence below 50.0": 2}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("x.jpg 0 1 2 3", "expected 8 fields"),
        ("angry_man_1.jpg 5 10 10 5 20 50.0 3", "empty face box"),
        ("angry_man_1.jpg 5 1 1 9 9 high 3", "must be numbers"),
        ("angry_man_1.jpg 5 1 1 9 9 50.0 7", "unknown label '7'"),
    ],
)
def test_bad_line_names_line(
    expw_root: tuple[Path, dict[str, np.ndarray]], line: str, message: str
) -> None:
    root, _ = expw_root
    label_file = root / "label" / "label.lst"
    label_file.write_text(label_file.read_text() + line + "\n")
    with pytest.raises(DataError, match=message) as caught:
        build_reader("expw", root)
    assert f"{label_file} line 8" in str(caught.value)


def test_box_outside_photo_fails_on_load(tmp_path: Path) -> None:
    make_expw(tmp_path, [("far.jpg", 0, (50, 50, 60, 60), 50.0, 3)], Seeds())
    reader = build_reader("expw", tmp_path, test_fraction=0.0)
    with pytest.raises(DataError, match="outside the 40x40 photo"):
        reader.load(reader.samples("train")[0])


def test_missing_photo_is_named(expw_root: tuple[Path, dict[str, np.ndarray]]) -> None:
    root, _ = expw_root
    (root / "image" / "origin" / "crowd_3.jpg").unlink()
    with pytest.raises(DataError, match="crowd_3.jpg"):
        build_reader("expw", root)


def test_two_faces_of_one_photo_are_not_duplicates(
    expw_root: tuple[Path, dict[str, np.ndarray]],
) -> None:
    root, _ = expw_root
    reader = build_reader("expw", root)
    source = reader.image_source()
    keys = [s.key for s in reader.samples("train") + reader.samples("test")]
    contents = {source.content_bytes(key) for key in keys}
    assert len(contents) == len(keys)
