"""Building blocks for dataset readers: label mapping, folder scanning and seeded splits."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from dafw.classes import CANONICAL_CLASSES, class_index
from dafw.data.errors import DataError
from dafw.data.sources import IMAGE_EXTENSIONS

ExtraClassPolicy = Literal["drop", "error"]


class ClassMapper:
    """Maps a dataset's native labels to class indices, always by way of class names.

    A native label that maps to a name outside ``classes`` is an extra class, such as CK+
    contempt. Depending on ``extra_classes`` it is dropped and counted, or it raises. A native
    label missing from the map always raises.

    Args:
        native_to_name (Mapping[str, str]): Native label (a code or a folder name) to class
            name. Keys are matched case-insensitively when ``ignore_case`` is set.
        classes (Sequence[str]): Class names the indices refer to. Defaults to the
            canonical seven.
        extra_classes (str): ``"drop"`` or ``"error"``. Defaults to ``"drop"``.
        ignore_case (bool): Match native labels case-insensitively. Defaults to False.

    Attributes:
        dropped (Counter[str]): Dropped items per reason, such as
            ``"contempt (extra_classes='drop')"``.
    """

    def __init__(
        self,
        native_to_name: Mapping[str, str],
        classes: Sequence[str] = CANONICAL_CLASSES,
        extra_classes: ExtraClassPolicy = "drop",
        ignore_case: bool = False,
    ) -> None:
        self.classes = tuple(classes)
        self.extra_classes = extra_classes
        self.ignore_case = ignore_case
        self.native_to_name = {self._normalise(k): v for k, v in native_to_name.items()}
        self.native_labels = tuple(native_to_name)
        self.dropped: Counter[str] = Counter()

    def _normalise(self, native: str) -> str:
        return native.lower() if self.ignore_case else native

    def class_index(self, name: str) -> int:
        """Return the index of the class ``name`` in ``classes``."""
        if self.classes == CANONICAL_CLASSES:
            return class_index(name)
        return self.classes.index(name)

    def index(self, native: str, where: str, count: int = 1) -> int | None:
        """Return the class index of the native label ``native``, or None if it is dropped.

        Args:
            native (str): Native label as it appears in the dataset.
            where (str): File, line or folder the label comes from, for the error.
            count (int): Number of items that carry the label, added to ``dropped`` when
                the label is dropped. Defaults to 1.

        Raises:
            DataError: ``native`` is unknown, or maps to an extra class under
                ``extra_classes = "error"``.
        """
        name = self.native_to_name.get(self._normalise(native))
        if name is None:
            raise DataError(
                f"{where}: unknown label {native!r}; expected one of: "
                f"{', '.join(self.native_labels)}"
            )
        if name in self.classes:
            return self.class_index(name)
        if self.extra_classes == "error":
            raise DataError(
                f"{where}: label {native!r} is the class {name!r}, which is not one of the "
                f'classes ({", ".join(self.classes)}); set extra_classes = "drop" to leave '
                "it out"
            )
        self.dropped[f"{name} (extra_classes='drop')"] += count
        return None


def require_dir(path: Path, description: str, hint: str = "") -> Path:
    """Return ``path`` if it is a folder, else raise naming it and its ``description``.

    Raises:
        DataError: ``path`` is missing or is not a folder.
    """
    if not path.is_dir():
        state = "is not a folder" if path.exists() else "does not exist"
        message = f"{description} {path} {state}"
        raise DataError(f"{message}; {hint}" if hint else message)
    return path


def require_file(path: Path, description: str, hint: str = "") -> Path:
    """Return ``path`` if it is a file, else raise naming it and its ``description``.

    Raises:
        DataError: ``path`` is missing or is not a file.
    """
    if not path.is_file():
        state = "is not a file" if path.exists() else "does not exist"
        message = f"{description} {path} {state}"
        raise DataError(f"{message}; {hint}" if hint else message)
    return path


def is_hidden(path: Path) -> bool:
    """Return whether ``path`` is a hidden file or folder, such as ``.DS_Store``."""
    return path.name.startswith(".")


def list_images(folder: Path) -> tuple[list[Path], int]:
    """List the image files directly inside ``folder``, sorted by name.

    Returns:
        tuple[list[Path], int]: The image files, and how many other files were ignored
        (hidden files are not counted).
    """
    images: list[Path] = []
    ignored = 0
    for path in sorted(folder.iterdir()):
        if is_hidden(path) or not path.is_file():
            continue
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            images.append(path)
        else:
            ignored += 1
    return images, ignored


def list_subfolders(folder: Path) -> list[Path]:
    """List the folders directly inside ``folder``, sorted by name, hidden ones excluded."""
    return sorted(path for path in folder.iterdir() if path.is_dir() and not is_hidden(path))


def scan_class_folders(split_dir: Path, mapper: ClassMapper) -> tuple[list[tuple[Path, int]], int]:
    """List the images of a folder-per-class tree with their class indices.

    Every subfolder of ``split_dir`` is a class named by its folder. ``mapper`` turns the folder
    name into a class index, so the order of the folders never matters.

    Returns:
        tuple[list[tuple[Path, int]], int]: ``(path, label)`` pairs sorted by folder then
        file name, and the number of non-image files ignored.

    Raises:
        DataError: ``split_dir`` has no class folder, a folder is unknown to ``mapper``,
            or a class folder holds no image.
    """
    folders = list_subfolders(split_dir)
    if not folders:
        raise DataError(f"{split_dir} contains no class folder; expected one folder per class")

    items: list[tuple[Path, int]] = []
    ignored = 0
    for folder in folders:
        images, skipped = list_images(folder)
        ignored += skipped
        if not images:
            raise DataError(
                f"class folder {folder} contains no image file "
                f"(accepted extensions: {', '.join(sorted(IMAGE_EXTENSIONS))})"
            )
        label = mapper.index(folder.name, f"class folder {folder}", count=len(images))
        if label is None:
            continue
        items.extend((path, label) for path in images)
    return items, ignored


def split_groups(groups: Iterable[str], test_fraction: float, seed: int) -> set[str]:
    """Draw the test groups (subjects, photos) of a seeded grouped split.

    The result depends only on the set of group names, the fraction and the seed, never on
    the order in which the groups were listed. With at least two groups and a fraction
    above zero, both parts get at least one group.

    Returns:
        set[str]: The groups whose samples form the test split.
    """
    names = sorted(set(groups))
    if not names or test_fraction <= 0:
        return set()
    count = round(test_fraction * len(names))
    if len(names) >= 2:
        count = min(max(count, 1), len(names) - 1)
    order = np.random.default_rng(seed).permutation(len(names))
    return {names[i] for i in order[:count]}


def stratified_split(
    labels: Sequence[int], test_fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """Split sample positions into train and test with the same class proportions.

    Each class contributes ``round(test_fraction * n_class)`` test samples, drawn with a
    generator seeded by ``seed``.

    Returns:
        tuple[list[int], list[int]]: Sorted train positions and sorted test positions.
    """
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[int]] = {}
    for position, label in enumerate(labels):
        by_class.setdefault(label, []).append(position)

    test: list[int] = []
    for label in sorted(by_class):
        positions = by_class[label]
        count = round(test_fraction * len(positions))
        chosen = rng.permutation(len(positions))[:count]
        test.extend(positions[i] for i in chosen)
    test_set = set(test)
    train = [i for i in range(len(labels)) if i not in test_set]
    return train, sorted(test_set)


def digest_names(names: Iterable[str]) -> str:
    """Return a short SHA-256 digest of sorted ``names``, to compare two splits at a glance."""
    text = "\n".join(sorted(names))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
