"""Torch datasets over a reader split: labelled for source and test, label-free for adaptation."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from dafw.data.cache import CachedStore, DecodeCache, ImageStore, ProgressCallback, ensure_cache
from dafw.data.errors import DataError
from dafw.data.reader import DatasetReader

Transform = Callable[[np.ndarray], torch.Tensor]


def pixels_to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """Turn uint8 ``(H, W, C)`` pixels into a uint8 ``(C, H, W)`` tensor, without scaling."""
    return torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1).contiguous()


def _open_split(
    reader: DatasetReader,
    split: str,
    cache: DecodeCache,
    skip_corrupt: bool,
    progress: ProgressCallback | None,
) -> tuple[ImageStore, dict[str, int]]:
    """Decode ``split`` through ``cache``; return the store and the label of every key."""
    samples = reader.samples(split)
    if not samples:
        raise DataError(f"split {split!r} of dataset {reader.name!r} at {reader.root} is empty")
    store = cache.open(
        reader.image_source(),
        [sample.key for sample in samples],
        namespace=f"{reader.name}-{split}",
        skip_corrupt=skip_corrupt,
        progress=progress,
    )
    for key, reason in store.failed.items():
        reader.record_corrupt(key, reason)
    if not len(store):
        raise DataError(
            f"no image of split {split!r} of dataset {reader.name!r} could be decoded; "
            f"first error: {next(iter(store.failed.items()))}"
        )
    return store, {sample.key: sample.label for sample in samples}


def content_order(store: ImageStore, seed: int) -> list[int]:
    """Return the positions of ``store`` sorted by a ``seed``-keyed hash of each image.

    Identical images get the same hash, and their relative order cannot matter.
    """
    key = seed.to_bytes(8, "little", signed=True)
    digests = []
    for position in range(len(store)):
        pixels = store[position]
        digest = hashlib.blake2b(str(pixels.shape).encode(), key=key, digest_size=16)
        digest.update(pixels.tobytes())
        digests.append(digest.digest())
    return sorted(range(len(store)), key=digests.__getitem__)


class LabelledDataset(Dataset):
    """``(image, label)`` items of one reader split, for the source and for test splits.

    Args:
        reader (DatasetReader): Dataset to read.
        split (str): Split name, one of ``reader.splits()``.
        transform (Transform | None): Maps uint8 ``(H, W, C)`` pixels to a tensor, such as
            ``build_transforms(train=True)``. None gives uint8 ``(C, H, W)`` tensors.
            Defaults to None.
        cache (DecodeCache | str | None): A cache, a mode name for a new one, or None for
            decoding on every access. Defaults to None.
        skip_corrupt (bool): Leave out undecodable images and record them in the reader's
            report, instead of raising. Defaults to False.
        progress (ProgressCallback | None): Called as ``progress(done, total)`` while
            images are decoded. Defaults to None.

    Attributes:
        keys (list[str]): Sample key of every item, in order.
        labels (list[int]): Label of every item, indexing ``classes``.
        classes (tuple[str, ...]): Class names of the reader.

    Raises:
        DataError: The split is unknown, empty, or contains no decodable image.
        CorruptImageError: An image cannot be decoded and ``skip_corrupt`` is off.
    """

    def __init__(
        self,
        reader: DatasetReader,
        split: str,
        transform: Transform | None = None,
        cache: DecodeCache | str | None = None,
        skip_corrupt: bool = False,
        progress: ProgressCallback | None = None,
    ) -> None:
        store, label_of = _open_split(reader, split, ensure_cache(cache), skip_corrupt, progress)
        self.store = store
        self.transform = transform
        self.split = split
        self.dataset = reader.name
        self.classes = tuple(reader.classes)
        self.keys = list(store.keys)
        self.labels = [label_of[key] for key in self.keys]

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        pixels = self.store[index]
        image = self.transform(pixels) if self.transform is not None else pixels_to_tensor(pixels)
        return image, self.labels[index]

    def __repr__(self) -> str:
        return (
            f"LabelledDataset({self.dataset!r}, split={self.split!r}, items={len(self)}, "
            f"cache={self.store.mode!r})"
        )


class UnlabelledDataset(Dataset):
    """Image-only items of one reader split: the target adaptation set.

    The dataset keeps no label, no reader, no sample key and no file path: file paths of
    folder-per-class datasets name the class, so the images are decoded into the cache up
    front and only the cached pixels are kept. Readers list folder-per-class datasets class by
    class, so items are ordered by a seeded hash of their pixels instead. The order depends on
    the image content and ``order_seed`` only, never on labels, paths or the listing order.

    Args:
        reader (DatasetReader): Dataset to read; only its images are used.
        split (str): Split name, one of ``reader.splits()``.
        transform (Transform | None): Maps uint8 ``(H, W, C)`` pixels to a tensor. None
            gives uint8 ``(C, H, W)`` tensors. Defaults to None.
        cache (DecodeCache | str): A cache or a mode name for a new one; ``"none"`` is
            rejected, for the reason above. Defaults to ``"auto"``.
        skip_corrupt (bool): Leave out undecodable images and record them in the reader's
            report, instead of raising. Defaults to False.
        progress (ProgressCallback | None): Called as ``progress(done, total)`` while
            images are decoded. Defaults to None.
        order_seed (int): Seed of the hash that orders the items. Defaults to 0.

    Raises:
        DataError: The cache mode is ``none``, or the split is unknown, empty, or holds no
            decodable image.
        CorruptImageError: An image cannot be decoded and ``skip_corrupt`` is off.
    """

    def __init__(
        self,
        reader: DatasetReader,
        split: str,
        transform: Transform | None = None,
        cache: DecodeCache | str = "auto",
        skip_corrupt: bool = False,
        progress: ProgressCallback | None = None,
        order_seed: int = 0,
    ) -> None:
        cache = ensure_cache(cache)
        if cache.mode == "none":
            raise DataError(
                f"the unlabelled adaptation set ({reader.name!r}, split {split!r}) needs a "
                "decode cache, because without one it would keep file paths, which name the "
                "class in folder-per-class datasets; use cache 'auto', 'memory' or 'disk'"
            )
        store, _ = _open_split(reader, split, cache, skip_corrupt, progress)
        assert isinstance(store, CachedStore)
        order = content_order(store, order_seed)
        self._store = CachedStore(
            keys=[str(position) for position in range(len(store))],
            failed={},
            entries=[store.entries[i] for i in order],
            directory=store.directory,
        )
        self.transform = transform
        self.split = split
        self.dataset = reader.name

    def __len__(self) -> int:
        return len(self._store)

    def __getitem__(self, index: int) -> torch.Tensor:
        pixels = self._store[index]
        return self.transform(pixels) if self.transform is not None else pixels_to_tensor(pixels)

    def __repr__(self) -> str:
        return (
            f"UnlabelledDataset({self.dataset!r}, split={self.split!r}, items={len(self)}, "
            f"cache={self._store.mode!r})"
        )
