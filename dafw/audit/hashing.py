"""Image fingerprints: SHA-256 of bytes, and 64-bit perceptual hashes compared in bits."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache
from typing import Literal

import numpy as np
from PIL import Image

PerceptualMethod = Literal["dhash", "phash"]
PERCEPTUAL_METHODS: tuple[str, ...] = ("dhash", "phash")
HASH_BITS = 64

# The DCT of pHash runs on this many pixels per side; its low 8 x 8 frequencies make the hash.
_PHASH_SIDE = 32
_BIT_WEIGHTS = np.uint64(1) << np.arange(HASH_BITS, dtype=np.uint64)[::-1]
_BYTE_POPCOUNT = np.array([bin(value).count("1") for value in range(256)], dtype=np.uint8)


def sha256_hex(data: bytes) -> str:
    """Return the SHA-256 digest of ``data`` in hex."""
    return hashlib.sha256(data).hexdigest()


def pixel_digest(pixels: np.ndarray) -> str:
    """Return the SHA-256 of an image's shape and uint8 pixel bytes.

    Two files whose decoded pixels are equal get the same digest, even when their file
    bytes differ (another PNG compression level, other metadata).
    """
    contiguous = np.ascontiguousarray(pixels, dtype=np.uint8)
    return sha256_hex(f"{contiguous.shape}".encode() + contiguous.tobytes())


def to_grey(pixels: np.ndarray) -> Image.Image:
    """Convert uint8 ``(H, W)`` or ``(H, W, C)`` pixels, C in {1, 3}, to a PIL grey image."""
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.ndim == 2:
        return Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), mode="L")
    if pixels.ndim == 3 and pixels.shape[2] == 3:
        return Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), mode="RGB").convert(
            "L"
        )
    raise ValueError(f"expected pixels of shape (H, W), (H, W, 1) or (H, W, 3), got {pixels.shape}")


def bits_to_int(bits: np.ndarray) -> int:
    """Pack 64 booleans, most significant first, into an unsigned integer."""
    flat = np.asarray(bits, dtype=bool).ravel()
    if flat.size != HASH_BITS:
        raise ValueError(f"a hash needs {HASH_BITS} bits, got {flat.size}")
    return int((flat.astype(np.uint64) * _BIT_WEIGHTS).sum(dtype=np.uint64))


def dhash(pixels: np.ndarray) -> int:
    """Return the 64-bit difference hash (dHash) of an image.

    The grey image is shrunk to 9 x 8 pixels with an area-averaging filter. Bit ``(r, c)`` is
    set when pixel ``(r, c + 1)`` is brighter than pixel ``(r, c)``. Because the hash reads
    only coarse gradients, resizing and re-encoding change few of its bits.

    Args:
        pixels (np.ndarray): uint8 ``(H, W)`` or ``(H, W, C)``, C in {1, 3}.
    """
    small = to_grey(pixels).resize((9, 8), Image.Resampling.BOX)
    values = np.asarray(small, dtype=np.int16)
    return bits_to_int(values[:, 1:] > values[:, :-1])


@cache
def _dct_matrix(side: int) -> np.ndarray:
    """Return the orthonormal DCT-II matrix ``M`` of size ``side``: ``M @ x`` transforms ``x``."""
    rows = np.arange(side)[:, None]
    columns = np.arange(side)[None, :]
    matrix = np.cos(np.pi * (2 * columns + 1) * rows / (2 * side)) * np.sqrt(2.0 / side)
    matrix[0, :] = np.sqrt(1.0 / side)
    return matrix


def phash(pixels: np.ndarray) -> int:
    """Return the 64-bit DCT perceptual hash (pHash) of an image.

    The grey image is shrunk to 32 x 32 pixels and transformed with a 2-D DCT-II, and the
    8 x 8 lowest frequencies are kept. Bit ``(u, v)`` is set when coefficient ``(u, v)`` is
    above the median of those coefficients. The constant term ``(0, 0)`` only measures the
    mean brightness, so it is left out of the median and its bit is always 0. A flat image
    gives the hash 0.

    Args:
        pixels (np.ndarray): uint8 ``(H, W)`` or ``(H, W, C)``, C in {1, 3}.
    """
    small = to_grey(pixels).resize((_PHASH_SIDE, _PHASH_SIDE), Image.Resampling.BOX)
    values = np.asarray(small, dtype=np.float64)
    transform = _dct_matrix(_PHASH_SIDE)
    low = (transform @ values @ transform.T)[:8, :8]
    # Rounding keeps the float noise of a flat image from setting bits at random.
    low = np.round(low, 6)
    bits = low > np.median(low.ravel()[1:])
    bits[0, 0] = False
    return bits_to_int(bits)


def perceptual_hasher(method: PerceptualMethod) -> Callable[[np.ndarray], int]:
    """Return ``dhash`` or ``phash`` by name.

    Raises:
        ValueError: ``method`` is neither.
    """
    if method == "dhash":
        return dhash
    if method == "phash":
        return phash
    raise ValueError(
        f"unknown perceptual hash {method!r}; expected one of: {', '.join(PERCEPTUAL_METHODS)}"
    )


def hamming_distance(first: int, second: int) -> int:
    """Return the number of bits in which two 64-bit hashes differ."""
    return (first ^ second).bit_count()


def popcount(values: np.ndarray) -> np.ndarray:
    """Return the number of set bits of every uint64 in ``values``, as uint8.

    Uses ``np.bitwise_count`` (NumPy 2.0 and later), else a lookup table over the 8 bytes.
    """
    values = np.ascontiguousarray(values, dtype=np.uint64)
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(values)
    return popcount_by_bytes(values)


def popcount_by_bytes(values: np.ndarray) -> np.ndarray:
    """Return the set bits of every uint64 in ``values`` by summing a table over its bytes."""
    values = np.ascontiguousarray(values, dtype=np.uint64)
    per_byte = _BYTE_POPCOUNT[values.view(np.uint8).reshape(*values.shape, 8)]
    return per_byte.sum(axis=-1, dtype=np.uint8)


def nearest_hashes(
    queries: np.ndarray, references: np.ndarray, chunk: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Find, for every query hash, the reference hash at the smallest Hamming distance.

    Every pair is compared, in chunks of ``chunk`` queries so that memory stays at
    ``chunk * len(references)`` bytes per step.

    Args:
        queries (np.ndarray): ``(Q,)`` uint64 hashes.
        references (np.ndarray): ``(R,)`` uint64 hashes, ``R >= 1``.
        chunk (int): Queries compared per step. Defaults to 256.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(Q,)`` int64 positions of the nearest references
        (the first one on a tie) and ``(Q,)`` int64 distances in bits.

    Raises:
        ValueError: ``references`` is empty.
    """
    queries = np.asarray(queries, dtype=np.uint64)
    references = np.asarray(references, dtype=np.uint64)
    if references.size == 0:
        raise ValueError("cannot search an empty set of reference hashes")

    positions = np.zeros(queries.size, dtype=np.int64)
    distances = np.zeros(queries.size, dtype=np.int64)
    for start in range(0, queries.size, chunk):
        block = queries[start : start + chunk]
        counts = popcount(block[:, None] ^ references[None, :])
        nearest = counts.argmin(axis=1)
        positions[start : start + chunk] = nearest
        distances[start : start + chunk] = counts[np.arange(block.size), nearest]
    return positions, distances
