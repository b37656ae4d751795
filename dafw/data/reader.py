"""The dataset reader interface: samples per split, image loading and a summary report."""

from __future__ import annotations

import abc
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dafw.classes import CANONICAL_CLASSES
from dafw.data.errors import ClassMismatchError, DataError
from dafw.data.sources import ImageSource


@dataclass(frozen=True)
class Sample:
    """One labelled image of a dataset split.

    Attributes:
        key (str): Where the image comes from: an absolute file path, or a path with a
            suffix such as ``/data/fer2013.csv#row=123`` for images that are not files.
        label (int): Index into the reader's ``classes``.
        group (str | None): Subject or source-photo id used for grouped splits, if known.
    """

    key: str
    label: int
    group: str | None = None


@dataclass
class DatasetReport:
    """Summary of a reader: counts, absent classes, dropped items and notes.

    Attributes:
        dataset (str): Registry name of the dataset type, such as ``ckplus``.
        root (str): Data root the reader was built from.
        classes (tuple[str, ...]): Class names that the labels index.
        counts (dict[str, dict[str, int]]): Images per class for every split.
        missing_classes (dict[str, list[str]]): Classes with no image, per split.
        dropped (dict[str, int]): Items left out on purpose, by reason, such as
            ``{"contempt (extra_classes='drop')": 54}``.
        corrupt (dict[str, str]): Images skipped because they could not be decoded, with the
            error; filled by datasets built with ``skip_corrupt=True``.
        notes (list[str]): Facts a user must know about the splits, such as how a
            subject split was drawn.
    """

    dataset: str
    root: str
    classes: tuple[str, ...]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    missing_classes: dict[str, list[str]] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    corrupt: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def absent_classes(self) -> list[str]:
        """Classes that no split of the dataset contains."""
        present = {name for counts in self.counts.values() for name, n in counts.items() if n}
        return [name for name in self.classes if name not in present]

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain JSON-compatible data."""
        return {
            "dataset": self.dataset,
            "root": self.root,
            "classes": list(self.classes),
            "counts": self.counts,
            "missing_classes": self.missing_classes,
            "absent_classes": self.absent_classes,
            "dropped": self.dropped,
            "corrupt": self.corrupt,
            "notes": self.notes,
        }


class DatasetReader(abc.ABC):
    """Lists the labelled images of a dataset, split by split, and decodes them.

    Labels are indices into ``classes``. Facial-expression datasets use
    ``dafw.classes.CANONICAL_CLASSES`` and map every native label to one of those names,
    so two readers with equal ``classes`` agree on what each index means.

    Attributes:
        name (str): Registry name of the dataset type, used in reports and cache folders.
        classes (tuple[str, ...]): Class names that the labels index.
        root (Path | None): Data root, or None for datasets that need no files.
        dropped (Counter[str]): Items left out on purpose, by reason.
        corrupt (dict[str, str]): Undecodable images skipped by a dataset, by key.
        notes (list[str]): Lines added to the report.
    """

    name: str = "dataset"
    classes: tuple[str, ...] = CANONICAL_CLASSES

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self.dropped: Counter[str] = Counter()
        self.corrupt: dict[str, str] = {}
        self.notes: list[str] = []

    @abc.abstractmethod
    def splits(self) -> tuple[str, ...]:
        """Return the names of the splits, such as ``("train", "test")``."""

    @abc.abstractmethod
    def samples(self, split: str) -> list[Sample]:
        """Return the samples of ``split``.

        Raises:
            DataError: ``split`` is not one of ``splits()``; the message lists them.
        """

    @abc.abstractmethod
    def load(self, sample: Sample) -> np.ndarray:
        """Decode the image of ``sample`` as uint8 of shape ``(H, W, C)``, C in {1, 3}.

        Raises:
            CorruptImageError: The image cannot be decoded; the message names its key.
        """

    @abc.abstractmethod
    def source_fingerprint(self, sample: Sample) -> str:
        """Return a string that changes whenever the image of ``sample`` may have changed.

        The decode cache keys its entries by it, so it includes the file path and its
        modification time (and the row for images stored inside one file).
        """

    def image_source(self) -> ImageSource:
        """Return an object that loads images by key without access to any label.

        The datasets keep only this object, so the unlabelled target dataset cannot reach
        the reader's labels. The default wraps the reader itself, which does not give that
        guarantee; readers should override it, as ``ListedReader`` does.
        """
        return _ReaderSource(self)

    def record_corrupt(self, key: str, reason: str) -> None:
        """Record that the image ``key`` was skipped because it could not be decoded."""
        self.corrupt[key] = reason

    def unknown_split(self, split: str) -> DataError:
        """Build the error for a split name that this dataset does not have."""
        return DataError(
            f"dataset {self.name!r} at {self.root} has no split {split!r}; "
            f"its splits are: {', '.join(self.splits())}"
        )

    def report(self) -> DatasetReport:
        """Count the images of every split per class and collect the dropped items and notes."""
        report = DatasetReport(
            dataset=self.name,
            root=str(self.root) if self.root is not None else "",
            classes=tuple(self.classes),
            dropped=dict(sorted(self.dropped.items())),
            corrupt=dict(self.corrupt),
            notes=list(self.notes),
        )
        for split in self.splits():
            per_label = Counter(sample.label for sample in self.samples(split))
            counts = {name: per_label.get(index, 0) for index, name in enumerate(self.classes)}
            report.counts[split] = counts
            report.missing_classes[split] = [name for name, n in counts.items() if n == 0]
        return report


class ListedReader(DatasetReader):
    """A reader whose samples are listed once, at construction, and loaded through a source.

    Subclasses fill ``self.split_samples`` and set ``self.source`` in their constructor.

    Attributes:
        split_samples (dict[str, list[Sample]]): Samples of every split, in a fixed order.
        source (ImageSource): Decodes images by sample key.
    """

    def __init__(self, root: Path | None) -> None:
        super().__init__(root)
        self.split_samples: dict[str, list[Sample]] = {}
        self.source: ImageSource

    def splits(self) -> tuple[str, ...]:
        """Return the split names in the order the reader listed them."""
        return tuple(self.split_samples)

    def samples(self, split: str) -> list[Sample]:
        """Return a copy of the sample list of ``split``."""
        try:
            return list(self.split_samples[split])
        except KeyError:
            raise self.unknown_split(split) from None

    def load(self, sample: Sample) -> np.ndarray:
        """Decode the image of ``sample`` through the image source."""
        return self.source.load(sample.key)

    def source_fingerprint(self, sample: Sample) -> str:
        """Return the image source's fingerprint of ``sample``."""
        return self.source.fingerprint(sample.key)

    def image_source(self) -> ImageSource:
        """Return the label-free image source."""
        return self.source


class _ReaderSource(ImageSource):
    """Adapts a reader without its own image source; it keeps the reader, labels included."""

    def __init__(self, reader: DatasetReader) -> None:
        self.reader = reader
        self.identity = f"{reader.name}:{reader.root}"

    def load(self, key: str) -> np.ndarray:
        return self.reader.load(Sample(key=key, label=-1))

    def fingerprint(self, key: str) -> str:
        return self.reader.source_fingerprint(Sample(key=key, label=-1))


def check_same_classes(
    source: DatasetReader, target: DatasetReader, names: tuple[str, str] = ("source", "target")
) -> None:
    """Check that ``source`` and ``target`` label the same classes in the same order.

    A target may lack images of some class, as CK+ lacks neutral. What must agree is the class
    list that the label indices refer to.

    Args:
        source (DatasetReader): Reader of the labelled source domain.
        target (DatasetReader): Reader of the target domain.
        names (tuple[str, str]): How to call the two datasets in the error, such as
            their recipe names. Defaults to ``("source", "target")``.

    Raises:
        ClassMismatchError: The class lists differ; the message shows both and the
            difference.
    """
    if tuple(source.classes) == tuple(target.classes):
        return
    source_name, target_name = names
    only_source = [name for name in source.classes if name not in target.classes]
    only_target = [name for name in target.classes if name not in source.classes]
    if only_source or only_target:
        difference = (
            f"only in {source_name}: {', '.join(only_source) or 'none'}; "
            f"only in {target_name}: {', '.join(only_target) or 'none'}"
        )
    else:
        difference = "the same names in a different order, so the label indices disagree"
    raise ClassMismatchError(
        f"{source_name} ({source.name}) and {target_name} ({target.name}) have different "
        f"class lists: {source_name} has ({', '.join(source.classes)}), {target_name} has "
        f"({', '.join(target.classes)}); {difference}. Map both to the same class names "
        "(the canonical seven, or an explicit 'classes' parameter)"
    )
