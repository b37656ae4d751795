"""The dataset readers on the real FER2013, CK+48 and JAFFE folders, when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dafw.data import LabelledDataset
from dafw.data.check import CheckTarget, check_datasets
from tests.conftest import shared_data_root
from tests.fixtures_data import build_reader, installed_plugins

pytestmark = pytest.mark.real_data


def real_root(name: str) -> Path:
    root = shared_data_root() / name
    if not root.is_dir():
        pytest.skip(f"real data folder {root} is absent (set DAFW_SHARED_DATA to point at it)")
    return root


FER_TRAIN = {
    "angry": 3995,
    "disgust": 436,
    "fear": 4097,
    "happy": 7215,
    "neutral": 4965,
    "sad": 4830,
    "surprise": 3171,
}
FER_TEST = {
    "angry": 958,
    "disgust": 111,
    "fear": 1024,
    "happy": 1774,
    "neutral": 1233,
    "sad": 1247,
    "surprise": 831,
}
CK48 = {
    "angry": 135,
    "disgust": 177,
    "fear": 75,
    "happy": 207,
    "sad": 84,
    "surprise": 249,
    "neutral": 0,
}
JAFFE = {
    "angry": 30,
    "disgust": 29,
    "fear": 32,
    "happy": 31,
    "neutral": 30,
    "sad": 31,
    "surprise": 30,
}


def test_fer2013_counts() -> None:
    report = build_reader("fer2013", real_root("fer2013")).report()
    assert report.counts["train"] == {name: FER_TRAIN[name] for name in report.classes}
    assert report.counts["test"] == {name: FER_TEST[name] for name in report.classes}
    assert sum(report.counts["public_test"].values()) == 3589
    assert sum(report.counts["private_test"].values()) == 3589


def test_ckplus48_counts_and_contempt() -> None:
    reader = build_reader("ckplus", real_root("ckplus48"))
    report = reader.report()
    assert report.counts["all"] == CK48
    assert report.dropped == {"contempt (extra_classes='drop')": 54}
    assert report.absent_classes == ["neutral"]

    train = {s.group for s in reader.samples("train")}
    test = {s.group for s in reader.samples("test")}
    assert train.isdisjoint(test)
    assert len(train | test) == 106  # 118 subjects, 12 of whom have only contempt images
    assert len(test) == round(0.2 * 106)


def test_ckplus48_error_policy_rejects_contempt() -> None:
    from dafw.data import DataError

    with pytest.raises(DataError, match="contempt"):
        build_reader("ckplus", real_root("ckplus48"), extra_classes="error")


def test_jaffe_counts_and_palette_images() -> None:
    reader = build_reader("jaffe", real_root("jaffe"))
    report = reader.report()
    assert report.counts["all"] == JAFFE
    assert len({s.group for s in reader.samples("all")}) == 10

    dataset = LabelledDataset(reader, "all", cache="memory")
    assert len(dataset) == 213
    shapes = {dataset.store[i].shape for i in range(len(dataset))}
    assert shapes == {(256, 256, 1)}
    assert all(dataset.store[i].std() > 10 for i in range(len(dataset)))


def test_fer2013_byte_identical_duplicates() -> None:
    target = CheckTarget("fer2013", "fer2013", str(real_root("fer2013")))
    checks, duplicates = check_datasets([target], decode=False, plugins=installed_plugins())
    assert checks[0].error is None
    # Measured on this copy: 1,516 groups, 3,369 images, 531 groups joining train and test.
    assert 1400 <= len(duplicates.groups) <= 1600
    counts = {(str(a), str(b)): n for (a, b), n in duplicates.pair_counts.items()}
    assert counts[("fer2013/test", "fer2013/train")] > 400
    assert counts[("fer2013/train", "fer2013/train")] > 900


def test_fer2013_decodes_as_48x48_grey() -> None:
    reader = build_reader("fer2013", real_root("fer2013"))
    sample = reader.samples("test")[0]
    pixels = reader.load(sample)
    assert pixels.shape == (48, 48, 1)
    assert pixels.dtype == np.uint8
