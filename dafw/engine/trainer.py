"""Training of one (source, target) pair: the step, the epoch loop, checkpoints and resume."""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from torch.nn.parallel import DistributedDataParallel

from dafw.components import AlignContext
from dafw.engine.checkpoint import load_checkpoint, save_checkpoint
from dafw.engine.device import Precision, make_grad_scaler
from dafw.engine.distributed import DistContext
from dafw.engine.domains import RunData
from dafw.engine.errors import NonFiniteLossError, ResumeError
from dafw.engine.evaluation import predict, score
from dafw.engine.loaders import CyclingLoader, build_cycling_loader
from dafw.engine.metrics import mean_entropy, summary
from dafw.engine.objective import AdaptationObjective, build_objective
from dafw.engine.optim import build_optimizer, clip_gradients
from dafw.engine.progress import TrainProgress
from dafw.engine.run_dir import MetricsLog, RunFolder
from dafw.engine.schedule import build_scheduler
from dafw.engine.seeding import capture_rng_state, derive_seed, restore_rng_state, seed_everything
from dafw.model import DAModel, build_model
from dafw.recipe import Recipe
from dafw.registry import Registries

logger = logging.getLogger("dafw")


@dataclass(frozen=True)
class Pair:
    """One (source, target) pair of a recipe.

    Attributes:
        index (int): Position of the target in ``data.targets``.
        name (str): Folder-safe pair name, such as ``rafdb_to_jaffe``.
        target (str): Name of the target in reports.
    """

    index: int
    name: str
    target: str


@dataclass(frozen=True)
class EpochEnd:
    """Passed to the ``on_epoch_end`` callback after an epoch's checkpoint is written.

    Attributes:
        pair (Pair): The pair being trained.
        epoch (int): Epochs completed, 1-based.
        epochs (int): Epochs of the pair.
        step (int): Optimiser steps completed.
    """

    pair: Pair
    epoch: int
    epochs: int
    step: int


EpochCallback = Callable[[EpochEnd], None]


@dataclass
class TrainState:
    """Progress of the training of one pair.

    Attributes:
        epoch (int): Epochs completed.
        step (int): Optimiser steps completed.
        history (list[dict[str, Any]]): One record per completed epoch: time, throughput,
            mean losses and, with ``evaluate_every_epoch``, the scores of that epoch.
    """

    epoch: int = 0
    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)


def steps_per_epoch(recipe: Recipe, source: CyclingLoader, target: CyclingLoader) -> int:
    """Return the optimiser steps of one epoch, per ``train.epoch_length``."""
    length = recipe.train.epoch_length
    if length == "source":
        return source.batches_per_cycle
    if length == "target":
        return target.batches_per_cycle
    return int(length)


class PairTrainer:
    """Builds and trains a fresh model for one pair; resumable from its last checkpoint.

    Args:
        recipe (Recipe): The validated recipe.
        registries (Registries): Registries of the plugins.
        data (RunData): Readers and datasets of the run.
        pair (Pair): The pair to train.
        folder (RunFolder): The run folder; only rank 0 writes to it.
        context (DistContext): Rank and world size.
        precision (Precision): Device, AMP and memory format.
        console (Console | None): Where rank 0 draws the progress bar; None draws nothing.
        log (MetricsLog | None): Metrics log of rank 0; None on other ranks.
        keep_epoch_checkpoints (bool): Keep a copy of every epoch's checkpoint.
        on_epoch_end (EpochCallback | None): Called on every rank after each epoch.
    """

    def __init__(
        self,
        recipe: Recipe,
        registries: Registries,
        data: RunData,
        pair: Pair,
        folder: RunFolder,
        context: DistContext,
        precision: Precision,
        console: Console | None = None,
        log: MetricsLog | None = None,
        keep_epoch_checkpoints: bool = False,
        on_epoch_end: EpochCallback | None = None,
    ) -> None:
        self.recipe = recipe
        self.data = data
        self.pair = pair
        self.folder = folder
        self.context = context
        self.precision = precision
        self.console = console if context.is_main else None
        self.log = log if context.is_main else None
        self.keep_epoch_checkpoints = keep_epoch_checkpoints
        self.on_epoch_end = on_epoch_end
        self.state = TrainState()
        train = recipe.train

        seed_everything(derive_seed(recipe.seed, "init"))
        self.model: DAModel = build_model(recipe.model, registries, len(data.classes))
        self.objective: AdaptationObjective = build_objective(
            self.model, recipe.aligners, registries
        )
        if precision.channels_last:
            self.objective.to(memory_format=torch.channels_last)
        self.objective.to(precision.device)
        seed_everything(derive_seed(recipe.seed, "train", context.rank))

        self.wrapped: torch.nn.Module = self.objective
        if context.distributed:
            device_ids = [precision.device.index] if precision.device.type == "cuda" else None
            self.wrapped = DistributedDataParallel(self.objective, device_ids=device_ids)

        self.source_loader, self.target_loader = self.build_loaders()
        self.steps_per_epoch = steps_per_epoch(recipe, self.source_loader, self.target_loader)
        self.total_steps = self.steps_per_epoch * train.epochs
        self.optimizer = build_optimizer(self.objective.parameters(), train.optimizer)
        self.scheduler = build_scheduler(
            self.optimizer,
            train.schedule,
            train.optimizer.lr,
            self.steps_per_epoch,
            self.total_steps,
        )
        self.scaler = make_grad_scaler(precision)

    def build_loaders(self) -> tuple[CyclingLoader, CyclingLoader]:
        """Build the endless source and target loaders of this rank.

        The source order depends only on the recipe seed, so every pair sees the same
        source batches; the target order also depends on the target's name.
        """
        recipe = self.recipe
        target = self.data.targets[self.pair.target]
        assert target.adapt is not None, "RunData.target(label) must build the adaptation set"
        common = {
            "batch_size": recipe.train.batch_size,
            "workers": recipe.data.workers,
            "rank": self.context.rank,
            "world_size": self.context.world_size,
            "pin_memory": self.precision.device.type == "cuda",
        }
        source_train = self.data.source_train()
        class_sorted = recipe.train.batch_order == "class_sorted"
        source = build_cycling_loader(
            source_train,
            seed=derive_seed(recipe.seed, "source"),
            name=f"source {recipe.data.source.type} (split {recipe.data.source.split})",
            sort_keys=list(source_train.labels) if class_sorted else None,
            **common,
        )
        adaptation = build_cycling_loader(
            target.adapt,
            seed=derive_seed(recipe.seed, "target", self.pair.target),
            name=f"target {self.pair.target} (split {target.spec.adapt_split})",
            **common,
        )
        return source, adaptation

    @property
    def checkpoint_path(self) -> Path:
        """The pair's ``last.pt``."""
        return self.folder.last_checkpoint(self.pair.name)

    def resume(self) -> None:
        """Load the pair's last checkpoint and continue after its epoch.

        Raises:
            ResumeError: The checkpoint belongs to another pair or another step plan.
        """
        payload = load_checkpoint(self.folder.last_checkpoint(self.pair.name))
        if payload["pair"] != self.pair.name or payload["steps_per_epoch"] != self.steps_per_epoch:
            raise ResumeError(
                f"checkpoint {self.checkpoint_path} is for pair {payload['pair']} with "
                f"{payload['steps_per_epoch']} steps per epoch, but the recipe gives pair "
                f"{self.pair.name} with {self.steps_per_epoch}; resume with the recipe and "
                "number of processes the run started with"
            )
        self.objective.model.load_state_dict(payload["model"])
        self.objective.aligners.load_state_dict(payload["aligners"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        self.scaler.load_state_dict(payload["scaler"])
        self.source_loader.load_state_dict(payload["loaders"]["source"])
        self.target_loader.load_state_dict(payload["loaders"]["target"])
        self.state = TrainState(payload["epoch"], payload["step"], list(payload["history"]))

        rng_states = payload["rng"]
        if len(rng_states) == self.context.world_size:
            restore_rng_state(rng_states[self.context.rank])
        else:
            logger.warning(
                "checkpoint %s was written by %d process(es), this run has %d; random "
                "states are reseeded, so the result will differ from an uninterrupted run",
                self.checkpoint_path,
                len(rng_states),
                self.context.world_size,
            )
        logger.info(
            "resuming pair %s after epoch %d (step %d)",
            self.pair.name,
            self.state.epoch,
            self.state.step,
        )

    def train(self) -> TrainState:
        """Train the remaining epochs of the pair and return the final state.

        Raises:
            NonFiniteLossError: A loss term is NaN or infinite; the last checkpoint is the
                one of the previous epoch.
        """
        epochs = self.recipe.train.epochs
        images_per_step = 2 * self.recipe.train.batch_size * self.context.world_size
        progress = TrainProgress(
            self.console, self.pair.name, self.total_steps, images_per_step, self.state.step
        )
        with progress:
            while self.state.epoch < epochs:
                started = time.perf_counter()
                sums: dict[str, float] = {}
                for _ in range(self.steps_per_epoch):
                    values = self.train_step()
                    for key, value in values.items():
                        sums[key] = sums.get(key, 0.0) + value
                    progress.advance(self.state.epoch + 1, epochs, values)
                seconds = time.perf_counter() - started
                self.end_epoch(seconds, images_per_step, sums)
        self.sync_buffers()
        return self.state

    def sync_buffers(self) -> None:
        """Copy rank 0's buffers (BatchNorm statistics, prototypes) to every rank.

        DDP broadcasts buffers at the start of each forward pass, so after the last step
        each rank keeps its own updates. The copy gives every rank the model that rank 0
        checkpoints and scores.
        """
        if not self.context.distributed:
            return
        for buffer in self.objective.buffers():
            torch.distributed.broadcast(buffer, src=0)

    def train_step(self) -> dict[str, float]:
        """Run one optimiser step on a source and a target batch; return the logged values."""
        source_images, source_labels = next(self.source_loader)
        target_images = next(self.target_loader)
        source_images = self.precision.to_device(source_images)
        source_labels = source_labels.to(self.precision.device, non_blocking=True)
        target_images = self.precision.to_device(target_images)

        self.objective.train()
        context = AlignContext(step=self.state.step, total_steps=self.total_steps)
        with self.precision.autocast():
            losses = self.wrapped(source_images, source_labels, target_images, context)

        keys = list(losses.terms) + list(losses.scalars)
        device = self.precision.device
        local = torch.stack(
            [term.float() for term in losses.terms.values()]
            + [torch.tensor(value, device=device) for value in losses.scalars.values()]
        )
        averaged = self.context.mean(local).tolist()
        values = dict(zip(keys, averaged, strict=True))
        lr = self.optimizer.param_groups[0]["lr"]
        self.check_finite(values)

        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(losses.total).backward()
        if self.recipe.train.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            clip_gradients(self.objective.parameters(), self.recipe.train.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()

        if self.log is not None:
            record = {
                "event": "step",
                "pair": self.pair.name,
                "epoch": self.state.epoch + 1,
                "step": self.state.step,
                "lr": lr,
            }
            record.update(values)
            self.log.write(record)
        self.state.step += 1
        return values

    def check_finite(self, values: dict[str, float]) -> None:
        """Raise ``NonFiniteLossError`` for the first loss term that is NaN or infinite.

        The terms come in log order (task, each aligner, total), so the total is named
        only when every term is finite and their sum overflows.
        """
        for key, value in values.items():
            if key.startswith("loss/") and not math.isfinite(value):
                self.stop_non_finite(key, value)

    def stop_non_finite(self, key: str, value: float) -> None:
        """Log the non-finite value and raise ``NonFiniteLossError``."""
        path = self.folder.last_checkpoint(self.pair.name)
        checkpoint = str(path) if path.is_file() else "none (no epoch finished yet)"
        if self.log is not None:
            self.log.write(
                {
                    "event": "non_finite",
                    "pair": self.pair.name,
                    "epoch": self.state.epoch + 1,
                    "step": self.state.step,
                    "term": key,
                    "value": value,
                }
            )
        raise NonFiniteLossError(self.pair.name, self.state.step, key, value, checkpoint)

    def end_epoch(self, seconds: float, images_per_step: int, sums: dict[str, float]) -> None:
        """Record the epoch, score it if asked, write the checkpoint and call the callback."""
        self.state.epoch += 1
        record: dict[str, Any] = {
            "event": "epoch",
            "pair": self.pair.name,
            "epoch": self.state.epoch,
            "step": self.state.step,
            "seconds": seconds,
            "images_per_s": self.steps_per_epoch * images_per_step / seconds if seconds else None,
            "mean": {key: total / self.steps_per_epoch for key, total in sums.items()},
        }
        if self.recipe.train.evaluate_every_epoch:
            record["scores"] = self.evaluate_epoch()
        self.state.history.append(record)
        if self.log is not None:
            self.log.write(record)
        self.save()
        if self.on_epoch_end is not None:
            event = EpochEnd(self.pair, self.state.epoch, self.recipe.train.epochs, self.state.step)
            self.on_epoch_end(event)

    def evaluate_epoch(self) -> dict[str, Any] | None:
        """Score the current model on the target test split (both modes) and the source
        validation split, on rank 0; other ranks return None.

        The random states are saved before and restored after, so scoring every epoch
        does not change the training run.
        """
        if not self.context.is_main:
            self.context.barrier()
            return None
        saved = capture_rng_state()
        settings = self.recipe.eval
        workers = self.recipe.data.workers
        target = self.data.targets[self.pair.target]
        assert target.test is not None
        scores: dict[str, Any] = {"target": {}}
        for mode in ("batch", "single"):
            predictions = predict(
                self.model, target.test, mode, settings, self.precision, workers
            )
            # The final scoring warns about absent classes, once per mode.
            context = f"target {self.pair.target}, {mode} mode"
            metrics = score(predictions, self.data.classes, context, warn=False)
            entropy = mean_entropy(predictions.probabilities)
            scores["target"][mode] = {**summary(metrics), "mean_entropy": entropy}
        validation = self.data.source_val()
        if validation is not None:
            predictions = predict(
                self.model, validation, settings.mode, settings, self.precision, workers
            )
            context = f"source validation, {settings.mode} mode"
            metrics = score(predictions, self.data.classes, context, warn=False)
            scores["source_val"] = {"mode": settings.mode, **summary(metrics)}
        restore_rng_state(saved)
        self.context.barrier()
        return scores

    def save(self) -> None:
        """Write the end-of-epoch checkpoint on rank 0 (every rank's random state included)."""
        rng_states = self.context.gather_objects(capture_rng_state())
        if not self.context.is_main:
            return
        payload = {
            "pair": self.pair.name,
            "pair_index": self.pair.index,
            "target": self.pair.target,
            "classes": list(self.data.classes),
            "epoch": self.state.epoch,
            "step": self.state.step,
            "steps_per_epoch": self.steps_per_epoch,
            "total_steps": self.total_steps,
            "world_size": self.context.world_size,
            "history": self.state.history,
            "model": self.objective.model.state_dict(),
            "aligners": self.objective.aligners.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "loaders": {
                "source": self.source_loader.state_dict(),
                "target": self.target_loader.state_dict(),
            },
            "rng": rng_states,
        }
        path = self.folder.last_checkpoint(self.pair.name)
        save_checkpoint(path, payload)
        if self.keep_epoch_checkpoints:
            shutil.copyfile(path, self.folder.epoch_checkpoint(self.pair.name, self.state.epoch))
