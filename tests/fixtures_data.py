"""Builders of tiny datasets in each on-disk layout that the dataset plugins read."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
from PIL import Image

from dafw.data import DatasetReader
from dafw.data.factory import open_reader
from dafw.plugins import PluginSet, load_plugins


def pixels(seed: int, size: int = 12, channels: int = 1) -> np.ndarray:
    """Return distinct random uint8 pixels of shape ``(size, size, channels)`` for ``seed``."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (size, size, channels), dtype=np.uint8)


def write_image(path: Path, seed: int, size: int = 12, channels: int = 1) -> np.ndarray:
    """Write a random image to ``path`` (format from the suffix) and return its pixels.

    JPEG is lossy, so for ``.jpg`` files the returned pixels are decoded back from the file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    values = pixels(seed, size, channels)
    image = Image.fromarray(values[:, :, 0] if channels == 1 else values)
    image.save(path)
    with Image.open(path) as written:
        decoded = np.asarray(written.convert("L" if channels == 1 else "RGB"))
    return decoded[:, :, None] if channels == 1 else decoded


class Seeds:
    """Hands out increasing seeds so that every fixture image is distinct."""

    def __init__(self, start: int = 1) -> None:
        self.next = start

    def __call__(self) -> int:
        self.next += 1
        return self.next


def make_fer_csv(path: Path, rows: Iterable[tuple[int, str]], seeds: Seeds) -> list[np.ndarray]:
    """Write a FER2013 CSV with one row per ``(label, usage)``; return the row pixels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    images = []
    lines = ["emotion,pixels,Usage"]
    for label, usage in rows:
        values = pixels(seeds(), 48)
        images.append(values)
        lines.append(f"{label},{' '.join(str(v) for v in values.ravel())},{usage}")
    path.write_text("\n".join(lines) + "\n")
    return images


def make_class_tree(
    root: Path, counts: Mapping[str, int], seeds: Seeds, suffix: str = ".png", prefix: str = "img"
) -> None:
    """Write ``counts[folder]`` images into each ``root/folder``."""
    for folder, count in counts.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for index in range(count):
            write_image(root / folder / f"{prefix}_{index:03d}{suffix}", seeds())


def make_fer_folders(root: Path, counts: Mapping[str, Mapping[str, int]], seeds: Seeds) -> None:
    """Write the FER2013 image-folder release: ``{train,test}/<class>/<Usage>_<id>.jpg``.

    Test files alternate between the ``PublicTest_`` and ``PrivateTest_`` prefixes.
    """
    for split, per_class in counts.items():
        for name, count in per_class.items():
            for index in range(count):
                usage = "Training" if split == "train" else ("PublicTest", "PrivateTest")[index % 2]
                seed = seeds()
                write_image(root / split / name / f"{usage}_{seed}.jpg", seed, 48)


def make_rafdb(root: Path, entries: Iterable[tuple[str, int]], seeds: Seeds) -> None:
    """Write RAF-DB's label list and aligned images for ``(image name, label 1-7)`` pairs."""
    lines = []
    for name, label in entries:
        lines.append(f"{name} {label}")
        stem = name.rsplit(".", 1)[0]
        write_image(root / "Image" / "aligned" / f"{stem}_aligned.jpg", seeds(), 16, 3)
    (root / "EmoLabel").mkdir(parents=True, exist_ok=True)
    (root / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")


def make_ck48(root: Path, files: Mapping[str, Iterable[str]], seeds: Seeds) -> None:
    """Write CK+48 class folders; ``files[folder]`` lists stems such as ``S010_004_00000017``."""
    for folder, stems in files.items():
        for stem in stems:
            write_image(root / folder / f"{stem}.png", seeds(), 48)


def make_ck_original(
    root: Path, sequences: Iterable[tuple[str, str, int, str | None]], seeds: Seeds
) -> None:
    """Write original CK+ sequences ``(subject, sequence, frames, emotion file text)``.

    A None text writes a sequence without a label file.
    """
    for subject, sequence, frames, text in sequences:
        folder = root / "cohn-kanade-images" / subject / sequence
        for frame in range(1, frames + 1):
            write_image(folder / f"{subject}_{sequence}_{frame:08d}.png", seeds(), 20)
        emotion = root / "Emotion" / subject / sequence
        emotion.mkdir(parents=True, exist_ok=True)
        if text is not None:
            (emotion / f"{subject}_{sequence}_{frames:08d}_emotion.txt").write_text(text)


def make_jaffe(folder: Path, names: Iterable[str], seeds: Seeds, palette_every: int = 0) -> None:
    """Write JAFFE TIFFs; every ``palette_every``-th file is a grey-palette image."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(names):
        values = pixels(seeds(), 32)[:, :, 0]
        if palette_every and index % palette_every == 0:
            image = Image.new("P", (32, 32))
            image.putpalette([level for level in range(256) for _ in range(3)])
            image.putdata(values.ravel().tolist())
        else:
            image = Image.fromarray(values)
        image.save(folder / name)


def make_expw(
    root: Path,
    faces: Iterable[tuple[str, int, tuple[int, int, int, int], float, int]],
    seeds: Seeds,
    photo_size: int = 40,
) -> dict[str, np.ndarray]:
    """Write ExpW photos and label.lst for ``(photo, face id, (top, left, right, bottom),
    confidence, label)`` rows; return the pixels of each photo."""
    photos: dict[str, np.ndarray] = {}
    lines = []
    for photo, face_id, (top, left, right, bottom), confidence, label in faces:
        if photo not in photos:
            photos[photo] = write_image(root / "image" / "origin" / photo, seeds(), photo_size, 3)
        lines.append(f"{photo} {face_id} {top} {left} {right} {bottom} {confidence} {label}")
    (root / "label").mkdir(parents=True, exist_ok=True)
    (root / "label" / "label.lst").write_text("\n".join(lines) + "\n")
    return photos


@functools.cache
def installed_plugins() -> PluginSet:
    """Load the installed plugins once for all data tests."""
    return load_plugins()


def build_reader(name: str, root: Path | str, **params: object) -> DatasetReader:
    """Build the reader of the registered dataset ``name`` through the installed plugins."""
    return open_reader(name, root, params, plugins=installed_plugins())
