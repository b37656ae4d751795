"""Tests of the label-isolation check on real and deliberately leaky adaptation sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from dafw.audit.labels import check_adaptation_set
from dafw.data import UnlabelledDataset
from dafw.data.factory import open_reader
from dafw.plugins import load_plugins


def folder_reader(root: Path):
    rng = np.random.default_rng(0)
    for name in ("angry", "happy"):
        folder = root / name
        folder.mkdir(parents=True)
        for index in range(3):
            pixels = rng.integers(0, 256, (10, 10), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{name}_{index}.png")
    return open_reader("image_folder", root, {}, plugins=load_plugins())


class LeakyPairs(Dataset):
    """Returns ``(image, label)`` pairs, as a labelled dataset would."""

    def __init__(self) -> None:
        self.labels = [0, 1, 0]

    def __len__(self) -> int:
        return 3

    def __getitem__(self, index: int):
        return torch.zeros(3, 4, 4), self.labels[index]


class LeakyPaths(Dataset):
    """Returns images only but keeps the file paths, which name the class folder."""

    def __init__(self) -> None:
        self.store = type("Store", (), {})()
        self.store.files = ["/data/fer2013/train/happy/a.jpg", "/data/fer2013/train/sad/b.jpg"]

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> torch.Tensor:
        return torch.zeros(3, 4, 4)


def test_unlabelled_dataset_passes(tmp_path):
    dataset = UnlabelledDataset(folder_reader(tmp_path), "all", cache="memory")
    result = check_adaptation_set(dataset, "fixture")

    assert result.passed, result.problems
    assert result.items_checked == 6
    assert result.size == 6
    assert len(result.checks) == 2


def test_label_pairs_are_flagged():
    result = check_adaptation_set(LeakyPairs(), "leaky")

    assert not result.passed
    assert any("item 0 is a tuple" in problem for problem in result.problems)
    assert any(".labels exists" in problem for problem in result.problems)


def test_kept_paths_are_flagged():
    result = check_adaptation_set(LeakyPaths(), "paths")

    assert not result.passed
    assert any("store.files holds path-like strings" in problem for problem in result.problems)


def test_batched_items_are_flagged():
    class Batched(Dataset):
        def __len__(self) -> int:
            return 1

        def __getitem__(self, index: int) -> torch.Tensor:
            return torch.zeros(2, 3, 4, 4)

    result = check_adaptation_set(Batched(), "batched")

    assert any("not (C, H, W)" in problem for problem in result.problems)
