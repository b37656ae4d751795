"""Readers and torch datasets of a recipe's source and targets, built once per run."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from dafw.data import (
    DatasetReader,
    DecodeCache,
    LabelledDataset,
    UnlabelledDataset,
    check_same_classes,
    transforms_from_config,
)
from dafw.data.factory import open_reader
from dafw.data.progress import rich_progress
from dafw.plugins import PluginSet
from dafw.recipe.schema import DatasetSpec, Recipe, TargetSpec, TransformSection
from dafw.registry import Registries

logger = logging.getLogger("dafw")


def build_reader(spec: DatasetSpec, registries: Registries) -> DatasetReader:
    """Build the dataset reader that ``spec`` names, reading ``spec.root``."""
    return open_reader(spec.type, spec.root, spec.params, plugins=PluginSet(registries=registries))


def recipe_transforms(section: TransformSection, train: bool) -> Callable[[Any], Any]:
    """Build the training (augmenting) or eval pipeline of a recipe's transforms table."""
    return transforms_from_config(section.model_dump(), train=train)


@dataclass
class TargetData:
    """One target: its reader and the datasets built from it.

    Attributes:
        spec (TargetSpec): The recipe's table of this target.
        reader (DatasetReader): Reader of the target dataset.
        adapt (UnlabelledDataset | None): Label-free adaptation images, with training
            augmentation; None until ``RunData.target`` builds it.
        test (LabelledDataset | None): Test images and labels, without augmentation.
    """

    spec: TargetSpec
    reader: DatasetReader
    adapt: UnlabelledDataset | None = None
    test: LabelledDataset | None = None


class RunData:
    """The readers of a recipe, and datasets built on first use and kept for the run.

    Readers are built when the object is made, so missing folders and class mismatches
    fail before any training. Images are decoded on first use through one decode cache,
    which stores them resized to the recipe's input size.

    Args:
        recipe (Recipe): The validated recipe.
        registries (Registries): Registries that provide the dataset plugins.
        console (Console | None): Console for decoding progress bars; None shows none.

    Raises:
        DataError: A dataset folder cannot be read.
        ClassMismatchError: A target's class list differs from the source's.
    """

    def __init__(
        self, recipe: Recipe, registries: Registries, console: Console | None = None
    ) -> None:
        self.recipe = recipe
        self.console = console
        data = recipe.data
        self.cache = DecodeCache(
            data.cache,
            directory=Path(data.cache_dir) if data.cache_dir else None,
            size=data.transforms.size,
        )
        self.train_transform = recipe_transforms(data.transforms, train=True)
        self.eval_transform = recipe_transforms(data.transforms, train=False)

        self.source_reader = build_reader(data.source, registries)
        self.targets: dict[str, TargetData] = {}
        for spec in data.targets:
            reader = build_reader(spec, registries)
            check_same_classes(self.source_reader, reader, names=("source", spec.label))
            self.targets[spec.label] = TargetData(spec, reader)
        self._source_train: LabelledDataset | None = None
        self._source_val: LabelledDataset | None = None

    @property
    def classes(self) -> tuple[str, ...]:
        """Class names that every label indexes."""
        return tuple(self.source_reader.classes)

    def source_train(self) -> LabelledDataset:
        """Return the labelled source training split, with training augmentation."""
        if self._source_train is None:
            spec = self.recipe.data.source
            self._source_train = self._labelled(
                self.source_reader, spec.split, self.train_transform, f"source {spec.type}"
            )
        return self._source_train

    def source_val(self) -> LabelledDataset | None:
        """Return the source validation split without augmentation, or None if unset."""
        spec = self.recipe.data.source
        if spec.val_split is None:
            return None
        if self._source_val is None:
            self._source_val = self._labelled(
                self.source_reader, spec.val_split, self.eval_transform, f"source {spec.type}"
            )
        return self._source_val

    def target(self, label: str, adapt: bool = True) -> TargetData:
        """Return the target ``label`` with its test split and, if ``adapt``, its adaptation set."""
        target = self.targets[label]
        if target.test is None:
            target.test = self._labelled(
                target.reader, target.spec.test_split, self.eval_transform, f"target {label}"
            )
        if adapt and target.adapt is None:
            target.adapt = self._unlabelled(target)
        return target

    def release(self, label: str) -> None:
        """Drop the datasets of target ``label``, so their decoded images can be freed."""
        target = self.targets[label]
        target.adapt = None
        target.test = None

    def _labelled(
        self, reader: DatasetReader, split: str, transform: Any, what: str
    ) -> LabelledDataset:
        with self._progress(f"decoding {what} ({split})") as progress:
            return LabelledDataset(
                reader,
                split,
                transform=transform,
                cache=self.cache,
                skip_corrupt=self.recipe.data.skip_corrupt,
                progress=progress,
            )

    def _unlabelled(self, target: TargetData) -> UnlabelledDataset:
        cache = self.cache
        if cache.mode == "none":
            logger.warning(
                "data.cache = 'none' does not apply to the adaptation set of target %s, which "
                "must be decoded up front so that no file path (which names the class) is "
                "kept; it is kept in memory instead",
                target.spec.label,
            )
            cache = DecodeCache("memory", size=self.recipe.data.transforms.size)
        split = target.spec.adapt_split
        with self._progress(f"decoding target {target.spec.label} ({split})") as progress:
            return UnlabelledDataset(
                target.reader,
                split,
                transform=self.train_transform,
                cache=cache,
                skip_corrupt=self.recipe.data.skip_corrupt,
                progress=progress,
                order_seed=self.recipe.seed,
            )

    def _progress(self, description: str) -> Any:
        if self.console is None:
            return nullcontext(None)
        return rich_progress(description, console=self.console)
