"""Labelled and unlabelled datasets: items, label isolation, corrupt files, class checks."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from dafw.data import (
    ClassMismatchError,
    CorruptImageError,
    DataError,
    DecodeCache,
    LabelledDataset,
    UnlabelledDataset,
    build_transforms,
    check_same_classes,
)
from tests.fixtures_data import Seeds, build_reader, make_class_tree, make_fer_csv


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "faces"
    make_class_tree(root, {"happy": 4, "sad": 3, "surprise": 3}, Seeds())
    return root


def corrupted_copy(tree: Path, destination: Path) -> Path:
    """Copy ``tree`` with its class folders renamed, so every label is wrong."""
    renames = {"happy": "angry", "sad": "fear", "surprise": "happy"}
    for folder, renamed in renames.items():
        shutil.copytree(tree / folder, destination / renamed)
    return destination


def test_labelled_items_carry_labels(tree: Path) -> None:
    reader = build_reader("image_folder", tree)
    dataset = LabelledDataset(reader, "all")
    image, label = dataset[0]
    assert image.dtype == torch.uint8
    assert image.shape == (1, 12, 12)
    assert dataset.classes[label] == Path(dataset.keys[0]).parent.name
    assert sorted(dataset.classes[i] for i in dataset.labels).count("happy") == 4


def test_unlabelled_items_are_images_only(tree: Path) -> None:
    reader = build_reader("image_folder", tree)
    dataset = UnlabelledDataset(reader, "all", build_transforms(size=16), cache="memory")
    item = dataset[0]
    assert isinstance(item, torch.Tensor)
    assert item.shape == (3, 16, 16)
    assert len(dataset) == 10


def test_unlabelled_holds_the_same_images(tree: Path) -> None:
    reader = build_reader("image_folder", tree)
    labelled = LabelledDataset(reader, "all", cache="memory")
    unlabelled = UnlabelledDataset(reader, "all", cache="memory")
    assert sorted(x.numpy().tobytes() for x, _ in labelled) == sorted(
        x.numpy().tobytes() for x in unlabelled
    )


def test_target_labels_cannot_change_batches(tree: Path, tmp_path: Path) -> None:
    honest = build_reader("image_folder", tree)
    corrupted = build_reader("image_folder", corrupted_copy(tree, tmp_path / "corrupted"))
    assert LabelledDataset(honest, "all").labels != LabelledDataset(corrupted, "all").labels

    batches = []
    for reader in (honest, corrupted):
        dataset = UnlabelledDataset(reader, "all", build_transforms(size=16, train=True), "memory")
        torch.manual_seed(7)
        batches.append([batch for batch in DataLoader(dataset, batch_size=4, shuffle=True)])
    assert len(batches[0]) == 3
    for first, second in zip(*batches, strict=True):
        assert torch.equal(first, second)


def test_csv_label_column_cannot_change_batches(tmp_path: Path) -> None:
    rows = [(0, "Training"), (3, "Training"), (6, "Training"), (2, "Training")]
    make_fer_csv(tmp_path / "honest" / "fer2013.csv", rows, Seeds())
    make_fer_csv(tmp_path / "corrupted" / "fer2013.csv", [(5, usage) for _, usage in rows], Seeds())
    outputs = []
    for name in ("honest", "corrupted"):
        dataset = UnlabelledDataset(
            build_reader("fer2013", tmp_path / name), "train", cache="memory"
        )
        outputs.append(torch.stack([dataset[i] for i in range(len(dataset))]))
    assert torch.equal(outputs[0], outputs[1])


@pytest.mark.parametrize("mode", ["memory", "disk"])
def test_unlabelled_pickle_holds_no_label(tree: Path, tmp_path: Path, mode: str) -> None:
    reader = build_reader("image_folder", tree)
    dataset = UnlabelledDataset(reader, "all", cache=DecodeCache(mode, tmp_path / "cache"))
    blob = pickle.dumps(dataset)
    for leak in (b"happy", b"surprise", b"Sample", b"Reader", str(tree).encode()):
        assert leak not in blob
    assert not hasattr(dataset, "labels")
    assert not hasattr(dataset, "keys")


def test_unlabelled_order_ignores_listing_order(tree: Path) -> None:
    reader = build_reader("image_folder", tree)
    dataset = UnlabelledDataset(reader, "all", cache="memory")
    listed = LabelledDataset(reader, "all")
    in_order = [listed[i][0] for i in range(len(listed))]
    assert not all(torch.equal(dataset[i], in_order[i]) for i in range(len(dataset)))
    other = UnlabelledDataset(reader, "all", cache="memory", order_seed=1)
    assert not all(torch.equal(dataset[i], other[i]) for i in range(len(dataset)))


def test_unlabelled_rejects_no_cache(tree: Path) -> None:
    reader = build_reader("image_folder", tree)
    with pytest.raises(DataError, match="needs a decode cache"):
        UnlabelledDataset(reader, "all", cache="none")


@pytest.mark.parametrize("cache", ["memory", "none"])
def test_corrupt_image_error_names_path(tree: Path, cache: str) -> None:
    broken = tree / "sad" / "img_001.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    reader = build_reader("image_folder", tree)
    with pytest.raises(CorruptImageError) as caught:
        dataset = LabelledDataset(reader, "all", cache=cache)
        [dataset[i] for i in range(len(dataset))]
    assert str(broken) in str(caught.value)


@pytest.mark.parametrize("cache", ["memory", "disk", "none"])
def test_skip_corrupt_counts_in_report(tree: Path, tmp_path: Path, cache: str) -> None:
    broken = tree / "sad" / "img_001.png"
    broken.write_bytes(b"garbage")
    reader = build_reader("image_folder", tree)
    dataset = LabelledDataset(
        reader, "all", cache=DecodeCache(cache, tmp_path / "cache"), skip_corrupt=True
    )
    assert len(dataset) == 9
    assert str(broken) not in dataset.keys
    assert list(reader.report().corrupt) == [str(broken)]
    assert all(item[0].shape == (1, 12, 12) for item in dataset)


def test_truncated_image_is_corrupt(tree: Path) -> None:
    path = tree / "happy" / "img_000.png"
    path.write_bytes(path.read_bytes()[:60])
    reader = build_reader("image_folder", tree)
    dataset = LabelledDataset(reader, "all", cache="memory", skip_corrupt=True)
    assert list(reader.report().corrupt) == [str(path)]
    assert len(dataset) == 9


def test_empty_split_is_rejected(tmp_path: Path) -> None:
    make_class_tree(tmp_path / "CK+48", {"anger": 1}, Seeds(), prefix="S010_001")
    reader = build_reader("ckplus", tmp_path, test_fraction=0.0)
    with pytest.raises(DataError, match="split 'test' of dataset 'ckplus' .* is empty"):
        LabelledDataset(reader, "test")


def test_same_classes_pass(tree: Path) -> None:
    faces = build_reader("image_folder", tree)
    fer_order = build_reader("image_folder", tree, classes=list(faces.classes))
    check_same_classes(faces, fer_order)


def test_different_classes_are_listed(tree: Path) -> None:
    faces = build_reader("image_folder", tree)
    digits = build_reader("digits", "/ignored")
    with pytest.raises(ClassMismatchError) as caught:
        check_same_classes(faces, digits, names=("raf", "mnist"))
    message = str(caught.value)
    assert "only in raf: angry, disgust" in message
    assert "only in mnist: 0, 1, 2" in message


def test_reordered_classes_are_rejected(tree: Path) -> None:
    canonical = build_reader("image_folder", tree)
    reordered = build_reader(
        "image_folder",
        tree,
        classes=["happy", "angry", "disgust", "fear", "sad", "surprise", "neutral"],
    )
    with pytest.raises(ClassMismatchError, match="different order"):
        check_same_classes(canonical, reordered)
