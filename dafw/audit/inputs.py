"""Reading a finished run folder: recipe, results, checkpoints, predictions and epoch records."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from dafw.engine.checkpoint import load_checkpoint
from dafw.engine.device import Precision
from dafw.engine.errors import ResumeError
from dafw.engine.run_dir import RunFolder, read_json, read_metrics
from dafw.engine.runner import load_run_recipe, pairs_of
from dafw.engine.trainer import Pair
from dafw.model import DAModel, build_model
from dafw.plugins import PluginSet
from dafw.recipe import Recipe
from dafw.registry import Registries

logger = logging.getLogger("dafw")


@dataclass
class TargetRun:
    """The files a run wrote for one target.

    Attributes:
        pair (Pair): The (source, target) pair.
        result (dict[str, Any] | None): The target's entry of ``results.json``, or its
            ``result.json``; None when the pair never finished.
        checkpoint (Path): The checkpoint the results were scored with.
        history (list[dict[str, Any]]): Epoch records of the pair, by epoch.
        epoch_checkpoints (dict[int, Path]): Kept checkpoints of single epochs, by epoch.
        predictions (dict[str, Path]): Stored test predictions (``.npz``) by eval mode.
    """

    pair: Pair
    result: dict[str, Any] | None
    checkpoint: Path
    history: list[dict[str, Any]] = field(default_factory=list)
    epoch_checkpoints: dict[int, Path] = field(default_factory=dict)
    predictions: dict[str, Path] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Name of the target."""
        return self.pair.target


@dataclass
class FinishedRun:
    """A run folder opened for auditing.

    Attributes:
        folder (RunFolder): The run folder.
        recipe (Recipe): The resolved recipe stored in it.
        results (dict[str, Any] | None): ``results.json``; None when the run did not finish.
        targets (list[TargetRun]): One entry per target of the recipe, in recipe order.
    """

    folder: RunFolder
    recipe: Recipe
    results: dict[str, Any] | None
    targets: list[TargetRun]


def _epoch_records(
    folder: RunFolder, pair: str, result: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Return the epoch records of ``pair`` by epoch.

    They come from the pair's result, else the metrics log, else its last checkpoint.
    """
    if result is not None and result.get("history"):
        records = list(result["history"])
    else:
        records = [
            record
            for record in read_metrics(folder.metrics)
            if record.get("event") == "epoch" and record.get("pair") == pair
        ]
        if not records and folder.last_checkpoint(pair).is_file():
            records = list(load_checkpoint(folder.last_checkpoint(pair)).get("history", []))
    by_epoch = {int(record["epoch"]): record for record in records if "epoch" in record}
    return [by_epoch[epoch] for epoch in sorted(by_epoch)]


def _prediction_files(
    folder: RunFolder, target: str, result: dict[str, Any] | None
) -> dict[str, Path]:
    """Return the stored prediction files by mode: those the result lists, else the default ones."""
    files: dict[str, Path] = {}
    listed = (result or {}).get("files", {})
    for mode, kinds in listed.items():
        if isinstance(kinds, dict) and "predictions" in kinds:
            files[mode] = folder.root / kinds["predictions"]
    if not files:
        for path in sorted(folder.target_dir(target).glob("*/predictions.npz")):
            files[path.parent.name] = path
    return {mode: path for mode, path in files.items() if path.is_file()}


def open_run(run_dir: Path, plugins: PluginSet, overrides: tuple[str, ...] = ()) -> FinishedRun:
    """Open the run folder ``run_dir`` written by ``dafw run``.

    Args:
        run_dir (Path): The run folder.
        plugins (PluginSet): Loaded plugins, to validate the stored recipe.
        overrides (tuple[str, ...]): ``KEY.PATH=VALUE`` changes to the stored recipe, such
            as a dataset root that moved.

    Raises:
        ResumeError: ``run_dir`` is not a run folder, or no pair has a checkpoint.
    """
    recipe = load_run_recipe(run_dir, plugins, overrides)
    folder = RunFolder(run_dir.resolve())
    results = read_json(folder.results) if folder.results.is_file() else None

    targets = []
    for pair in pairs_of(recipe):
        result = (results or {}).get("targets", {}).get(pair.target)
        if result is None and folder.target_result(pair.target).is_file():
            result = read_json(folder.target_result(pair.target))
        checkpoint = folder.last_checkpoint(pair.name)
        if result is not None and result.get("checkpoint", {}).get("file"):
            checkpoint = folder.root / result["checkpoint"]["file"]
        epochs = {
            int(path.stem.split("-")[1]): path
            for path in folder.checkpoint_dir(pair.name).glob("epoch-*.pt")
            if path.stem.split("-")[1].isdigit()
        }
        targets.append(
            TargetRun(
                pair=pair,
                result=result,
                checkpoint=checkpoint,
                history=_epoch_records(folder, pair.name, result),
                epoch_checkpoints=dict(sorted(epochs.items())),
                predictions=_prediction_files(folder, pair.target, result),
            )
        )

    if not any(target.checkpoint.is_file() for target in targets):
        raise ResumeError(
            f"no checkpoint found in {run_dir}: no pair has finished an epoch yet; audit the "
            "run once at least one epoch has finished"
        )
    return FinishedRun(folder, recipe, results, targets)


def load_model(
    recipe: Recipe,
    registries: Registries,
    checkpoint: Path,
    classes: tuple[str, ...],
    precision: Precision,
) -> DAModel:
    """Build the recipe's model, load the weights of ``checkpoint`` and move it to the device.

    Args:
        recipe (Recipe): The run's recipe.
        registries (Registries): Registries of the loaded plugins.
        checkpoint (Path): A checkpoint written by ``dafw run``.
        classes (tuple[str, ...]): Class names of the run's datasets as read now.
        precision (Precision): Device and memory format.

    Raises:
        ResumeError: The checkpoint is missing, not a dafw checkpoint, or was trained on
            other classes.
    """
    payload = load_checkpoint(checkpoint)
    stored = tuple(payload.get("classes", classes))
    if stored != tuple(classes):
        raise ResumeError(
            f"checkpoint {checkpoint} was trained on the classes ({', '.join(stored)}), but the "
            f"run's datasets now give ({', '.join(classes)}); audit the run with the dataset "
            "files and recipe it was trained with"
        )
    model = build_model(recipe.model, registries, len(classes))
    model.load_state_dict(payload["model"])
    model.to(precision.device)
    if precision.channels_last:
        model.to(memory_format=torch.channels_last)
    return model.eval()
