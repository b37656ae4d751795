"""The rich progress bar of a training pair: step, losses and throughput."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class TrainProgress:
    """Shows one bar per pair; a no-op when ``console`` is None (other ranks, quiet runs).

    Args:
        console (Console | None): Where to draw.
        pair (str): Pair name shown left of the bar.
        total_steps (int): Optimiser steps of the pair.
        images_per_step (int): Source plus target images per step over all processes.
        completed (int): Steps already done, when resuming. Defaults to 0.
    """

    def __init__(
        self,
        console: Console | None,
        pair: str,
        total_steps: int,
        images_per_step: int,
        completed: int = 0,
    ) -> None:
        self.pair = pair
        self.images_per_step = images_per_step
        self._progress: Progress | None = None
        self._started = time.perf_counter()
        self._steps_timed = 0
        if console is not None:
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console,
            )
            self._task = self._progress.add_task(
                pair, total=total_steps, completed=completed, status=""
            )

    def __enter__(self) -> TrainProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    @property
    def images_per_second(self) -> float:
        """Throughput since the bar started, in images per second (source plus target)."""
        elapsed = time.perf_counter() - self._started
        return self._steps_timed * self.images_per_step / elapsed if elapsed > 0 else 0.0

    def advance(self, epoch: int, epochs: int, values: dict[str, float]) -> None:
        """Count one step and show the epoch, the loss terms and the throughput."""
        self._steps_timed += 1
        if self._progress is None:
            return
        losses = " ".join(
            f"{key.removeprefix('loss/')} {value:.3f}"
            for key, value in values.items()
            if key.startswith("loss/")
        )
        self._progress.update(
            self._task,
            advance=1,
            description=f"{self.pair} epoch {epoch}/{epochs}",
            status=f"{losses} | {self.images_per_second:.0f} img/s",
        )
