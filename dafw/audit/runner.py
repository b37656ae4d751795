"""Running every audit check on a finished run, target by target."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from dafw.audit.arrangements import audit_arrangements
from dafw.audit.batching import run_batch_composition
from dafw.audit.findings import (
    ADAPTATION_VS_TEST,
    CHECKS,
    SOURCE_VS_TEST,
    Finding,
    TargetAudit,
    collect_findings,
)
from dafw.audit.hashing import PerceptualMethod
from dafw.audit.inputs import FinishedRun, TargetRun, load_model, open_run
from dafw.audit.labels import check_adaptation_set
from dafw.audit.overlap import SplitHashes, compare_splits, hash_split
from dafw.audit.sanity import DEFAULT_TOLERANCE, check_metrics
from dafw.audit.selection import EpochScores, epoch_scores, select_epochs
from dafw.data import DatasetReader, LabelledDataset
from dafw.data.progress import rich_progress
from dafw.engine.device import Precision, resolve_precision
from dafw.engine.domains import RunData
from dafw.engine.evaluation import Predictions, predict
from dafw.engine.metrics import mean_entropy
from dafw.errors import DafwError
from dafw.plugins import PluginSet

logger = logging.getLogger("dafw")

AUDIT_FORMAT = 1
DEFAULT_MAX_DISTANCE = 4


class AuditError(DafwError):
    """An audit that cannot run as asked: an unknown target or check, an empty selection."""


@dataclass
class AuditOptions:
    """Settings of one audit; None takes the value from the run's recipe.

    Attributes:
        checks (tuple[str, ...]): Checks to run, a subset of ``CHECKS``.
        targets (tuple[str, ...]): Targets to audit; empty audits every target.
        threshold (float | None): Flagged accuracy spread, in points (``audit.threshold``).
        seeds (int | None): Shuffled test orders (``audit.seeds``).
        batch_sizes (list[int] | None): Batch sizes scored (``audit.batch_sizes``).
        hash_method (str): Perceptual hash of the overlap check, ``phash`` or ``dhash``.
        max_distance (int): Largest Hamming distance, in bits, counted as near-identical.
        device (str | None): ``auto``, ``cpu`` or ``cuda`` (``train.device``).
        workers (int | None): Data-loader worker processes (``data.workers``).
        epoch_entropy (bool): Score every kept epoch checkpoint to get the target entropy
            when the run did not store it.
        reuse_embeddings (bool): Run the backbone once per test image and only the later
            layers per arrangement, when the embeddings do not depend on the batch.
        overrides (tuple[str, ...]): ``KEY.PATH=VALUE`` changes to the stored recipe.
        tolerance (float): Accepted difference between reported and recomputed metrics.
    """

    checks: tuple[str, ...] = CHECKS
    targets: tuple[str, ...] = ()
    threshold: float | None = None
    seeds: int | None = None
    batch_sizes: list[int] | None = None
    hash_method: PerceptualMethod = "phash"
    max_distance: int = DEFAULT_MAX_DISTANCE
    device: str | None = None
    workers: int | None = None
    epoch_entropy: bool = True
    reuse_embeddings: bool = True
    overrides: tuple[str, ...] = ()
    tolerance: float = DEFAULT_TOLERANCE


@dataclass
class AuditResult:
    """The audit of a whole run.

    Attributes:
        run (Path): The run folder.
        recipe (str): Recipe name.
        settings (dict[str, Any]): The settings used, every default filled in.
        device (str): Device, AMP and memory format of the re-evaluation.
        targets (list[TargetAudit]): One entry per audited target.
        findings (list[Finding]): Flags and notes of every target.
        unfinished (list[str]): Targets left out because their pair has neither a
            checkpoint nor a result.
        seconds (float): Wall time of the audit.
    """

    run: Path
    recipe: str
    settings: dict[str, Any]
    device: str
    targets: list[TargetAudit] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def flags(self) -> list[Finding]:
        """The findings of severity ``flag``."""
        return [finding for finding in self.findings if finding.severity == "flag"]

    def to_dict(self) -> dict[str, Any]:
        """Return the content of ``audit.json``."""
        return {
            "format": AUDIT_FORMAT,
            "run": str(self.run),
            "recipe": self.recipe,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "seconds": self.seconds,
            "device": self.device,
            "settings": self.settings,
            "flagged": bool(self.flags),
            "flags": [finding.to_dict() for finding in self.flags],
            "notes": [finding.to_dict() for finding in self.findings if finding.severity == "note"],
            "unfinished_targets": self.unfinished,
            "targets": {target.label: target.to_dict() for target in self.targets},
        }


def _progress(console: Console | None, description: str) -> AbstractContextManager[Any]:
    return rich_progress(description, console=console) if console is not None else nullcontext(None)


class _Auditor:
    """State shared by the targets of one audit: the run, its data and the hash memo."""

    def __init__(
        self, run: FinishedRun, plugins: PluginSet, options: AuditOptions, console: Console | None
    ) -> None:
        self.run = run
        self.plugins = plugins
        self.options = options
        self.console = console
        recipe = run.recipe
        audit = recipe.audit
        self.threshold = audit.threshold if options.threshold is None else options.threshold
        self.seeds = audit.seeds if options.seeds is None else options.seeds
        self.batch_sizes = list(
            audit.batch_sizes if options.batch_sizes is None else options.batch_sizes
        )
        self.workers = recipe.data.workers if options.workers is None else options.workers
        train = recipe.train
        if options.device is not None:
            train = train.model_copy(update={"device": options.device})
        self.precision: Precision = resolve_precision(train)
        self.data = RunData(recipe, plugins.registries, console)
        self.hashes: dict[tuple[str, str], SplitHashes] = {}

    def settings(self) -> dict[str, Any]:
        """Return the settings used, for ``audit.json``."""
        recipe = self.run.recipe
        return {
            "checks": list(self.options.checks),
            "threshold_points": self.threshold,
            "shuffled_seeds": [recipe.eval.seed + offset for offset in range(self.seeds)],
            "batch_sizes": self.batch_sizes,
            "eval_mode": recipe.eval.mode,
            "eval_batch_size": recipe.eval.batch_size,
            "eval_seed": recipe.eval.seed,
            "perceptual_hash": self.options.hash_method,
            "max_distance_bits": self.options.max_distance,
            "metric_tolerance": self.options.tolerance,
            "reuse_embeddings": self.options.reuse_embeddings,
        }

    def audit_target(self, target_run: TargetRun) -> TargetAudit:
        """Run every requested check on one target."""
        checks = self.options.checks
        label = target_run.label
        target = self.data.target(label, adapt="labels" in checks)
        assert target.test is not None
        result = target_run.result or {}
        audit = TargetAudit(
            label=label,
            pair=target_run.pair.name,
            dataset=target.spec.type,
            adapt_split=target.spec.adapt_split,
            test_split=target.spec.test_split,
            test_images=len(target.test),
            checkpoint={
                "file": self.run.folder.relative(target_run.checkpoint),
                "epoch": result.get("checkpoint", {}).get("epoch"),
                "step": result.get("checkpoint", {}).get("step"),
            },
        )

        if "batch" in checks:
            self.check_batches(audit, target_run, target.test)
        if "selection" in checks:
            self.check_selection(audit, target_run, target.test)
        if "overlap" in checks:
            self.check_overlap(
                audit, target.reader, target.spec.adapt_split, target.spec.test_split
            )
        if "metrics" in checks:
            self.check_metrics(audit, target_run)
        if "labels" in checks:
            assert target.adapt is not None
            audit.labels = check_adaptation_set(target.adapt, label)

        self.data.release(label)
        return audit

    def check_batches(
        self, audit: TargetAudit, target_run: TargetRun, test: LabelledDataset
    ) -> None:
        """Score the final model under every batch arrangement."""
        if not target_run.checkpoint.is_file():
            audit.skipped["batch"] = f"checkpoint {target_run.checkpoint} is missing"
            return
        recipe = self.run.recipe
        model = load_model(
            recipe,
            self.plugins.registries,
            target_run.checkpoint,
            self.data.classes,
            self.precision,
        )
        labels = np.asarray(test.labels, dtype=np.int64)
        arrangements = audit_arrangements(
            labels, recipe.eval.batch_size, recipe.eval.seed, self.seeds, self.batch_sizes
        )
        description = f"target {audit.label}: scoring batch arrangements"
        with _progress(self.console, description) as progress:
            audit.batch = run_batch_composition(
                model,
                test,
                labels,
                self.data.classes,
                arrangements,
                self.precision,
                self.threshold,
                audit.label,
                self.workers,
                progress,
                reuse_embeddings=self.options.reuse_embeddings,
            )
        reported = (target_run.result or {}).get("scores", {}).get("batch", {})
        audit.batch.reported_accuracy = reported.get("accuracy")

    def check_selection(
        self, audit: TargetAudit, target_run: TargetRun, test: LabelledDataset
    ) -> None:
        """Compare epoch-selection rules on the stored per-epoch scores."""
        mode = self.run.recipe.eval.mode
        scores = epoch_scores(target_run.history, mode)
        entropy_source = (
            "stored by dafw run" if any(s.target_entropy is not None for s in scores) else None
        )
        if (
            scores
            and entropy_source is None
            and self.options.epoch_entropy
            and target_run.epoch_checkpoints
        ):
            entropy_source = self.epoch_entropies(scores, target_run, test)
        audit.selection = select_epochs(scores, mode)
        audit.selection.entropy_source = entropy_source

    def epoch_entropies(
        self, scores: list[EpochScores], target_run: TargetRun, test: LabelledDataset
    ) -> str | None:
        """Fill the target entropy of every epoch that has a kept checkpoint.

        Returns:
            str | None: Where the entropies come from, or None when no epoch had one.
        """
        recipe = self.run.recipe
        filled = 0
        for scored in scores:
            path = target_run.epoch_checkpoints.get(scored.epoch)
            if path is None:
                continue
            model = load_model(
                recipe, self.plugins.registries, path, self.data.classes, self.precision
            )
            predictions = predict(
                model, test, recipe.eval.mode, recipe.eval, self.precision, self.workers
            )
            scored.target_entropy = mean_entropy(predictions.probabilities)
            filled += 1
        if not filled:
            return None
        return (
            f"recomputed from {filled} kept epoch checkpoint(s) on the target test images, "
            "labels unused"
        )

    def split_hashes(self, role: str, reader: DatasetReader, split: str) -> SplitHashes:
        """Hash a split once per audit."""
        key = (role, split)
        if key not in self.hashes:
            name = f"{role} {reader.name} ({split})"
            with _progress(self.console, f"hashing {name}") as progress:
                self.hashes[key] = hash_split(
                    reader, split, self.options.hash_method, name, progress
                )
        return self.hashes[key]

    def check_overlap(
        self, audit: TargetAudit, reader: DatasetReader, adapt_split: str, test_split: str
    ) -> None:
        """Compare the target test split with the source training and adaptation splits."""
        source_spec = self.run.recipe.data.source
        source = self.split_hashes("source", self.data.source_reader, source_spec.split)
        test = self.split_hashes(f"target {audit.label}", reader, test_split)
        distance = self.options.max_distance
        audit.overlap = {SOURCE_VS_TEST: compare_splits(source, test, distance)}
        if adapt_split == test_split:
            audit.overlap[ADAPTATION_VS_TEST] = compare_splits(
                test, test, distance, same_split=True
            )
        else:
            adaptation = self.split_hashes(f"target {audit.label}", reader, adapt_split)
            audit.overlap[ADAPTATION_VS_TEST] = compare_splits(adaptation, test, distance)

    def check_metrics(self, audit: TargetAudit, target_run: TargetRun) -> None:
        """Recompute accuracy and AUROC from the stored predictions of every mode."""
        scores = (target_run.result or {}).get("scores", {})
        if not target_run.predictions:
            audit.skipped["metrics"] = "the run stored no test predictions (predictions.npz)"
            return
        audit.metrics = []
        for mode, path in target_run.predictions.items():
            predictions = Predictions.load(path)
            check = check_metrics(
                f"{mode} mode",
                scores.get(mode, {}),
                predictions.probabilities,
                predictions.labels,
                self.options.tolerance,
            )
            audit.metrics.append(check)


def _chosen_targets(run: FinishedRun, names: tuple[str, ...]) -> list[TargetRun]:
    known = {target.label: target for target in run.targets}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise AuditError(
            f"unknown target(s) {', '.join(unknown)}; the run's targets are: {', '.join(known)}"
        )
    return [known[name] for name in names] if names else run.targets


def run_audit(
    run_dir: Path,
    plugins: PluginSet,
    options: AuditOptions | None = None,
    console: Console | None = None,
    on_target: Callable[[TargetAudit], None] | None = None,
) -> AuditResult:
    """Audit the finished run in ``run_dir``.

    Args:
        run_dir (Path): Folder written by ``dafw run``.
        plugins (PluginSet): Loaded plugins.
        options (AuditOptions | None): Settings; None takes the recipe's ``audit`` table.
        console (Console | None): Where progress bars go; None draws none.
        on_target (Callable[[TargetAudit], None] | None): Called after each target.

    Raises:
        AuditError: An unknown target or check was asked for.
        ResumeError: ``run_dir`` is not a run folder or contains no checkpoint.
    """
    options = options or AuditOptions()
    unknown = [check for check in options.checks if check not in CHECKS]
    if unknown or not options.checks:
        raise AuditError(
            f"unknown or no checks: {', '.join(unknown) or '(none)'}; "
            f"choose from: {', '.join(CHECKS)}"
        )

    started = time.perf_counter()
    run = open_run(run_dir, plugins, options.overrides)
    auditor = _Auditor(run, plugins, options, console)
    result = AuditResult(
        run=run.folder.root,
        recipe=run.recipe.name,
        settings=auditor.settings(),
        device=auditor.precision.describe(),
    )
    for target_run in _chosen_targets(run, options.targets):
        if not target_run.checkpoint.is_file() and target_run.result is None:
            logger.warning(
                "target %s is left out: its pair %s has no checkpoint and no result yet",
                target_run.label,
                target_run.pair.name,
            )
            result.unfinished.append(target_run.label)
            continue
        logger.info("auditing target %s", target_run.label)
        audit = auditor.audit_target(target_run)
        result.targets.append(audit)
        result.findings += collect_findings(audit)
        if on_target is not None:
            on_target(audit)
    result.seconds = time.perf_counter() - started
    return result
