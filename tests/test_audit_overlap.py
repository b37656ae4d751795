"""Tests of the perceptual hashes and of the overlap search between dataset splits."""

from __future__ import annotations

import io
import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from dafw.audit.findings import ADAPTATION_VS_TEST, SOURCE_VS_TEST, TargetAudit, collect_findings
from dafw.audit.hashing import (
    dhash,
    hamming_distance,
    nearest_hashes,
    phash,
    pixel_digest,
    popcount,
    popcount_by_bytes,
)
from dafw.audit.overlap import SplitHashes, compare_splits, hash_split
from dafw.data.factory import open_reader
from dafw.plugins import load_plugins

MAX_DISTANCE = 4


def face_like(seed: int, size: int = 64) -> np.ndarray:
    """Return a grey uint8 image with smooth shading and a few shapes, distinct per seed.

    Perceptual hashes read coarse structure, so fixtures need structure: random noise would
    make every re-encoded copy look like a new image.
    """
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(40, 215, (5, 5)).astype(np.uint8)
    image = Image.fromarray(coarse, mode="L").resize((size, size), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(3):
        x, y = rng.integers(4, size - 20, 2)
        w, h = rng.integers(8, 18, 2)
        draw.ellipse((int(x), int(y), int(x + w), int(y + h)), fill=int(rng.integers(0, 256)))
    return np.asarray(image)


def resized_jpeg(pixels: np.ndarray, size: int, quality: int = 70) -> bytes:
    """Return JPEG bytes of ``pixels`` resized to ``size`` pixels per side."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).resize((size, size), Image.Resampling.BILINEAR).save(
        buffer, "JPEG", quality=quality
    )
    return buffer.getvalue()


def save_png(path: Path, pixels: np.ndarray, compress_level: int = 6) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, compress_level=compress_level)
    return path


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An image-folder dataset whose test split contains planted copies of training images.

    In test/happy:

    - copy_0 and copy_1 are byte copies of train images 0 and 1.
    - resaved_2 has the pixels of train image 2 in another PNG encoding.
    - near_3 and near_4 are train images 3 and 4, resized and re-encoded as JPEG.
    - distinct_100 to distinct_109 are new images.
    """
    root = tmp_path_factory.mktemp("planted")
    train = [save_png(root / "train" / "angry" / f"train_{i}.png", face_like(i)) for i in range(12)]
    test = root / "test" / "happy"
    shutil.copyfile(train[0], save_png(test / "copy_0.png", face_like(0)))
    shutil.copyfile(train[1], test / "copy_1.png")
    save_png(test / "resaved_2.png", face_like(2), compress_level=0)
    (test / "near_3.jpg").write_bytes(resized_jpeg(face_like(3), 48))
    (test / "near_4.jpg").write_bytes(resized_jpeg(face_like(4), 100, quality=60))
    for seed in range(100, 110):
        save_png(test / f"distinct_{seed}.png", face_like(seed))
    return root


@pytest.fixture(scope="module")
def planted_hashes(planted: Path) -> tuple[SplitHashes, SplitHashes]:
    reader = open_reader("image_folder", planted, {}, plugins=load_plugins())
    return (
        hash_split(reader, "train", "phash", "train"),
        hash_split(reader, "test", "phash", "test"),
    )


def test_overlap_counts_planted_copies(planted_hashes):
    train, test = planted_hashes
    result = compare_splits(train, test, MAX_DISTANCE)

    assert result.query_images == 15
    assert result.identical_files == 2
    assert result.identical_pixels == 3
    assert result.near_identical == 5


def test_overlap_examples_name_planted_files(planted_hashes):
    train, test = planted_hashes
    result = compare_splits(train, test, MAX_DISTANCE)
    matched = {
        Path(example["query"]).stem: Path(example["reference"]).stem for example in result.examples
    }

    assert matched == {
        "copy_0": "train_0",
        "copy_1": "train_1",
        "resaved_2": "train_2",
        "near_3": "train_3",
        "near_4": "train_4",
    }


def test_overlap_ignores_distinct_images(planted_hashes):
    train, test = planted_hashes
    distinct = [i for i, key in enumerate(test.keys) if "distinct_" in key]
    subset = SplitHashes(
        name="distinct",
        keys=[test.keys[i] for i in distinct],
        file_digests=[test.file_digests[i] for i in distinct],
        pixel_digests=[test.pixel_digests[i] for i in distinct],
        perceptual=test.perceptual[distinct],
        method=test.method,
    )
    result = compare_splits(train, subset, MAX_DISTANCE)

    assert result.query_images == 10
    assert result.identical_files == 0
    assert result.identical_pixels == 0
    assert result.near_identical == 0
    assert result.examples == []


@pytest.mark.parametrize("hasher", [dhash, phash])
def test_hash_survives_resize_and_jpeg(hasher):
    for seed in range(20):
        pixels = face_like(seed)
        copy = np.asarray(Image.open(io.BytesIO(resized_jpeg(pixels, 100, quality=60))))
        assert hamming_distance(hasher(pixels), hasher(copy)) <= MAX_DISTANCE, seed


@pytest.mark.parametrize("hasher", [dhash, phash])
def test_hash_separates_distinct_images(hasher):
    hashes = [hasher(face_like(seed)) for seed in range(40)]
    distances = [hamming_distance(a, b) for a, b in itertools.combinations(hashes, 2)]

    assert min(distances) > MAX_DISTANCE


def test_hash_of_colour_equals_hash_of_its_grey():
    rgb = np.stack([face_like(7)] * 3, axis=-1)

    assert phash(rgb) == phash(face_like(7))
    assert dhash(rgb[:, :, :1]) == dhash(face_like(7))


def test_phash_of_flat_image_is_zero():
    assert phash(np.full((32, 32), 128, dtype=np.uint8)) == 0


def test_pixel_digest_includes_shape():
    flat = np.zeros((4, 8), dtype=np.uint8)

    assert pixel_digest(flat) != pixel_digest(flat.reshape(8, 4))


def test_nearest_hashes_matches_brute_force():
    rng = np.random.default_rng(0)
    references = rng.integers(0, 2**63, 300, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    queries = references[rng.integers(0, 300, 40)] ^ np.uint64(0b101)
    queries = np.concatenate([queries, rng.integers(0, 2**63, 33, dtype=np.uint64)])
    positions, distances = nearest_hashes(queries, references, chunk=7)

    for query, position, distance in zip(queries, positions, distances, strict=True):
        brute = [hamming_distance(int(query), int(reference)) for reference in references]
        assert distance == min(brute)
        assert position == brute.index(min(brute))
    assert (distances[:40] <= 2).all()


def test_popcount_table_matches_python():
    rng = np.random.default_rng(1)
    values = np.concatenate(
        [
            rng.integers(0, 2**63, 50, dtype=np.uint64) * np.uint64(2),
            np.array([0, 2**64 - 1], dtype=np.uint64),
        ]
    ).reshape(4, 13)
    expected = [[bin(int(value)).count("1") for value in row] for row in values]

    assert popcount_by_bytes(values).tolist() == expected
    assert popcount(values).tolist() == expected


def test_nearest_hashes_rejects_empty_references():
    with pytest.raises(ValueError, match="empty"):
        nearest_hashes(np.zeros(3, dtype=np.uint64), np.zeros(0, dtype=np.uint64))


def test_same_split_is_full_overlap(planted_hashes):
    _, test = planted_hashes
    result = compare_splits(test, test, MAX_DISTANCE, same_split=True)

    assert result.same_split
    assert result.identical_files == result.near_identical == result.query_images == 15


def test_compare_rejects_mixed_methods(planted_hashes):
    train, test = planted_hashes
    other = SplitHashes(
        "d", test.keys, test.file_digests, test.pixel_digests, test.perceptual, "dhash"
    )

    with pytest.raises(ValueError, match="phash"):
        compare_splits(train, other, MAX_DISTANCE)


def test_findings_state_transductive_protocol(planted_hashes):
    train, test = planted_hashes
    audit = TargetAudit("jaffe", "rafdb_to_jaffe", "jaffe", "all", "all", test_images=15)
    audit.overlap = {
        SOURCE_VS_TEST: compare_splits(train, test, MAX_DISTANCE),
        ADAPTATION_VS_TEST: compare_splits(test, test, MAX_DISTANCE, same_split=True),
    }
    findings = {finding.name: finding for finding in collect_findings(audit)}

    assert findings["transductive"].severity == "note"
    assert "all 15 test images" in findings["transductive"].message
    assert findings["identical_source_images"].severity == "flag"
    assert "3 of 15 test images" in findings["identical_source_images"].message
    assert findings["near_identical_source_images"].severity == "note"


def test_findings_flag_identical_images_across_splits(planted_hashes):
    train, test = planted_hashes
    audit = TargetAudit("fer2013", "rafdb_to_fer2013", "fer2013", "train", "test", test_images=15)
    audit.overlap = {ADAPTATION_VS_TEST: compare_splits(train, test, MAX_DISTANCE)}
    findings = {finding.name: finding for finding in collect_findings(audit)}

    assert findings["identical_adaptation_images"].severity == "flag"
    assert "'train'" in findings["identical_adaptation_images"].message
    assert "transductive" not in findings
