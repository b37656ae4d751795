"""Decode cache: each image is decoded once to uint8 and kept in memory or on disk."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torchvision.transforms.v2 import functional as F

from dafw.data.errors import CorruptImageError, DataError
from dafw.data.sources import ImageSource

logger = logging.getLogger("dafw")

CacheMode = Literal["auto", "memory", "disk", "none"]
CACHE_MODES: tuple[str, ...] = ("auto", "memory", "disk", "none")
CACHE_DIR_ENV = "DAFW_CACHE_DIR"
DEFAULT_MEMORY_LIMIT_BYTES = 1 << 30

# Called as progress(done, total) while a split is decoded.
ProgressCallback = Callable[[int, int], None]

_SHARD_INDEX_VERSION = 1
_STALE_TEMP_SECONDS = 24 * 3600


def default_cache_dir() -> Path:
    """Return the disk cache folder: ``$DAFW_CACHE_DIR``, else ``$XDG_CACHE_HOME/dafw/decoded``.

    ``XDG_CACHE_HOME`` defaults to ``~/.cache``.
    """
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "dafw" / "decoded"


def resize_pixels(pixels: np.ndarray, size: int) -> np.ndarray:
    """Resize uint8 ``(H, W, C)`` pixels to ``(size, size, C)``.

    Uses the same antialiased bilinear resize as ``build_transforms``, so resizing here
    and again in the transform gives the same tensor as resizing once.
    """
    if pixels.shape[0] == size and pixels.shape[1] == size:
        return pixels
    tensor = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)
    resized = F.resize(tensor, [size, size], antialias=True)
    return np.ascontiguousarray(resized.permute(1, 2, 0).numpy())


@dataclass(frozen=True)
class _DiskRef:
    """Location of one decoded image inside a shard file."""

    shard: str
    offset: int
    shape: tuple[int, int, int]


class ImageStore:
    """Decoded images of one split, by position; what a dataset reads its pixels from.

    Attributes:
        keys (list[str]): Keys of the images the store serves, in order; undecodable images
            skipped with ``skip_corrupt`` are not among them.
        failed (dict[str, str]): Skipped undecodable images and their errors.
        mode (str): ``memory``, ``disk``, ``mixed`` or ``none``.
    """

    def __init__(self, keys: list[str], failed: dict[str, str], mode: str) -> None:
        self.keys = keys
        self.failed = failed
        self.mode = mode

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> np.ndarray:
        raise NotImplementedError


class DirectStore(ImageStore):
    """Decodes every image again on each access; the ``none`` cache mode."""

    def __init__(
        self, source: ImageSource, keys: list[str], failed: dict[str, str], size: int | None
    ) -> None:
        super().__init__(keys, failed, "none")
        self.source = source
        self.size = size

    def __getitem__(self, index: int) -> np.ndarray:
        pixels = self.source.load(self.keys[index])
        return resize_pixels(pixels, self.size) if self.size else pixels


class CachedStore(ImageStore):
    """Serves images decoded once, held as arrays in memory or as slices of shard files."""

    def __init__(
        self,
        keys: list[str],
        failed: dict[str, str],
        entries: list[np.ndarray | _DiskRef],
        directory: Path | None,
    ) -> None:
        in_memory = sum(isinstance(entry, np.ndarray) for entry in entries)
        if in_memory == len(entries):
            mode = "memory"
        else:
            mode = "disk" if in_memory == 0 else "mixed"
        super().__init__(keys, failed, mode)
        self.entries = entries
        self.directory = directory
        self._maps: dict[str, np.memmap] = {}

    def __getitem__(self, index: int) -> np.ndarray:
        entry = self.entries[index]
        if isinstance(entry, np.ndarray):
            # A copy, so that a caller that edits its array cannot change the cache.
            return entry.copy()
        shard = self._maps.get(entry.shard)
        if shard is None:
            assert self.directory is not None
            shard = np.memmap(self.directory / entry.shard, dtype=np.uint8, mode="r")
            self._maps[entry.shard] = shard
        height, width, channels = entry.shape
        end = entry.offset + height * width * channels
        return np.array(shard[entry.offset : end]).reshape(entry.shape)

    def __getstate__(self) -> dict[str, Any]:
        # Memory maps are reopened lazily in each data-loader worker.
        state = self.__dict__.copy()
        state["_maps"] = {}
        return state


class DecodeCache:
    """Decodes each image once and serves the uint8 pixels from memory or disk.

    Entries are keyed by the source's fingerprint of each image (path, modification time
    and size, plus the row for images inside one file), so a changed file is decoded again
    the next time a split is opened. Images are stored at native size unless ``size`` is
    set, in which case they are stored resized to ``size x size``. Augmentation always
    runs on the cached pixels, never on stored results.

    Modes:

    - ``memory``: arrays in this process, shared by every split opened through this cache.
    - ``disk``: shard files under ``directory``, reused by later runs.
    - ``auto``: memory until the decoded pixels of one split pass ``memory_limit_bytes``,
      then the split continues, and is kept, on disk.
    - ``none``: no cache, each access decodes the file again.

    Args:
        mode (str): One of ``CACHE_MODES``. Defaults to ``"auto"``.
        directory (Path | None): Disk cache folder. Defaults to ``default_cache_dir()``.
        size (int | None): Store images resized to ``size x size`` pixels to save memory;
            None stores them at native size. Defaults to None.
        memory_limit_bytes (int): Threshold of the ``auto`` mode. Defaults to 1 GiB.

    Attributes:
        decoded (int): Images decoded by this cache so far, for logs and tests.
    """

    def __init__(
        self,
        mode: CacheMode = "auto",
        directory: Path | None = None,
        size: int | None = None,
        memory_limit_bytes: int = DEFAULT_MEMORY_LIMIT_BYTES,
    ) -> None:
        if mode not in CACHE_MODES:
            raise ValueError(
                f"unknown cache mode {mode!r}; expected one of: {', '.join(CACHE_MODES)}"
            )
        if size is not None and size < 1:
            raise ValueError(f"cache size must be a positive number of pixels, got {size}")
        self.mode = mode
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.size = size
        self.memory_limit_bytes = memory_limit_bytes
        self.decoded = 0
        self._memory: dict[str, np.ndarray] = {}

    def __repr__(self) -> str:
        return (
            f"DecodeCache(mode={self.mode!r}, directory={str(self.directory)!r}, "
            f"size={self.size}, in_memory={len(self._memory)})"
        )

    def open(
        self,
        source: ImageSource,
        keys: Sequence[str],
        namespace: str,
        skip_corrupt: bool = False,
        progress: ProgressCallback | None = None,
    ) -> ImageStore:
        """Decode whatever is not cached yet and return a store for ``keys``.

        Args:
            source (ImageSource): Decodes the images.
            keys (Sequence[str]): Keys of the split, in dataset order.
            namespace (str): Readable name of the split, such as ``fer2013-train``; the
                disk folder is this name plus a digest of the source identity and size.
            skip_corrupt (bool): Leave out undecodable images and list them in the store's
                ``failed``, instead of raising. Defaults to False.
            progress (ProgressCallback | None): Called as ``progress(done, total)``.
                Defaults to None.

        Returns:
            ImageStore: Pixels by position, for the keys that decoded.

        Raises:
            CorruptImageError: An image cannot be decoded and ``skip_corrupt`` is off.
            DataError: An image file is missing.
        """
        if self.mode == "none":
            return self._open_direct(source, list(keys), skip_corrupt, progress)

        folder = self.directory / _folder_name(namespace, source.identity, self.size)
        index = _read_disk_index(folder) if self.mode in ("disk", "auto") else {}
        writer = _ShardWriter(folder) if self.mode != "memory" else None

        try:
            kept_keys, fingerprints, entries, failed = self._fill(
                source, keys, index, writer, skip_corrupt, progress
            )
        except BaseException:
            if writer is not None:
                writer.abort()
            raise

        if writer is not None:
            writer.close()
            _remove_stale_shards(folder, set(fingerprints), keep=writer.name)
        if progress is not None:
            progress(len(keys), len(keys))
        logger.debug(
            "opened %s: %d images, %d skipped as corrupt, cache mode %s",
            namespace,
            len(kept_keys),
            len(failed),
            self.mode,
        )
        return CachedStore(kept_keys, failed, entries, folder)

    def _fill(
        self,
        source: ImageSource,
        keys: Sequence[str],
        index: dict[str, _DiskRef],
        writer: _ShardWriter | None,
        skip_corrupt: bool,
        progress: ProgressCallback | None,
    ) -> tuple[list[str], list[str], list[np.ndarray | _DiskRef], dict[str, str]]:
        """Find or decode every image of ``keys``.

        Returns:
            tuple: Kept keys, their fingerprints, their entries, and the skipped failures.
        """
        kept_keys: list[str] = []
        fingerprints: list[str] = []
        entries: list[np.ndarray | _DiskRef] = []
        failed: dict[str, str] = {}
        spilled = self.mode == "disk"
        memory_bytes = 0
        for done, key in enumerate(keys, start=1):
            fingerprint = source.fingerprint(key)
            entry: np.ndarray | _DiskRef | None = self._memory.get(fingerprint)
            if entry is None:
                entry = index.get(fingerprint)
            if entry is None:
                pixels = self._decode(source, key, skip_corrupt, failed)
                if pixels is None:
                    continue
                over_limit = memory_bytes + pixels.nbytes > self.memory_limit_bytes
                if self.mode == "auto" and not spilled and over_limit:
                    spilled = True
                    self._spill(writer, fingerprints, entries)
                if spilled:
                    assert writer is not None
                    entry = writer.append(fingerprint, pixels)
                else:
                    entry = pixels
                    self._memory[fingerprint] = pixels
                if progress is not None:
                    progress(done, len(keys))
            if isinstance(entry, np.ndarray):
                memory_bytes += entry.nbytes
            kept_keys.append(key)
            fingerprints.append(fingerprint)
            entries.append(entry)
        return kept_keys, fingerprints, entries, failed

    def clear_memory(self) -> None:
        """Drop every array held in memory."""
        self._memory.clear()

    def _decode(
        self, source: ImageSource, key: str, skip_corrupt: bool, failed: dict[str, str]
    ) -> np.ndarray | None:
        try:
            pixels = source.load(key)
        except CorruptImageError as error:
            if not skip_corrupt:
                raise
            logger.warning("skipping undecodable image %s: %s", key, error.reason)
            failed[key] = error.reason
            return None
        self.decoded += 1
        return resize_pixels(pixels, self.size) if self.size else pixels

    def _spill(
        self,
        writer: _ShardWriter | None,
        fingerprints: list[str],
        entries: list[np.ndarray | _DiskRef],
    ) -> None:
        """Move the arrays decoded so far for this split from memory to the shard file."""
        assert writer is not None
        logger.info(
            "decoded images pass %d MiB; caching the rest of this split on disk under %s",
            self.memory_limit_bytes >> 20,
            writer.folder,
        )
        for position, (fingerprint, entry) in enumerate(zip(fingerprints, entries, strict=True)):
            if isinstance(entry, np.ndarray):
                entries[position] = writer.append(fingerprint, entry)
                self._memory.pop(fingerprint, None)

    def _open_direct(
        self,
        source: ImageSource,
        keys: list[str],
        skip_corrupt: bool,
        progress: ProgressCallback | None,
    ) -> ImageStore:
        failed: dict[str, str] = {}
        if skip_corrupt:
            # Without a cache, finding the undecodable images needs one decoding pass.
            for done, key in enumerate(keys, start=1):
                self._decode(source, key, skip_corrupt, failed)
                if progress is not None:
                    progress(done, len(keys))
            keys = [key for key in keys if key not in failed]
        return DirectStore(source, keys, failed, self.size)


class _ShardWriter:
    """Appends decoded images to a new shard file; the file is created on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.name = f"shard-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
        self._file: Any = None
        self._offset = 0
        self._index: dict[str, list[int]] = {}

    def append(self, fingerprint: str, pixels: np.ndarray) -> _DiskRef:
        if self._file is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._file = open(self.folder / f"{self.name}.bin.tmp", "wb")  # noqa: SIM115
        pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
        self._file.write(pixels.tobytes())
        height, width, channels = pixels.shape
        ref = _DiskRef(f"{self.name}.bin", self._offset, (height, width, channels))
        self._index[fingerprint] = [self._offset, height, width, channels]
        self._offset += pixels.nbytes
        return ref

    def abort(self) -> None:
        """Close and delete the unfinished shard file, if one was started."""
        if self._file is None:
            return
        self._file.close()
        self._file = None
        (self.folder / f"{self.name}.bin.tmp").unlink(missing_ok=True)

    def close(self) -> None:
        """Publish the shard: the index file is written last and marks it complete."""
        if self._file is None:
            return
        self._file.close()
        self._file = None
        os.replace(self.folder / f"{self.name}.bin.tmp", self.folder / f"{self.name}.bin")
        index_tmp = self.folder / f"{self.name}.json.tmp"
        index_tmp.write_text(json.dumps({"version": _SHARD_INDEX_VERSION, "entries": self._index}))
        os.replace(index_tmp, self.folder / f"{self.name}.json")


def _folder_name(namespace: str, identity: str, size: int | None) -> str:
    readable = re.sub(r"[^A-Za-z0-9_.-]+", "_", namespace)[:80]
    digest = hashlib.sha256(f"{identity}\0{size}".encode()).hexdigest()[:12]
    return f"{readable}-{digest}"


def _read_disk_index(folder: Path) -> dict[str, _DiskRef]:
    """Read the indexes of the complete shards in ``folder``; unreadable ones are ignored."""
    index: dict[str, _DiskRef] = {}
    if not folder.is_dir():
        return index
    for index_path in sorted(folder.glob("shard-*.json")):
        shard = index_path.with_suffix(".bin")
        try:
            data = json.loads(index_path.read_text())
            entries = data["entries"] if data.get("version") == _SHARD_INDEX_VERSION else {}
            size = shard.stat().st_size
        except (OSError, ValueError, KeyError, AttributeError) as error:
            logger.warning("ignoring unreadable cache shard %s: %s", index_path, error)
            continue
        for fingerprint, (offset, height, width, channels) in entries.items():
            if offset + height * width * channels <= size:
                index[fingerprint] = _DiskRef(shard.name, offset, (height, width, channels))
    return index


def _remove_stale_shards(folder: Path, live: set[str], keep: str) -> None:
    """Delete shards none of whose images belong to the split any more, and old temp files."""
    # NOTE: a concurrent run on the same cache folder fails if it opens a shard removed here.
    # Runs that share a folder should not change the dataset files meanwhile.
    if not folder.is_dir():
        return
    for index_path in folder.glob("shard-*.json"):
        if index_path.stem == keep:
            continue
        try:
            entries = json.loads(index_path.read_text()).get("entries", {})
        except (OSError, ValueError, AttributeError):
            continue
        if live.isdisjoint(entries):
            logger.debug("removing stale cache shard %s", index_path.with_suffix(".bin"))
            index_path.unlink(missing_ok=True)
            index_path.with_suffix(".bin").unlink(missing_ok=True)
    now = time.time()
    for temp in folder.glob("shard-*.tmp"):
        # Left behind by a run that stopped while writing; a day is far longer than a write.
        try:
            if now - temp.stat().st_mtime > _STALE_TEMP_SECONDS:
                temp.unlink(missing_ok=True)
        except OSError:
            continue


def ensure_cache(cache: DecodeCache | str | None) -> DecodeCache:
    """Return ``cache`` as a ``DecodeCache``: a mode name builds one, None means ``none``.

    Raises:
        DataError: ``cache`` is an unknown mode name.
    """
    if isinstance(cache, DecodeCache):
        return cache
    if cache is None:
        return DecodeCache("none")
    if cache not in CACHE_MODES:
        raise DataError(f"unknown cache mode {cache!r}; expected one of: {', '.join(CACHE_MODES)}")
    return DecodeCache(cache)  # type: ignore[arg-type]
