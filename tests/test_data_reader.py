"""Image decoding, image sources and the reader report."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dafw.data import ArraySource, CorruptImageError, DataError, FileSource, decode_image_file
from tests.fixtures_data import Seeds, build_reader, make_class_tree


def save(path: Path, image: Image.Image) -> Path:
    image.save(path)
    return path


def test_grey_png_has_one_channel(tmp_path: Path) -> None:
    values = np.arange(64, dtype=np.uint8).reshape(8, 8)
    pixels = decode_image_file(save(tmp_path / "g.png", Image.fromarray(values)))
    assert pixels.shape == (8, 8, 1)
    assert np.array_equal(pixels[:, :, 0], values)
    assert pixels.flags.writeable


def test_sixteen_bit_png_is_scaled(tmp_path: Path) -> None:
    values = np.array([[0, 257, 65535, 32896]], dtype=np.uint16)
    pixels = decode_image_file(save(tmp_path / "w.png", Image.fromarray(values)))
    assert pixels[:, :, 0].tolist() == [[0, 1, 255, 128]]


def test_rgba_drops_alpha(tmp_path: Path) -> None:
    image = Image.new("RGBA", (4, 4), (10, 20, 30, 0))
    pixels = decode_image_file(save(tmp_path / "a.png", image))
    assert pixels.shape == (4, 4, 3)
    assert pixels[0, 0].tolist() == [10, 20, 30]


def test_colour_palette_becomes_rgb(tmp_path: Path) -> None:
    image = Image.new("P", (4, 4), 1)
    image.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    pixels = decode_image_file(save(tmp_path / "p.png", image))
    assert pixels.shape == (4, 4, 3)
    assert pixels[0, 0].tolist() == [200, 10, 10]


def test_grey_alpha_becomes_grey(tmp_path: Path) -> None:
    image = Image.new("LA", (4, 4), (77, 255))
    pixels = decode_image_file(save(tmp_path / "la.png", image))
    assert pixels.shape == (4, 4, 1)
    assert pixels[0, 0, 0] == 77


def test_missing_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="image not found"):
        decode_image_file(tmp_path / "gone.png")
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(CorruptImageError) as caught:
        decode_image_file(tmp_path / "bad.png")
    assert caught.value.key == str(tmp_path / "bad.png")


def test_file_fingerprint_tracks_mtime(tmp_path: Path) -> None:
    path = save(tmp_path / "g.png", Image.new("L", (2, 2)))
    source = FileSource(str(tmp_path))
    before = source.fingerprint(str(path))
    status = path.stat()
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 10**9))
    assert source.fingerprint(str(path)) != before
    assert before.startswith(str(path))


def test_array_source_rejects_bad_keys() -> None:
    source = ArraySource("test", np.zeros((2, 4, 4, 1), dtype=np.uint8))
    assert source.load("x#row=1").shape == (4, 4, 1)
    with pytest.raises(DataError, match="expected '...#row=<i>'"):
        source.load("x#row=2")
    with pytest.raises(DataError):
        source.load("x")


def test_report_is_json_ready(tmp_path: Path) -> None:
    make_class_tree(tmp_path, {"happy": 2, "contempt": 1}, Seeds())
    reader = build_reader("image_folder", tmp_path, extra_classes="drop")
    reader.record_corrupt("some/file.png", "truncated")
    report = json.loads(json.dumps(reader.report().to_dict()))
    assert report["dataset"] == "image_folder"
    assert report["counts"]["all"]["happy"] == 2
    assert report["dropped"] == {"contempt (extra_classes='drop')": 1}
    assert report["corrupt"] == {"some/file.png": "truncated"}
    assert "neutral" in report["absent_classes"]
