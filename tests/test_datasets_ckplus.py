"""CK+ reader: CK+48 folders, original sequences, contempt policy and subject splits."""

from __future__ import annotations

from pathlib import Path

import pytest

from dafw.data import DataError
from tests.fixtures_data import Seeds, build_reader, make_ck48, make_ck_original

CK48_FILES = {
    "anger": ["S010_004_00000017", "S010_004_00000018", "S011_001_00000010"],
    "contempt": ["S012_002_00000005", "S012_002_00000006"],
    "happy": ["S013_003_00000020", "S014_001_00000009"],
    "sadness": ["S015_002_00000011"],
    "surprise": ["S016_001_00000030", "S017_001_00000031"],
}


@pytest.fixture
def ck48_root(tmp_path: Path) -> Path:
    make_ck48(tmp_path / "CK+48", CK48_FILES, Seeds())
    return tmp_path


def test_ck48_counts_and_contempt_dropped(ck48_root: Path) -> None:
    reader = build_reader("ckplus", ck48_root)
    report = reader.report()

    assert report.counts["all"]["angry"] == 3
    assert report.counts["all"]["sad"] == 1
    assert report.counts["all"]["surprise"] == 2
    assert sum(report.counts["all"].values()) == 8
    assert report.dropped == {"contempt (extra_classes='drop')": 2}
    assert report.absent_classes == ["disgust", "fear", "neutral"]


def test_ck48_maps_folder_names(ck48_root: Path) -> None:
    reader = build_reader("ckplus", ck48_root)
    names = {Path(s.key).parent.name: reader.classes[s.label] for s in reader.samples("all")}
    assert names == {"anger": "angry", "happy": "happy", "sadness": "sad", "surprise": "surprise"}


def test_contempt_error_policy_raises(ck48_root: Path) -> None:
    with pytest.raises(DataError, match="contempt"):
        build_reader("ckplus", ck48_root, extra_classes="error")


def test_subject_split_is_disjoint_and_seeded(ck48_root: Path) -> None:
    reader = build_reader("ckplus", ck48_root, test_fraction=0.3, seed=4)
    train = {s.group for s in reader.samples("train")}
    test = {s.group for s in reader.samples("test")}

    assert train.isdisjoint(test)
    assert train | test == {"S010", "S011", "S013", "S014", "S015", "S016", "S017"}
    assert len(test) == 2  # round(0.3 * 7 subjects)
    assert len(reader.samples("train")) + len(reader.samples("test")) == 8
    again = build_reader("ckplus", ck48_root, test_fraction=0.3, seed=4)
    assert again.samples("test") == reader.samples("test")
    assert any("subject split: 2 of 7 subjects" in note for note in reader.report().notes)


def test_subject_split_changes_with_seed(ck48_root: Path) -> None:
    splits = {
        frozenset(s.group for s in build_reader("ckplus", ck48_root, seed=seed).samples("test"))
        for seed in range(8)
    }
    assert len(splits) > 1


def test_frames_of_one_subject_stay_together(ck48_root: Path) -> None:
    for seed in range(5):
        reader = build_reader("ckplus", ck48_root, seed=seed)
        test = {s.group for s in reader.samples("test")}
        s010 = [s for s in reader.samples("all") if s.group == "S010"]
        assert len({s.group in test for s in s010}) == 1


def test_zero_test_fraction_gives_empty_test(ck48_root: Path) -> None:
    reader = build_reader("ckplus", ck48_root, test_fraction=0.0)
    assert reader.samples("test") == []
    assert len(reader.samples("train")) == 8


def test_bad_frame_name_is_named(tmp_path: Path) -> None:
    make_ck48(tmp_path, {"anger": ["face_1"]}, Seeds())
    with pytest.raises(DataError, match="face_1.png"):
        build_reader("ckplus", tmp_path)


def original_sequences() -> list[tuple[str, str, int, str | None]]:
    return [
        ("S005", "001", 6, "   3.0000000e+00\n"),  # disgust
        ("S005", "002", 4, None),  # unlabelled, ignored
        ("S010", "001", 5, "   2.0000000e+00\n"),  # contempt
        ("S011", "003", 2, "   7.0000000e+00\n"),  # surprise, shorter than last_frames
        ("S012", "001", 8, "   5.0000000e+00\n"),  # happy
    ]


def test_original_takes_last_frames(tmp_path: Path) -> None:
    make_ck_original(tmp_path, original_sequences(), Seeds())
    reader = build_reader("ckplus", tmp_path)
    samples = reader.samples("all")

    by_sequence: dict[str, list[str]] = {}
    for sample in samples:
        stem = Path(sample.key).stem
        by_sequence.setdefault(stem[:8], []).append(f"{stem[-2:]}:{reader.classes[sample.label]}")
    assert by_sequence == {
        "S005_001": ["04:disgust", "05:disgust", "06:disgust"],
        "S011_003": ["01:surprise", "02:surprise"],
        "S012_001": ["06:happy", "07:happy", "08:happy"],
    }
    assert reader.report().dropped == {"contempt (extra_classes='drop')": 3}


def test_original_first_frame_neutral(tmp_path: Path) -> None:
    make_ck_original(tmp_path, original_sequences(), Seeds())
    reader = build_reader("ckplus", tmp_path, first_frame_neutral=True, last_frames=2)
    neutral = sorted(
        Path(s.key).stem for s in reader.samples("all") if reader.classes[s.label] == "neutral"
    )
    assert neutral == [
        "S005_001_00000001",
        "S010_001_00000001",
        "S011_003_00000001",
        "S012_001_00000001",
    ]
    surprise = [
        Path(s.key).stem for s in reader.samples("all") if reader.classes[s.label] == "surprise"
    ]
    assert surprise == ["S011_003_00000002"]
    assert reader.report().dropped == {"contempt (extra_classes='drop')": 2}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("   9.0000000e+00\n", "unknown label '9'"),
        ("happy\n", "expected one number"),
        ("2.5", "not a whole number"),
    ],
)
def test_bad_emotion_file_is_named(tmp_path: Path, text: str, message: str) -> None:
    make_ck_original(tmp_path, [("S005", "001", 3, text)], Seeds())
    with pytest.raises(DataError, match=message) as caught:
        build_reader("ckplus", tmp_path)
    assert "S005_001_00000003_emotion.txt" in str(caught.value)


def test_label_without_frames_is_named(tmp_path: Path) -> None:
    make_ck_original(tmp_path, [("S005", "001", 3, "1.0")], Seeds())
    emotion = tmp_path / "Emotion" / "S006" / "004"
    emotion.mkdir(parents=True)
    (emotion / "S006_004_00000002_emotion.txt").write_text("1.0")
    with pytest.raises(DataError, match="has no frames") as caught:
        build_reader("ckplus", tmp_path)
    assert str(tmp_path / "cohn-kanade-images" / "S006" / "004") in str(caught.value)


def test_missing_layout_lists_what_was_found(tmp_path: Path) -> None:
    (tmp_path / "pictures").mkdir()
    with pytest.raises(DataError, match="found: pictures"):
        build_reader("ckplus", tmp_path)
