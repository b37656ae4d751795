"""Dataset checks: counts per class, unreadable files and byte-identical duplicates."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from dafw.data.cache import ProgressCallback
from dafw.data.errors import ClassMismatchError, DataError
from dafw.data.factory import open_reader
from dafw.data.reader import DatasetReader, DatasetReport, check_same_classes
from dafw.errors import DafwError


@dataclass
class DatasetCheck:
    """The result of checking one dataset.

    Attributes:
        label (str): Name of the dataset in the output, such as a recipe name.
        dataset (str): Registered dataset type.
        root (str): Data root.
        report (DatasetReport | None): The reader's report; None when it failed to build.
        error (str | None): Why the dataset cannot be read, if it cannot.
        unreadable (dict[str, str]): Files that are missing or cannot be decoded, by key.
        roles (dict[str, str]): What a recipe uses some splits for, such as
            ``{"train": "source"}``.
        class_mismatch (str | None): Why the class list differs from the first dataset's,
            when the datasets were checked as a source and its targets.
    """

    label: str
    dataset: str
    root: str
    report: DatasetReport | None = None
    error: str | None = None
    unreadable: dict[str, str] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    class_mismatch: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the check as plain JSON-compatible data."""
        return {
            "label": self.label,
            "dataset": self.dataset,
            "root": self.root,
            "error": self.error,
            "class_mismatch": self.class_mismatch,
            "roles": self.roles,
            "report": self.report.to_dict() if self.report else None,
            "unreadable": self.unreadable,
        }


@dataclass(frozen=True)
class Place:
    """A split of a checked dataset."""

    label: str
    split: str

    def __str__(self) -> str:
        return f"{self.label}/{self.split}"


@dataclass
class DuplicateGroup:
    """Images with byte-identical content (file bytes, or pixels for array datasets).

    Attributes:
        digest (str): BLAKE2b digest of the content, in hex.
        members (list[tuple[str, str, list[str]]]): Dataset label, sample key and the
            splits that list the key, for every distinct image.
    """

    digest: str
    members: list[tuple[str, str, list[str]]]

    def place_pairs(self) -> set[tuple[Place, Place]]:
        """Return every pair of places that hold two distinct members of the group.

        A pair of one place with itself means a duplicate within that split.
        """
        pairs: set[tuple[Place, Place]] = set()
        for (label_a, _, splits_a), (label_b, _, splits_b) in combinations(self.members, 2):
            for split_a in splits_a:
                for split_b in splits_b:
                    first, second = sorted(
                        (Place(label_a, split_a), Place(label_b, split_b)), key=str
                    )
                    pairs.add((first, second))
        return pairs

    def to_dict(self) -> dict[str, Any]:
        """Return the group as plain JSON-compatible data."""
        return {
            "digest": self.digest,
            "members": [
                {"dataset": label, "key": key, "splits": splits}
                for label, key, splits in self.members
            ],
        }


@dataclass
class DuplicateSummary:
    """Duplicate groups and how many of them join each pair of places."""

    groups: list[DuplicateGroup] = field(default_factory=list)
    pair_counts: dict[tuple[Place, Place], int] = field(default_factory=dict)

    @property
    def images(self) -> int:
        """Number of distinct images that have at least one duplicate."""
        return sum(len(group.members) for group in self.groups)

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as plain JSON-compatible data."""
        return {
            "groups": len(self.groups),
            "images": self.images,
            "within_split": [
                {"place": str(a), "groups": n} for (a, b), n in self.pair_counts.items() if a == b
            ],
            "across_splits": [
                {"places": [str(a), str(b)], "groups": n}
                for (a, b), n in self.pair_counts.items()
                if a != b
            ],
            "group_list": [group.to_dict() for group in self.groups],
        }


def split_keys(reader: DatasetReader) -> dict[str, list[str]]:
    """Map every distinct sample key of ``reader`` to the splits that list it, in order."""
    splits_of: dict[str, list[str]] = defaultdict(list)
    for split in reader.splits():
        for sample in reader.samples(split):
            splits_of[sample.key].append(split)
    return dict(splits_of)


def find_unreadable(
    reader: DatasetReader, keys: Sequence[str], progress: ProgressCallback | None = None
) -> dict[str, str]:
    """Decode every image of ``keys`` and return the ones that fail, with the error."""
    source = reader.image_source()
    failures: dict[str, str] = {}
    for done, key in enumerate(keys, start=1):
        try:
            source.load(key)
        except DataError as error:
            failures[key] = str(error)
        if progress is not None:
            progress(done, len(keys))
    return failures


def content_digests(
    reader: DatasetReader,
    keys: Sequence[str],
    skip: set[str] | frozenset[str] = frozenset(),
    progress: ProgressCallback | None = None,
) -> dict[str, str]:
    """Hash the content of every image of ``keys`` except ``skip``; return key -> digest."""
    source = reader.image_source()
    digests: dict[str, str] = {}
    for done, key in enumerate(keys, start=1):
        if key not in skip:
            try:
                content = source.content_bytes(key)
            except (DataError, OSError):
                content = None
            if content is not None:
                digests[key] = hashlib.blake2b(content, digest_size=16).hexdigest()
        if progress is not None:
            progress(done, len(keys))
    return digests


def find_duplicates(
    digests: Sequence[tuple[str, dict[str, str], dict[str, list[str]]]],
) -> DuplicateSummary:
    """Group byte-identical images within and across datasets.

    Args:
        digests (Sequence[tuple[str, dict[str, str], dict[str, list[str]]]]): For every
            dataset, its label, the digest of every key and the splits of every key.

    Returns:
        DuplicateSummary: Groups of two or more distinct images, sorted by size then digest.
    """
    members: dict[str, list[tuple[str, str, list[str]]]] = defaultdict(list)
    for label, by_key, splits_of in digests:
        for key, digest in by_key.items():
            members[digest].append((label, key, splits_of.get(key, [])))

    groups = [
        DuplicateGroup(digest, sorted(found, key=lambda member: (member[0], member[1])))
        for digest, found in members.items()
        if len(found) > 1
    ]
    groups.sort(key=lambda group: (-len(group.members), group.digest))

    counts: dict[tuple[Place, Place], int] = defaultdict(int)
    for group in groups:
        for pair in group.place_pairs():
            counts[pair] += 1
    ordered = dict(sorted(counts.items(), key=lambda item: (str(item[0][0]), str(item[0][1]))))
    return DuplicateSummary(groups=groups, pair_counts=ordered)


@dataclass
class CheckTarget:
    """A dataset to check, as a recipe or the command line describes it.

    Attributes:
        label (str): Name in the output.
        dataset (str): Registered dataset type.
        root (str): Data root.
        params (dict[str, Any]): Dataset parameters.
        roles (dict[str, str]): What a recipe uses some splits for.
    """

    label: str
    dataset: str
    root: str
    params: dict[str, Any] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)


def check_datasets(
    targets: Sequence[CheckTarget],
    decode: bool = True,
    progress: Callable[[str], AbstractContextManager[ProgressCallback]] | None = None,
    plugins: Any = None,
    same_classes: bool = False,
) -> tuple[list[DatasetCheck], DuplicateSummary]:
    """Read, decode and hash every dataset of ``targets`` and group duplicates across them.

    A dataset that cannot be read is reported with its error, and the others are still
    checked.

    Args:
        targets (Sequence[CheckTarget]): Datasets to check.
        decode (bool): Decode every image to find corrupt files. Defaults to True.
        progress (Callable | None): Given a description, returns a context manager that
            yields a progress callback, such as ``dafw.data.progress.rich_progress``.
            Defaults to None.
        plugins (PluginSet | None): Loaded plugins; None loads the installed ones.
            Defaults to None.
        same_classes (bool): Treat the first target as the source and check that every
            other one has the same class list, as training requires. Defaults to False.

    Returns:
        tuple[list[DatasetCheck], DuplicateSummary]: One check per target, and the
        duplicates within and across all of them.
    """
    checks: list[DatasetCheck] = []
    digests: list[tuple[str, dict[str, str], dict[str, list[str]]]] = []
    first: tuple[str, DatasetReader] | None = None
    for target in targets:
        check = DatasetCheck(target.label, target.dataset, target.root, roles=dict(target.roles))
        checks.append(check)
        try:
            reader = open_reader(target.dataset, target.root, target.params, plugins=plugins)
            check.report = reader.report()
        except DafwError as error:
            check.error = str(error)
            continue

        if same_classes and first is None:
            first = (target.label, reader)
        elif same_classes and first is not None:
            try:
                check_same_classes(first[1], reader, names=(first[0], target.label))
            except ClassMismatchError as error:
                check.class_mismatch = str(error)

        splits_of = split_keys(reader)
        keys = list(splits_of)
        with _progress(progress, f"decoding {target.label}") as callback:
            if decode:
                check.unreadable = find_unreadable(reader, keys, callback)
        with _progress(progress, f"hashing {target.label}") as callback:
            by_key = content_digests(reader, keys, set(check.unreadable), callback)
        digests.append((target.label, by_key, splits_of))
    return checks, find_duplicates(digests)


@contextmanager
def _progress(
    factory: Callable[[str], AbstractContextManager[ProgressCallback]] | None, description: str
) -> Iterator[ProgressCallback | None]:
    if factory is None:
        yield None
        return
    with factory(description) as callback:
        yield callback
