"""The run folder: its layout, creation, the metrics log and JSON files."""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import tomli_w

from dafw.engine.errors import TrainingError
from dafw.recipe import Recipe, recipe_to_dict

RECIPE_FILE = "recipe.toml"
METRICS_FILE = "metrics.jsonl"
RESULTS_FILE = "results.json"


def safe_name(text: str) -> str:
    """Return ``text`` with every character other than letters, digits, ``.``, ``_`` and ``-``
    replaced by ``_``, so it can name a folder."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", text) or "_"


def pair_name(source: str, target: str) -> str:
    """Return the name of a (source, target) pair, such as ``rafdb_to_jaffe``."""
    return safe_name(f"{source}_to_{target}")


@dataclass(frozen=True)
class RunFolder:
    """Paths of one run folder.

    Attributes:
        root (Path): The run folder.
    """

    root: Path

    @property
    def recipe(self) -> Path:
        """The resolved recipe, ``recipe.toml``."""
        return self.root / RECIPE_FILE

    @property
    def environment(self) -> Path:
        """Versions, device and command line, ``environment.json``."""
        return self.root / "environment.json"

    @property
    def metrics(self) -> Path:
        """Per-step and per-epoch records, ``metrics.jsonl``."""
        return self.root / METRICS_FILE

    @property
    def results(self) -> Path:
        """Scores of every target, ``results.json``."""
        return self.root / RESULTS_FILE

    @property
    def report(self) -> Path:
        """The results table in Markdown, ``report.md``."""
        return self.root / "report.md"

    @property
    def loss_curves(self) -> Path:
        """Loss curves of every pair, ``loss_curves.png``."""
        return self.root / "loss_curves.png"

    def checkpoint_dir(self, pair: str) -> Path:
        """Return the folder of the checkpoints of ``pair``."""
        return self.root / "checkpoints" / pair

    def last_checkpoint(self, pair: str) -> Path:
        """Return the path of the checkpoint of the latest epoch of ``pair``."""
        return self.checkpoint_dir(pair) / "last.pt"

    def epoch_checkpoint(self, pair: str, epoch: int) -> Path:
        """Return the path of the kept checkpoint of ``epoch`` (1-based) of ``pair``."""
        return self.checkpoint_dir(pair) / f"epoch-{epoch:03d}.pt"

    def target_dir(self, target: str) -> Path:
        """Return the folder of the predictions, confusion matrices and result of ``target``."""
        return self.root / "targets" / safe_name(target)

    def target_result(self, target: str) -> Path:
        """Return the path of the result of ``target``, written once its pair is scored."""
        return self.target_dir(target) / "result.json"

    def relative(self, path: Path) -> str:
        """Return ``path`` relative to the run folder, for files that name each other."""
        return os.path.relpath(path, self.root)


def new_run_folder(recipe_name: str, runs_dir: Path, out: Path | None = None) -> RunFolder:
    """Create the folder of a new run.

    Args:
        recipe_name (str): Name of the recipe; the folder is ``<name>-<timestamp>``.
        runs_dir (Path): Parent of timestamped folders, usually ``runs``.
        out (Path | None): Exact folder to use instead; it must be missing or empty.

    Raises:
        TrainingError: ``out`` exists and is not an empty folder.
    """
    if out is not None:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise TrainingError(
                f"--out {out} already exists and is not empty; choose a new folder, or "
                f"continue that run with `dafw run --resume {out}`"
            )
        out.mkdir(parents=True, exist_ok=True)
        return RunFolder(out.resolve())

    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = safe_name(f"{recipe_name}-{stamp}")
    for attempt in range(1, 1000):
        candidate = runs_dir / (base if attempt == 1 else f"{base}-{attempt}")
        try:
            candidate.mkdir(parents=True)
        except FileExistsError:
            continue
        return RunFolder(candidate.resolve())
    raise TrainingError(f"cannot create a new run folder named {base}-N in {runs_dir}")


def write_recipe(folder: RunFolder, recipe: Recipe) -> None:
    """Write the resolved recipe, every default filled in, as ``recipe.toml``.

    TOML has no null, so parameters whose value is None are left out. Reading the file
    back gives them their default, which is None for every such parameter of the
    first-party plugins.
    """
    folder.recipe.write_text(tomli_w.dumps(recipe_to_dict(recipe)), encoding="utf-8")


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(item) for item in value]
    return value


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON through a temporary file; NaN and infinity become null."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(_finite_or_none(data), indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def read_json(path: Path) -> Any:
    """Read a JSON file written by ``write_json``."""
    return json.loads(path.read_text(encoding="utf-8"))


class MetricsLog:
    """Appends one JSON object per line to ``metrics.jsonl``, flushed after every line.

    Non-finite numbers are written as the strings ``"nan"``, ``"inf"`` and ``"-inf"``, so
    that every line stays valid JSON and the value that stopped a run stays visible.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def write(self, record: dict[str, Any]) -> None:
        """Append ``record`` as one line."""
        if self._handle is None:
            self._handle = open(self.path, "a", encoding="utf-8")
        self._handle.write(json.dumps(_json_safe(record)) + "\n")
        self._handle.flush()

    def close(self) -> None:
        """Close the file; a later ``write`` opens it again."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    return value


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Read every record of a ``metrics.jsonl`` file; a missing file gives no record."""
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def rewrite_metrics(
    path: Path, keep: Callable[[dict[str, Any]], bool], records: Iterable[dict[str, Any]]
) -> None:
    """Rewrite ``metrics.jsonl`` with only the ``records`` that ``keep`` accepts."""
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        for record in records:
            if keep(record):
                handle.write(json.dumps(record) + "\n")
    os.replace(temporary, path)
