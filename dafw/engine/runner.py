"""A whole run: every (source, target) pair of a recipe, resume, scoring and the run folder."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w
import tomllib
import torch
from rich.console import Console

from dafw.engine.checkpoint import load_checkpoint, state_fingerprint
from dafw.engine.device import Precision, resolve_precision
from dafw.engine.distributed import DistContext, init_distributed, shutdown_distributed
from dafw.engine.domains import RunData
from dafw.engine.environment import describe_environment
from dafw.engine.errors import ResumeError, TrainingError
from dafw.engine.evaluation import EVAL_MODES, predict, score, write_mode_outputs
from dafw.engine.plots import plot_loss_curves
from dafw.engine.report import assemble_results, markdown_report
from dafw.engine.run_dir import (
    MetricsLog,
    RunFolder,
    new_run_folder,
    pair_name,
    read_json,
    read_metrics,
    rewrite_metrics,
    write_json,
    write_recipe,
)
from dafw.engine.trainer import EpochCallback, Pair, PairTrainer
from dafw.model import DAModel, build_model
from dafw.plugins import PluginSet
from dafw.recipe import Recipe, iter_components, load_recipe, recipe_to_dict

logger = logging.getLogger("dafw")


@dataclass
class RunOutcome:
    """What a run produced, on every rank.

    Attributes:
        folder (RunFolder): The run folder.
        results (dict[str, Any] | None): Content of ``results.json``; None on ranks other
            than 0.
        fingerprints (dict[str, str]): SHA-256 of the final weights and buffers of each pair
            trained in this call, by pair name. Every rank of a distributed run has the same.
    """

    folder: RunFolder
    results: dict[str, Any] | None = None
    fingerprints: dict[str, str] = field(default_factory=dict)


def pairs_of(recipe: Recipe) -> list[Pair]:
    """Return the (source, target) pairs of ``recipe``, in target order."""
    source = recipe.data.source.type
    return [
        Pair(index, pair_name(source, target.label), target.label)
        for index, target in enumerate(recipe.data.targets)
    ]


def load_run_recipe(
    run_dir: Path, plugins: PluginSet, overrides: tuple[str, ...] = ()
) -> Recipe:
    """Load the resolved recipe stored in a run folder.

    Raises:
        ResumeError: ``run_dir`` has no ``recipe.toml``.
    """
    folder = RunFolder(run_dir.resolve())
    if not folder.recipe.is_file():
        raise ResumeError(
            f"{run_dir} is not a dafw run folder: {folder.recipe.name} is missing; pass the "
            "folder that `dafw run` created"
        )
    return load_recipe(folder.recipe, overrides, plugins=plugins)


def run_recipe(
    recipe: Recipe,
    plugins: PluginSet,
    *,
    runs_dir: Path = Path("runs"),
    out: Path | None = None,
    resume: Path | None = None,
    console: Console | None = None,
    progress: bool = True,
    keep_epoch_checkpoints: bool = False,
    on_epoch_end: EpochCallback | None = None,
    command: list[str] | None = None,
) -> RunOutcome:
    """Train and score every pair of ``recipe``, writing the run folder on rank 0.

    Under ``torchrun`` each process calls this function; the process group is joined and
    left here.

    Args:
        recipe (Recipe): The validated recipe (for ``resume``, the one stored in the run).
        plugins (PluginSet): Loaded plugins.
        runs_dir (Path): Parent of new timestamped run folders. Defaults to ``runs``.
        out (Path | None): Exact folder of a new run instead; must be missing or empty.
        resume (Path | None): Folder of a stopped run to continue: finished pairs are kept,
            the interrupted pair continues after its last checkpoint.
        console (Console | None): Where rank 0 prints the run folder and draws progress
            bars; None prints nothing.
        progress (bool): Draw progress bars on ``console``. Defaults to True.
        keep_epoch_checkpoints (bool): Keep every epoch's checkpoint, not only the last.
        on_epoch_end (EpochCallback | None): Called on every rank after each epoch's
            checkpoint; raising in it stops the run as an interruption would.
        command (list[str] | None): Command line for ``environment.json``. Defaults to
            ``sys.argv``.

    Raises:
        NonFiniteLossError: A loss became NaN or infinite.
        ResumeError: ``resume`` is not a run folder.
        TrainingError: The device or the run folder is unusable.
    """
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    precision = resolve_precision(recipe.train, local_rank)
    context = init_distributed(use_cuda=precision.device.type == "cuda")
    try:
        folder = _prepare_folder(recipe, context, runs_dir, out, resume)
        console = console if context.is_main else None
        if console is not None:
            verb = "resuming" if resume is not None else "writing"
            console.print(f"{verb} run folder {folder.root}")
        run = _Run(recipe, plugins, folder, context, precision, console if progress else None)
        run.keep_epoch_checkpoints = keep_epoch_checkpoints
        run.on_epoch_end = on_epoch_end
        if context.is_main:
            run.write_environment(command or sys.argv, resuming=resume is not None)
        return run.execute(resuming=resume is not None)
    finally:
        shutdown_distributed(context)


def _prepare_folder(
    recipe: Recipe, context: DistContext, runs_dir: Path, out: Path | None, resume: Path | None
) -> RunFolder:
    """Create or check the run folder on rank 0 and share its path, or its error, with all ranks."""
    path: str | None = None
    problem: tuple[type[TrainingError], str] | None = None
    if context.is_main:
        try:
            folder = _open_folder(recipe, runs_dir, out, resume)
            path = str(folder.root)
        except TrainingError as error:
            problem = (type(error), str(error))
    path, problem = context.broadcast_object((path, problem))
    if problem is not None:
        kind, message = problem
        raise kind(message)
    return RunFolder(Path(path))


def _open_folder(
    recipe: Recipe, runs_dir: Path, out: Path | None, resume: Path | None
) -> RunFolder:
    if resume is None:
        folder = new_run_folder(recipe.name, runs_dir, out)
        write_recipe(folder, recipe)
        return folder

    folder = RunFolder(resume.resolve())
    if not folder.recipe.is_file():
        raise ResumeError(f"{resume} is not a dafw run folder: recipe.toml is missing")
    stored = tomllib.loads(folder.recipe.read_text(encoding="utf-8"))
    given = tomllib.loads(tomli_w.dumps(recipe_to_dict(recipe)))
    if stored != given:
        raise ResumeError(
            f"the recipe differs from the one stored in {folder.recipe}; resume with that "
            "recipe (`dafw run --resume` reads it) or start a new run"
        )
    return folder


class _Run:
    """State shared by the pairs of one run."""

    def __init__(
        self,
        recipe: Recipe,
        plugins: PluginSet,
        folder: RunFolder,
        context: DistContext,
        precision: Precision,
        console: Console | None,
    ) -> None:
        self.recipe = recipe
        self.plugins = plugins
        self.folder = folder
        self.context = context
        self.precision = precision
        self.console = console
        self.keep_epoch_checkpoints = False
        self.on_epoch_end: Callable[..., None] | None = None
        self.log = MetricsLog(folder.metrics) if context.is_main else None
        self.data = RunData(recipe, plugins.registries, console)

    def write_environment(self, command: list[str], resuming: bool) -> None:
        """Write ``environment.json``; on resume, append this session to its ``resumes``."""
        described = describe_environment(self.precision, self.context, self.plugins, command)
        described["components"] = {
            ".".join(str(part) for part in loc): str(
                self.plugins.registries[kind].get(spec.type).origin
            )
            for kind, loc, spec in iter_components(self.recipe)
        }
        if resuming and self.folder.environment.is_file():
            original = read_json(self.folder.environment)
            original.setdefault("resumes", []).append(described)
            described = original
        write_json(self.folder.environment, described)

    def execute(self, resuming: bool) -> RunOutcome:
        """Train and score every pair not finished yet, then write the results."""
        outcome = RunOutcome(self.folder)
        results: dict[str, dict[str, Any]] = {}
        for pair in pairs_of(self.recipe):
            result_path = self.folder.target_result(pair.target)
            if resuming and result_path.is_file():
                logger.info("pair %s already finished; keeping its result", pair.name)
                if self.context.is_main:
                    results[pair.target] = read_json(result_path)
                continue
            trainer = self.train_pair(pair, resuming)
            outcome.fingerprints[pair.name] = state_fingerprint(trainer.model)
            if self.context.is_main:
                results[pair.target] = self.finish_pair(trainer)
            del trainer
            self.context.barrier()
            self.data.release(pair.target)

        if self.log is not None:
            self.log.close()
        if self.context.is_main:
            outcome.results = self.write_results(results)
        return outcome

    def train_pair(self, pair: Pair, resuming: bool) -> PairTrainer:
        """Build the pair's data and model, resume it if it has a checkpoint, and train it."""
        self._build_target(pair.target)
        trainer = PairTrainer(
            self.recipe,
            self.plugins.registries,
            self.data,
            pair,
            self.folder,
            self.context,
            self.precision,
            console=self.console,
            log=self.log,
            keep_epoch_checkpoints=self.keep_epoch_checkpoints,
            on_epoch_end=self.on_epoch_end,
        )
        checkpoint = self.folder.last_checkpoint(pair.name)
        if resuming and checkpoint.is_file():
            trainer.resume()
        if self.context.is_main:
            prune_pair_records(self.folder, pair.name, trainer.state.epoch, trainer.state.step)
        self.context.barrier()
        logger.info(
            "training pair %s: %d epochs of %d steps on %s",
            pair.name,
            self.recipe.train.epochs,
            trainer.steps_per_epoch,
            self.precision.describe(),
        )
        trainer.train()
        return trainer

    def _build_target(self, label: str) -> None:
        # Rank 0 decodes first, so that a disk cache is written by one process only.
        if self.context.is_main:
            self.data.source_train()
            self.data.target(label)
        self.context.barrier()
        if not self.context.is_main:
            self.data.source_train()
            self.data.target(label)

    def finish_pair(self, trainer: PairTrainer) -> dict[str, Any]:
        """Score the pair's final model in both modes and write the target's files."""
        pair = trainer.pair
        target = self.data.targets[pair.target]
        scored = score_target(
            trainer.model, self.data, pair.target, self.recipe, self.precision, self.folder
        )
        result = {
            "target": pair.target,
            "dataset": target.spec.type,
            "pair": pair.name,
            "adapt_split": target.spec.adapt_split,
            "test_split": target.spec.test_split,
            "checkpoint": {
                "file": self.folder.relative(self.folder.last_checkpoint(pair.name)),
                "epoch": trainer.state.epoch,
                "step": trainer.state.step,
                "selection": "last",
            },
            **scored,
            "training": {
                "epochs": trainer.state.epoch,
                "steps": trainer.state.step,
                "steps_per_epoch": trainer.steps_per_epoch,
                "seconds": sum(record["seconds"] for record in trainer.state.history),
            },
            "history": trainer.state.history,
            "dataset_report": target.reader.report().to_dict(),
        }
        write_json(self.folder.target_result(pair.target), result)
        return result

    def write_results(self, targets: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """Write ``results.json``, ``report.md`` and ``loss_curves.png``; return the results."""
        results = build_results(self.recipe, self.data, targets)
        write_json(self.folder.results, results)
        self.folder.report.write_text(markdown_report(results), encoding="utf-8")
        plot_loss_curves(loss_curves(read_metrics(self.folder.metrics)), self.folder.loss_curves)
        return results


def build_results(
    recipe: Recipe, data: RunData, targets: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Assemble ``results.json`` for the scored ``targets`` of a run."""
    source = recipe.data.source
    return assemble_results(
        recipe.name,
        recipe.description,
        data.classes,
        {
            "mode": recipe.eval.mode,
            "batch_size": recipe.eval.batch_size,
            "seed": recipe.eval.seed,
            "top_k": recipe.model.prototypes.top_k,
            "modes": list(EVAL_MODES),
        },
        {
            "dataset": source.type,
            "split": source.split,
            "val_split": source.val_split,
            "report": data.source_reader.report().to_dict(),
        },
        targets,
    )


def score_target(
    model: DAModel,
    data: RunData,
    label: str,
    recipe: Recipe,
    precision: Precision,
    folder: RunFolder,
) -> dict[str, Any]:
    """Score ``model`` on the test split of target ``label`` in every eval mode.

    Writes predictions, confusion matrices and their figure under
    ``folder.target_dir(label)/<mode>``.

    Returns:
        dict[str, Any]: ``scores`` (mode to metrics) and ``files`` (mode to file kind to
        path relative to the run folder).
    """
    target = data.target(label, adapt=False)
    assert target.test is not None
    scores: dict[str, Any] = {}
    files: dict[str, dict[str, str]] = {}
    for mode in EVAL_MODES:
        predictions = predict(model, target.test, mode, recipe.eval, precision, recipe.data.workers)
        metrics = score(predictions, data.classes, f"target {label}, {mode} mode")
        out = folder.target_dir(label) / mode
        written = write_mode_outputs(
            out, predictions, metrics, data.classes, f"{label}, {mode} mode"
        )
        scores[mode] = metrics
        files[mode] = {kind: folder.relative(out / name) for kind, name in written.items()}
    return {"scores": scores, "files": files}


def prune_pair_records(folder: RunFolder, pair: str, epoch: int, step: int) -> None:
    """Drop the records of ``pair`` logged after its checkpoint (epoch, step) from the log.

    A resumed pair then logs its steps again from the checkpoint on, and the log ends up
    as if the run had never stopped.
    """
    records = read_metrics(folder.metrics)

    def keep(record: dict[str, Any]) -> bool:
        if record.get("pair") != pair:
            return True
        if record.get("event") == "step":
            return record["step"] < step
        return record.get("epoch", 0) <= epoch

    if any(not keep(record) for record in records):
        rewrite_metrics(folder.metrics, keep, records)


def loss_curves(
    records: list[dict[str, Any]],
) -> dict[str, dict[str, tuple[list[int], list[float]]]]:
    """Collect every finite ``loss/*`` value of the step records, by pair and key."""
    curves: dict[str, dict[str, tuple[list[int], list[float]]]] = {}
    for record in records:
        if record.get("event") != "step":
            continue
        pair = curves.setdefault(record["pair"], {})
        for key, value in record.items():
            if key.startswith("loss/") and isinstance(value, (int, float)):
                steps, values = pair.setdefault(key, ([], []))
                steps.append(record["step"])
                values.append(float(value))
    return curves


def evaluate_run(
    run_dir: Path,
    plugins: PluginSet,
    *,
    out: Path | None = None,
    checkpoint_epoch: int | None = None,
    batch_size: int | None = None,
    seed: int | None = None,
    console: Console | None = None,
) -> tuple[RunFolder, dict[str, Any]]:
    """Score a trained run again from its checkpoints, without training.

    Args:
        run_dir (Path): Folder written by ``dafw run``.
        plugins (PluginSet): Loaded plugins.
        out (Path | None): Folder of the new results. Defaults to ``<run_dir>/eval``.
        checkpoint_epoch (int | None): Score the kept checkpoint of this epoch instead of
            the last one; it exists only for runs made with ``keep_epoch_checkpoints``.
        batch_size (int | None): Batch-mode test batch size instead of the recipe's.
        seed (int | None): Seed of the batch-mode test order instead of the recipe's.
        console (Console | None): Where to draw decoding progress bars.

    Returns:
        tuple[RunFolder, dict[str, Any]]: The folder written and the new results.

    Raises:
        ResumeError: The run folder or a checkpoint is missing.
    """
    run = RunFolder(run_dir.resolve())
    recipe = load_run_recipe(run.root, plugins)
    if batch_size is not None:
        recipe.eval.batch_size = batch_size
    if seed is not None:
        recipe.eval.seed = seed
    precision = resolve_precision(recipe.train)
    data = RunData(recipe, plugins.registries, console)
    destination = RunFolder((out or run.root / "eval").resolve())
    destination.root.mkdir(parents=True, exist_ok=True)
    write_recipe(destination, recipe)

    targets: dict[str, dict[str, Any]] = {}
    for pair in pairs_of(recipe):
        path = (
            run.last_checkpoint(pair.name)
            if checkpoint_epoch is None
            else run.epoch_checkpoint(pair.name, checkpoint_epoch)
        )
        payload = load_checkpoint(path)
        model = build_model(recipe.model, plugins.registries, len(data.classes))
        model.load_state_dict(payload["model"])
        model.to(precision.device)
        if precision.channels_last:
            model.to(memory_format=torch.channels_last)
        target = data.targets[pair.target]
        scored = score_target(model, data, pair.target, recipe, precision, destination)
        targets[pair.target] = {
            "target": pair.target,
            "dataset": target.spec.type,
            "pair": pair.name,
            "adapt_split": target.spec.adapt_split,
            "test_split": target.spec.test_split,
            "checkpoint": {
                "file": os.path.relpath(path, destination.root),
                "epoch": payload["epoch"],
                "step": payload["step"],
                "selection": "last" if checkpoint_epoch is None else f"epoch {checkpoint_epoch}",
            },
            **scored,
            "dataset_report": target.reader.report().to_dict(),
        }
        data.release(pair.target)

    results = build_results(recipe, data, targets)
    results["evaluated"] = {"run": str(run.root), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    write_json(destination.results, results)
    destination.report.write_text(markdown_report(results), encoding="utf-8")
    return destination, results
