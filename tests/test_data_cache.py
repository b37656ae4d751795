"""Decode cache: identical tensors in every mode, mtime keys, disk reuse and spilling."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from dafw.data import (
    CorruptImageError,
    DecodeCache,
    LabelledDataset,
    build_transforms,
    decode_image_file,
)
from tests.fixtures_data import Seeds, build_reader, write_image


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A flat image-folder tree of 9 lossless images of mixed sizes and channel counts."""
    seeds = Seeds()
    root = tmp_path / "images"
    for index in range(9):
        folder = ("happy", "sad", "fear")[index % 3]
        size, channels = (10 + index, 1) if index % 2 else (24, 3)
        write_image(root / folder / f"face_{index}.png", seeds(), size, channels)
    return root


def direct(dataset: LabelledDataset, transform) -> list[torch.Tensor]:  # noqa: ANN001
    return [transform(decode_image_file(Path(key))) for key in dataset.keys]


def touch_later(path: Path, seconds: int = 5) -> None:
    status = path.stat()
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + seconds * 10**9))


@pytest.mark.parametrize("mode", ["memory", "disk", "auto", "none"])
def test_cached_tensors_equal_direct_decoding(tree: Path, tmp_path: Path, mode: str) -> None:
    reader = build_reader("image_folder", tree)
    transform = build_transforms(size=20)
    dataset = LabelledDataset(reader, "all", transform, DecodeCache(mode, tmp_path / "cache"))

    expected = direct(dataset, transform)
    assert len(dataset) == 9
    for index, wanted in enumerate(expected):
        image, label = dataset[index]
        assert torch.equal(image, wanted)
        assert label == dataset.labels[index]


@pytest.mark.parametrize("mode", ["memory", "disk"])
def test_resized_cache_equals_direct_decoding(tree: Path, tmp_path: Path, mode: str) -> None:
    reader = build_reader("image_folder", tree)
    transform = build_transforms(size=16)
    cache = DecodeCache(mode, tmp_path / "cache", size=16)
    dataset = LabelledDataset(reader, "all", transform, cache)

    for index, wanted in enumerate(direct(dataset, transform)):
        assert torch.equal(dataset[index][0], wanted)
    assert dataset.store[0].shape[:2] == (16, 16)


def test_cache_returns_native_pixels(tree: Path, tmp_path: Path) -> None:
    reader = build_reader("image_folder", tree)
    dataset = LabelledDataset(reader, "all", None, DecodeCache("memory"))
    for index, key in enumerate(dataset.keys):
        assert np.array_equal(dataset.store[index], decode_image_file(Path(key)))


def test_memory_cache_redecodes_touched_file(tree: Path) -> None:
    reader = build_reader("image_folder", tree)
    cache = DecodeCache("memory")
    LabelledDataset(reader, "all", cache=cache)
    assert cache.decoded == 9

    LabelledDataset(reader, "all", cache=cache)
    assert cache.decoded == 9

    touch_later(tree / "sad" / "face_1.png")
    LabelledDataset(reader, "all", cache=cache)
    assert cache.decoded == 10


def test_changed_file_is_served_fresh(tree: Path, tmp_path: Path) -> None:
    reader = build_reader("image_folder", tree)
    cache = DecodeCache("disk", tmp_path / "cache")
    before = LabelledDataset(reader, "all", cache=cache)
    path = tree / "happy" / "face_0.png"
    position = before.keys.index(str(path))

    new_pixels = write_image(path, 999, 24, 3)
    touch_later(path)
    after = LabelledDataset(reader, "all", cache=DecodeCache("disk", tmp_path / "cache"))
    assert np.array_equal(after.store[position], new_pixels)
    assert not np.array_equal(before.store[position], new_pixels)


def test_disk_cache_is_reused_by_a_new_cache(tree: Path, tmp_path: Path) -> None:
    reader = build_reader("image_folder", tree)
    first = DecodeCache("disk", tmp_path / "cache")
    LabelledDataset(reader, "all", cache=first)
    assert first.decoded == 9

    second = DecodeCache("disk", tmp_path / "cache")
    dataset = LabelledDataset(reader, "all", cache=second)
    assert second.decoded == 0
    assert dataset.store.mode == "disk"

    touch_later(tree / "fear" / "face_2.png")
    third = DecodeCache("disk", tmp_path / "cache")
    LabelledDataset(reader, "all", cache=third)
    assert third.decoded == 1


def test_stale_shards_are_removed(tree: Path, tmp_path: Path) -> None:
    reader = build_reader("image_folder", tree)
    LabelledDataset(reader, "all", cache=DecodeCache("disk", tmp_path / "cache"))
    for path in tree.rglob("*.png"):
        touch_later(path)
    LabelledDataset(reader, "all", cache=DecodeCache("disk", tmp_path / "cache"))

    shards = list((tmp_path / "cache").rglob("shard-*.bin"))
    indexes = list((tmp_path / "cache").rglob("shard-*.json"))
    assert len(shards) == 1
    assert len(indexes) == 1


def test_auto_spills_to_disk_past_the_limit(tree: Path, tmp_path: Path) -> None:
    reader = build_reader("image_folder", tree)
    transform = build_transforms(size=20)
    cache = DecodeCache("auto", tmp_path / "cache", memory_limit_bytes=2000)
    dataset = LabelledDataset(reader, "all", transform, cache)

    assert dataset.store.mode == "disk"
    assert list((tmp_path / "cache").rglob("shard-*.bin"))
    for index, wanted in enumerate(direct(dataset, transform)):
        assert torch.equal(dataset[index][0], wanted)


def test_auto_stays_in_memory_under_the_limit(tree: Path, tmp_path: Path) -> None:
    reader = build_reader("image_folder", tree)
    dataset = LabelledDataset(reader, "all", cache=DecodeCache("auto", tmp_path / "cache"))
    assert dataset.store.mode == "memory"
    assert not (tmp_path / "cache").exists()


def test_progress_callback_reaches_total(tree: Path) -> None:
    reader = build_reader("image_folder", tree)
    calls: list[tuple[int, int]] = []
    LabelledDataset(
        reader, "all", cache="memory", progress=lambda done, total: calls.append((done, total))
    )
    assert calls[-1] == (9, 9)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_disk_dataset_survives_pickling(tree: Path, tmp_path: Path) -> None:
    reader = build_reader("image_folder", tree)
    dataset = LabelledDataset(
        reader, "all", build_transforms(size=8), DecodeCache("disk", tmp_path / "c")
    )
    dataset[0]  # opens a memory map, which must not be pickled
    copy = pickle.loads(pickle.dumps(dataset))
    for index in range(len(dataset)):
        assert torch.equal(copy[index][0], dataset[index][0])


def test_worker_processes_read_the_disk_cache(tree: Path, tmp_path: Path) -> None:
    reader = build_reader("image_folder", tree)
    dataset = LabelledDataset(
        reader, "all", build_transforms(size=8), DecodeCache("disk", tmp_path / "c")
    )
    loader = DataLoader(dataset, batch_size=3, num_workers=2)
    images = torch.cat([batch for batch, _ in loader])
    assert torch.equal(images, torch.stack([dataset[i][0] for i in range(len(dataset))]))


def test_failed_disk_fill_leaves_no_shard(tree: Path, tmp_path: Path) -> None:
    (tree / "sad" / "face_7.png").write_bytes(b"broken")
    reader = build_reader("image_folder", tree)
    with pytest.raises(CorruptImageError, match="face_7.png"):
        LabelledDataset(reader, "all", cache=DecodeCache("disk", tmp_path / "cache"))
    assert [path.name for path in (tmp_path / "cache").rglob("*") if path.is_file()] == []


def test_unknown_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown cache mode 'ram'"):
        DecodeCache("ram")  # type: ignore[arg-type]
