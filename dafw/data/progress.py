"""A rich progress bar that plugs into the decode cache's progress callback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from dafw.data.cache import ProgressCallback


@contextmanager
def rich_progress(description: str, console: Console | None = None) -> Iterator[ProgressCallback]:
    """Show a progress bar while the body runs and yield the callback that advances it.

    Example:
        >>> with rich_progress("decoding fer2013 train") as progress:  # doctest: +SKIP
        ...     dataset = LabelledDataset(reader, "train", cache=cache, progress=progress)

    Args:
        description (str): Text left of the bar.
        console (Console | None): Console to draw on. Defaults to rich's stderr console.
    """
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console or Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance
