"""Helpers shared by the engine and `dafw run` tests: a tiny digits recipe and test-only plugins.

This module contains no test; the other test modules import from it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field

from dafw.components import AlignContext, Aligner, AlignerOutput
from dafw.plugins import PluginSet, load_plugins
from dafw.recipe import Recipe, load_recipe
from dafw.registry import Entry, Origin

# One target keeps each run to one pair; tests that need two pairs add a second target.
TINY_RECIPE = """
name = "tiny"
seed = 7

[model]
projection_dim = 8

[model.backbone]
type = "small_cnn"
params = { width = 4, depth = 2, out_features = 16 }

[model.relational]
type = "ring_gat"
params = { heads = 2, dropout = 0.1 }

[[aligners]]
type = "grl"
params = { hidden_features = 8, hidden_layers = 1 }

[[aligners]]
type = "coral"

[[aligners]]
type = "mmd"
weight = 0.5

[data.source]
type = "digits"
params = { subset = "a", image_size = 8, test_fraction = 0.1 }

[[data.targets]]
type = "digits"
name = "rotated"
params = { subset = "b", shift = "rotate", image_size = 8, test_fraction = 0.1 }

[data]
cache = "memory"

[data.transforms]
size = 8
hflip = 0.5
brightness = 0.2

[train]
epochs = 2
epoch_length = 3
batch_size = 8

[train.optimizer]
lr = 0.01

[train.schedule]
warmup_epochs = 1

[eval]
batch_size = 16
"""

TEST_ORIGIN = Origin(plugin="engine-tests", distribution="dafw-tests", version="0")


class NanAtStepParams(BaseModel):
    """Parameters of the test-only ``nan_at_step`` aligner."""

    model_config = ConfigDict(extra="forbid")

    step: int = Field(0, ge=0, description="first step whose loss is NaN")


class NanAtStep(Aligner):
    """Test-only aligner: a zero loss before ``step`` and NaN from ``step`` on."""

    def __init__(self, step: int) -> None:
        super().__init__()
        self.step = step

    def forward(
        self, source: torch.Tensor, target: torch.Tensor, context: AlignContext
    ) -> AlignerOutput:
        zero = 0.0 * (source.sum() + target.sum())
        if context.step >= self.step:
            return AlignerOutput(loss=zero + math.nan)
        return AlignerOutput(loss=zero)


class RelabelledDigitsParams(BaseModel):
    """Parameters of the test-only ``relabelled_digits`` dataset."""

    model_config = ConfigDict(extra="forbid")

    subset: str = "b"
    image_size: int = 8
    test_fraction: float = 0.1
    corrupt_split: str | None = Field(None, description="split whose labels are scrambled")


def build_relabelled_digits(params: RelabelledDigitsParams, root: Path) -> Any:
    """Build a rotated ``digits`` reader whose ``corrupt_split`` labels are all changed."""
    from dafw_plugins.datasets.digits import DigitsParams, DigitsReader

    reader = DigitsReader(
        DigitsParams(
            subset=params.subset,
            shift="rotate",
            image_size=params.image_size,
            test_fraction=params.test_fraction,
        ),
        root,
    )
    if params.corrupt_split is not None:
        samples = reader.split_samples[params.corrupt_split]
        reader.split_samples[params.corrupt_split] = [
            type(sample)(sample.key, (sample.label + 3) % 10, sample.group) for sample in samples
        ]
    return reader


def plugins_with_test_components() -> PluginSet:
    """Load the installed plugins and add the test-only components."""
    plugins = load_plugins()
    plugins.registries["aligner"].add(
        Entry(
            kind="aligner",
            name="nan_at_step",
            summary="test-only: NaN loss from a given step on",
            params=NanAtStepParams,
            factory=lambda params, dim: NanAtStep(params.step),
            origin=TEST_ORIGIN,
        )
    )
    plugins.registries["dataset"].add(
        Entry(
            kind="dataset",
            name="relabelled_digits",
            summary="test-only: rotated digits with scrambled labels in one split",
            params=RelabelledDigitsParams,
            factory=build_relabelled_digits,
            origin=TEST_ORIGIN,
        )
    )
    return plugins


def write_tiny_recipe(folder: Path, extra: str = "") -> Path:
    """Write the tiny recipe, with ``extra`` TOML appended, into ``folder``."""
    path = folder / "tiny.toml"
    path.write_text(TINY_RECIPE + extra, encoding="utf-8")
    return path


def tiny_recipe(
    folder: Path, plugins: PluginSet, overrides: tuple[str, ...] = (), extra: str = ""
) -> Recipe:
    """Write and load the tiny recipe with ``--set`` style ``overrides``."""
    return load_recipe(write_tiny_recipe(folder, extra), overrides, plugins=plugins)


def step_records(run_dir: Path) -> list[dict[str, Any]]:
    """Return the per-step records of a run's ``metrics.jsonl``."""
    lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [record for record in map(json.loads, lines) if record["event"] == "step"]


def summary_scores(results: dict[str, Any]) -> dict[str, Any]:
    """Return every target's summary metrics per mode, without files or timing."""
    keys = (
        "accuracy",
        "mean_class_accuracy",
        "macro_precision",
        "macro_recall",
        "macro_f1",
        "macro_auroc_ovr",
    )
    return {
        label: {
            mode: {key: scores[key] for key in keys} for mode, scores in result["scores"].items()
        }
        for label, result in results["targets"].items()
    }
