"""Digits quick-start dataset: splits, shifts, complementary subsets, distinct domains."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from dafw.data import DatasetReader
from tests.fixtures_data import build_reader


def arrays(reader: DatasetReader, split: str) -> tuple[np.ndarray, np.ndarray]:
    samples = reader.samples(split)
    images = np.stack([reader.load(s) for s in samples]).reshape(len(samples), -1)
    return images.astype(np.float64) / 255.0, np.array([s.label for s in samples])


def test_splits_are_stratified_and_complete() -> None:
    reader = build_reader("digits", "/ignored")
    report = reader.report()
    assert reader.classes == tuple("0123456789")
    total = sum(report.counts["train"].values()) + sum(report.counts["test"].values())
    assert total == 1797
    for digit in reader.classes:
        share = report.counts["test"][digit] / (
            report.counts["train"][digit] + report.counts["test"][digit]
        )
        assert abs(share - 0.25) < 0.02
    assert not {s.key for s in reader.samples("train")} & {s.key for s in reader.samples("test")}


def test_images_are_uint8_at_requested_size() -> None:
    reader = build_reader("digits", "/ignored", image_size=16)
    pixels = reader.load(reader.samples("train")[0])
    assert pixels.shape == (16, 16, 1)
    assert pixels.dtype == np.uint8
    assert pixels.max() > 200


def test_root_is_ignored(tmp_path: Path) -> None:
    first = build_reader("digits", tmp_path / "missing")
    second = build_reader("digits", "/")
    assert first.samples("test") == second.samples("test")


@pytest.mark.parametrize("shift", ["rotate", "invert", "noise", "blur"])
def test_shift_changes_pixels_and_fingerprint(shift: str) -> None:
    plain = build_reader("digits", "/ignored")
    shifted = build_reader("digits", "/ignored", shift=shift)
    sample = plain.samples("train")[0]
    assert sample == shifted.samples("train")[0]
    difference = np.abs(plain.load(sample).astype(int) - shifted.load(sample).astype(int)).mean()
    assert difference > 5
    assert plain.source_fingerprint(sample) != shifted.source_fingerprint(sample)


def test_invert_is_exact() -> None:
    plain = build_reader("digits", "/ignored")
    inverted = build_reader("digits", "/ignored", shift="invert")
    sample = plain.samples("test")[3]
    assert np.array_equal(inverted.load(sample), 255 - plain.load(sample))


def test_subsets_are_complementary_halves() -> None:
    first = build_reader("digits", "/ignored", subset="a")
    second = build_reader("digits", "/ignored", subset="b", seed=5)
    count_a = len(first.samples("train")) + len(first.samples("test"))
    count_b = len(second.samples("train")) + len(second.samples("test"))
    assert count_a + count_b == 1797
    assert abs(count_a - count_b) <= 10
    images_a = {
        first.load(s).tobytes() for split in ("train", "test") for s in first.samples(split)
    }
    images_b = {
        second.load(s).tobytes() for split in ("train", "test") for s in second.samples(split)
    }
    assert not images_a & images_b


def test_shifted_target_is_a_distinct_domain() -> None:
    source = build_reader("digits", "/ignored", subset="a", image_size=8)
    target = build_reader(
        "digits", "/ignored", subset="b", shift="rotate", angle=40.0, image_size=8
    )
    plain_target = build_reader("digits", "/ignored", subset="b", image_size=8)

    classifier = LogisticRegression(max_iter=2000).fit(*arrays(source, "train"))
    in_domain = classifier.score(*arrays(plain_target, "test"))
    shifted = classifier.score(*arrays(target, "test"))
    assert in_domain > 0.9
    assert shifted < in_domain - 0.3
