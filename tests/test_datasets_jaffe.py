"""JAFFE reader: file-name codes, palette TIFFs, root forms and the transductive note."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dafw.data import DataError
from tests.fixtures_data import Seeds, build_reader, make_jaffe

NAMES = [
    "KA.AN1.39.tiff",
    "KA.DI1.42.tiff",
    "KL.FE2.57.tiff",
    "KL.HA1.158.tiff",
    "KM.NE3.15.tiff",
    "NA.SA1.205.tiff",
    "NA.SU2.218.tiff",
    "YM.SU1.58.tiff",
]


@pytest.fixture
def jaffe_root(tmp_path: Path) -> Path:
    make_jaffe(tmp_path / "jaffe_db", NAMES, Seeds(), palette_every=3)
    (tmp_path / "jaffe_db" / "README").write_text("not an image")
    return tmp_path


def test_codes_map_to_classes(jaffe_root: Path) -> None:
    reader = build_reader("jaffe", jaffe_root)
    names = {Path(s.key).name: reader.classes[s.label] for s in reader.samples("all")}
    assert names["KA.AN1.39.tiff"] == "angry"
    assert names["KA.DI1.42.tiff"] == "disgust"
    assert names["KL.FE2.57.tiff"] == "fear"
    assert names["KL.HA1.158.tiff"] == "happy"
    assert names["KM.NE3.15.tiff"] == "neutral"
    assert names["NA.SA1.205.tiff"] == "sad"
    assert names["YM.SU1.58.tiff"] == "surprise"
    assert reader.report().counts["all"]["surprise"] == 2


def test_single_split_and_transductive_note(jaffe_root: Path) -> None:
    reader = build_reader("jaffe", jaffe_root)
    report = reader.report()
    assert reader.splits() == ("all",)
    assert any("both the adaptation set and the test set" in note for note in report.notes)
    assert any("8 images of 5 subjects" in note for note in report.notes)
    assert any("ignored 1 file" in note for note in report.notes)


def test_subject_is_the_group(jaffe_root: Path) -> None:
    reader = build_reader("jaffe", jaffe_root)
    assert {s.group for s in reader.samples("all")} == {"KA", "KL", "KM", "NA", "YM"}


def test_root_may_be_the_tiff_folder(jaffe_root: Path) -> None:
    reader = build_reader("jaffe", jaffe_root / "jaffe_db")
    assert len(reader.samples("all")) == 8


def test_palette_tiff_becomes_grey_with_same_levels(jaffe_root: Path) -> None:
    path = jaffe_root / "jaffe_db" / NAMES[0]
    with Image.open(path) as image:
        assert image.mode == "P"
        expected = np.asarray(image.convert("RGB"))[:, :, 0]
    reader = build_reader("jaffe", jaffe_root)
    sample = next(s for s in reader.samples("all") if s.key == str(path))
    pixels = reader.load(sample)
    assert pixels.shape == (32, 32, 1)
    assert np.array_equal(pixels[:, :, 0], expected)


def test_bad_file_name_is_named(tmp_path: Path) -> None:
    make_jaffe(tmp_path, ["KA.AN1.39.tiff", "portrait.tiff"], Seeds())
    with pytest.raises(DataError, match="portrait.tiff"):
        build_reader("jaffe", tmp_path)


def test_unknown_expression_code_is_named(tmp_path: Path) -> None:
    make_jaffe(tmp_path, ["KA.XX1.39.tiff"], Seeds())
    with pytest.raises(DataError, match="unknown label 'XX'") as caught:
        build_reader("jaffe", tmp_path)
    assert "KA.XX1.39.tiff" in str(caught.value)


def test_folder_without_tiffs_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "jaffe_db").mkdir()
    with pytest.raises(DataError, match="no JAFFE image"):
        build_reader("jaffe", tmp_path)
