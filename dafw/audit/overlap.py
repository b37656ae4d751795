"""Data overlap: byte-identical and near-identical images shared by two dataset splits."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dafw.audit.hashing import (
    PerceptualMethod,
    nearest_hashes,
    perceptual_hasher,
    pixel_digest,
    sha256_hex,
)
from dafw.data import CorruptImageError, DataError, DatasetReader

logger = logging.getLogger("dafw")

# Nearest-distance bounds reported as a profile, in bits of a 64-bit hash.
DISTANCE_PROFILE: tuple[int, ...] = (0, 2, 4, 6, 8)
MAX_EXAMPLES = 5


@dataclass
class SplitHashes:
    """Fingerprints of every decodable image of one dataset split.

    Attributes:
        name (str): The split in reports, such as ``target jaffe (all)``.
        keys (list[str]): Sample keys, in the reader's order.
        file_digests (list[str]): SHA-256 of the bytes that define each image: the file
            bytes for file datasets, the pixel bytes for datasets held in one array.
        pixel_digests (list[str]): SHA-256 of the decoded pixels and their shape.
        perceptual (np.ndarray): ``(N,)`` uint64 perceptual hashes.
        method (str): ``dhash`` or ``phash``.
        unreadable (dict[str, str]): Images that could not be read, with the error.
    """

    name: str
    keys: list[str]
    file_digests: list[str]
    pixel_digests: list[str]
    perceptual: np.ndarray
    method: str
    unreadable: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.keys)


def hash_split(
    reader: DatasetReader,
    split: str,
    method: PerceptualMethod,
    name: str,
    progress: Callable[[int, int], None] | None = None,
) -> SplitHashes:
    """Decode every image of ``split`` once and fingerprint it.

    The images are read at their stored resolution through the reader, without the
    recipe's resize, so the hashes describe the dataset files themselves.

    Args:
        reader (DatasetReader): Reader of the dataset.
        split (str): Split name.
        method (str): Perceptual hash, ``dhash`` or ``phash``.
        name (str): The split in reports.
        progress (Callable[[int, int], None] | None): Called as ``progress(done, total)``.

    Raises:
        DataError: ``split`` is unknown.
    """
    hasher = perceptual_hasher(method)
    source = reader.image_source()
    samples = reader.samples(split)
    keys: list[str] = []
    file_digests: list[str] = []
    pixel_digests: list[str] = []
    perceptual: list[int] = []
    unreadable: dict[str, str] = {}

    for done, sample in enumerate(samples, start=1):
        try:
            content = source.content_bytes(sample.key)
            pixels = reader.load(sample)
        except (CorruptImageError, DataError) as error:
            unreadable[sample.key] = str(error)
            continue
        keys.append(sample.key)
        file_digests.append(sha256_hex(content))
        pixel_digests.append(pixel_digest(pixels))
        perceptual.append(hasher(pixels))
        if progress is not None:
            progress(done, len(samples))

    if unreadable:
        logger.warning(
            "%s: %d image(s) could not be read and are not compared", name, len(unreadable)
        )
    return SplitHashes(
        name=name,
        keys=keys,
        file_digests=file_digests,
        pixel_digests=pixel_digests,
        perceptual=np.asarray(perceptual, dtype=np.uint64),
        method=method,
        unreadable=unreadable,
    )


@dataclass
class OverlapResult:
    """Images of a query split that also appear in a reference split.

    Counts are of query images: an image with several copies in the reference counts once.

    Attributes:
        reference (str): The split searched, such as the source training split.
        query (str): The split whose images are looked up, such as a target test split.
        reference_images (int): Readable images of the reference.
        query_images (int): Readable images of the query.
        identical_files (int): Query images whose file bytes equal a reference image's.
        identical_pixels (int): Query images whose decoded pixels equal a reference image's.
        near_identical (int): Query images with a reference image within ``max_distance``
            bits of perceptual hash; the exact copies are among them.
        max_distance (int): Hamming threshold of ``near_identical``, in bits.
        method (str): Perceptual hash used.
        distance_profile (dict[str, int]): Query images whose nearest reference hash is at
            most ``d`` bits away, for each ``d`` of ``DISTANCE_PROFILE``.
        examples (list[dict[str, Any]]): A few matched pairs: query key, reference key,
            distance in bits and whether the pixels are identical.
        same_split (bool): Reference and query are the same split of the same dataset.
    """

    reference: str
    query: str
    reference_images: int
    query_images: int
    identical_files: int
    identical_pixels: int
    near_identical: int
    max_distance: int
    method: str
    distance_profile: dict[str, int] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)
    same_split: bool = False

    def fraction(self, count: int) -> float:
        """Return ``count`` as a fraction of the query images (0 for an empty query)."""
        return count / self.query_images if self.query_images else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return the result as plain JSON-compatible data, fractions included."""
        return {
            "reference": self.reference,
            "query": self.query,
            "same_split": self.same_split,
            "reference_images": self.reference_images,
            "query_images": self.query_images,
            "identical_files": self.identical_files,
            "identical_pixels": self.identical_pixels,
            "near_identical": self.near_identical,
            "identical_files_fraction": self.fraction(self.identical_files),
            "identical_pixels_fraction": self.fraction(self.identical_pixels),
            "near_identical_fraction": self.fraction(self.near_identical),
            "method": self.method,
            "max_distance_bits": self.max_distance,
            "distance_profile": self.distance_profile,
            "examples": self.examples,
        }


def compare_splits(
    reference: SplitHashes, query: SplitHashes, max_distance: int, same_split: bool = False
) -> OverlapResult:
    """Count the query images that have an identical or near-identical reference image.

    Args:
        reference (SplitHashes): The split searched.
        query (SplitHashes): The split whose images are looked up.
        max_distance (int): Largest Hamming distance, in bits, that counts as near-identical.
        same_split (bool): The two are one split, so every image matches itself; the
            result then reports full overlap without comparing. Defaults to False.

    Raises:
        ValueError: The two were hashed with different perceptual methods, or
            ``max_distance`` is outside ``[0, 64]``.
    """
    if reference.method != query.method:
        raise ValueError(
            f"cannot compare {reference.method} hashes of {reference.name} with "
            f"{query.method} hashes of {query.name}"
        )
    if not 0 <= max_distance <= 64:
        raise ValueError(f"max_distance must be in [0, 64] bits, got {max_distance}")

    result = OverlapResult(
        reference=reference.name,
        query=query.name,
        reference_images=len(reference),
        query_images=len(query),
        identical_files=0,
        identical_pixels=0,
        near_identical=0,
        max_distance=max_distance,
        method=query.method,
        same_split=same_split,
    )
    if same_split:
        count = len(query)
        result.identical_files = result.identical_pixels = result.near_identical = count
        result.distance_profile = {f"<={bound}": count for bound in DISTANCE_PROFILE}
        return result
    if not len(reference) or not len(query):
        result.distance_profile = {f"<={bound}": 0 for bound in DISTANCE_PROFILE}
        return result

    file_index = {digest: position for position, digest in enumerate(reference.file_digests)}
    pixel_index = {digest: position for position, digest in enumerate(reference.pixel_digests)}
    identical_files = np.array([digest in file_index for digest in query.file_digests])
    identical_pixels = np.array([digest in pixel_index for digest in query.pixel_digests])
    nearest, distances = nearest_hashes(query.perceptual, reference.perceptual)
    # An identical copy always hashes identically, but checking keeps the count exact even
    # for a hash collision that the perceptual hash would miss.
    near = (distances <= max_distance) | identical_pixels

    result.identical_files = int(identical_files.sum())
    result.identical_pixels = int(identical_pixels.sum())
    result.near_identical = int(near.sum())
    result.distance_profile = {
        f"<={bound}": int((distances <= bound).sum()) for bound in DISTANCE_PROFILE
    }
    result.examples = _examples(reference, query, near, nearest, distances, pixel_index)
    return result


def _examples(
    reference: SplitHashes,
    query: SplitHashes,
    near: np.ndarray,
    nearest: np.ndarray,
    distances: np.ndarray,
    pixel_index: dict[str, int],
) -> list[dict[str, Any]]:
    """Return up to ``MAX_EXAMPLES`` matched pairs, identical ones first."""
    matched = np.flatnonzero(near)
    order = sorted(matched.tolist(), key=lambda position: (int(distances[position]), position))
    examples = []
    for position in order[:MAX_EXAMPLES]:
        digest = query.pixel_digests[position]
        if digest in pixel_index:
            partner, distance, identical = pixel_index[digest], 0, True
        else:
            partner, distance, identical = int(nearest[position]), int(distances[position]), False
        examples.append(
            {
                "query": query.keys[position],
                "reference": reference.keys[partner],
                "distance_bits": distance,
                "identical_pixels": identical,
            }
        )
    return examples
