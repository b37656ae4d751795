"""Training runs on tiny digits: determinism, resume, NaN losses, and no target labels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dafw.engine import NonFiniteLossError, ResumeError, run_recipe
from dafw.engine.checkpoint import load_checkpoint
from dafw.engine.trainer import EpochEnd
from tests.test_engine_support import (
    plugins_with_test_components,
    step_records,
    summary_scores,
    tiny_recipe,
)


@pytest.fixture(scope="module")
def plugins():
    return plugins_with_test_components()


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, plugins):
    """An uninterrupted run of the tiny recipe, shared by the tests that compare with it."""
    folder = tmp_path_factory.mktemp("baseline")
    return run_recipe(tiny_recipe(folder, plugins), plugins, out=folder / "run")


class Interrupted(Exception):
    """Raised by a callback to stop a run as a crash would."""


def stop_after(epoch: int):
    def callback(event: EpochEnd) -> None:
        if event.epoch == epoch:
            raise Interrupted(f"stopped after epoch {event.epoch}")

    return callback


def test_run_writes_folder_files(baseline):
    root = baseline.folder.root

    for name in ("recipe.toml", "environment.json", "metrics.jsonl", "results.json",
                 "report.md", "loss_curves.png"):
        assert (root / name).is_file(), name
    assert (root / "checkpoints" / "digits_to_rotated" / "last.pt").is_file()
    for mode in ("batch", "single"):
        folder = root / "targets" / "rotated" / mode
        for name in ("predictions.npz", "confusion_counts.csv", "confusion_normalised.csv",
                     "confusion.png"):
            assert (folder / name).is_file(), f"{mode}/{name}"

    results = json.loads((root / "results.json").read_text())
    assert results["eval"]["mode"] == "batch"
    assert set(results["targets"]["rotated"]["scores"]) == {"batch", "single"}
    assert results["targets"]["rotated"]["checkpoint"]["epoch"] == 2
    assert set(results["mean"]) == {"batch", "single"}

    records = step_records(root)
    assert [record["step"] for record in records] == list(range(6))
    expected_keys = {"loss/task", "loss/grl", "loss/coral", "loss/mmd", "loss/total", "lr",
                     "grl/domain_accuracy", "grl/lambda"}
    assert expected_keys <= set(records[0])


def test_total_loss_is_weighted_sum(baseline):
    for record in step_records(baseline.folder.root):
        weighted = (record["loss/task"] + record["loss/grl"] + record["loss/coral"]
                    + 0.5 * record["loss/mmd"])
        assert record["loss/total"] == pytest.approx(weighted, rel=1e-5)


def test_same_seed_same_results(tmp_path, plugins, baseline):
    first = baseline
    second = run_recipe(tiny_recipe(tmp_path, plugins), plugins, out=tmp_path / "second")

    assert step_records(first.folder.root) == step_records(second.folder.root)
    assert summary_scores(first.results) == summary_scores(second.results)
    assert first.fingerprints == second.fingerprints


def test_other_seed_other_weights(tmp_path, plugins, baseline):
    other = tiny_recipe(tmp_path, plugins, ("seed=8",))
    second = run_recipe(other, plugins, out=tmp_path / "second")

    assert baseline.fingerprints != second.fingerprints
    assert step_records(baseline.folder.root) != step_records(second.folder.root)


def test_resume_matches_uninterrupted(tmp_path, plugins, baseline):
    straight = baseline
    with pytest.raises(Interrupted):
        run_recipe(
            tiny_recipe(tmp_path, plugins),
            plugins,
            out=tmp_path / "stopped",
            on_epoch_end=stop_after(1),
        )
    checkpoint = load_checkpoint(tmp_path / "stopped" / "checkpoints" / "digits_to_rotated"
                                 / "last.pt")
    assert checkpoint["epoch"] == 1
    assert not (tmp_path / "stopped" / "results.json").exists()

    resumed = run_recipe(tiny_recipe(tmp_path, plugins), plugins, resume=tmp_path / "stopped")

    assert step_records(resumed.folder.root) == step_records(straight.folder.root)
    assert summary_scores(resumed.results) == summary_scores(straight.results)
    assert resumed.fingerprints == straight.fingerprints


def test_resume_between_pairs_keeps_finished(tmp_path, plugins):
    two_targets = """
[[data.targets]]
type = "digits"
name = "blurred"
params = { subset = "b", shift = "blur", image_size = 8, test_fraction = 0.1 }
"""
    straight = run_recipe(
        tiny_recipe(tmp_path, plugins, ("train.epochs=1",), extra=two_targets),
        plugins,
        out=tmp_path / "straight",
    )

    def stop_in_second_pair(event: EpochEnd) -> None:
        if event.pair.index == 1:
            raise Interrupted("stopped in the second pair")

    with pytest.raises(Interrupted):
        run_recipe(
            tiny_recipe(tmp_path, plugins, ("train.epochs=1",), extra=two_targets),
            plugins,
            out=tmp_path / "stopped",
            on_epoch_end=stop_in_second_pair,
        )
    first_result = tmp_path / "stopped" / "targets" / "rotated" / "result.json"
    assert first_result.is_file()
    written = first_result.stat().st_mtime_ns

    resumed = run_recipe(
        tiny_recipe(tmp_path, plugins, ("train.epochs=1",), extra=two_targets),
        plugins,
        resume=tmp_path / "stopped",
    )

    assert first_result.stat().st_mtime_ns == written
    assert list(resumed.fingerprints) == ["digits_to_blurred"]
    assert summary_scores(resumed.results) == summary_scores(straight.results)
    assert step_records(resumed.folder.root) == step_records(straight.folder.root)


def test_nan_loss_stops_with_last_good_checkpoint(tmp_path, plugins):
    extra = """
[[aligners]]
type = "nan_at_step"
params = { step = 4 }
"""
    recipe = tiny_recipe(tmp_path, plugins, extra=extra)

    with pytest.raises(NonFiniteLossError) as caught:
        run_recipe(recipe, plugins, out=tmp_path / "run")

    error = caught.value
    assert error.step == 4
    assert error.term == "loss/nan_at_step"
    assert "step 4" in str(error)
    assert "loss/nan_at_step" in str(error)
    assert error.exit_code != 0

    checkpoint = load_checkpoint(tmp_path / "run" / "checkpoints" / "digits_to_rotated"
                                 / "last.pt")
    assert checkpoint["epoch"] == 1
    assert checkpoint["step"] == 3
    for name, tensor in checkpoint["model"].items():
        if tensor.is_floating_point():
            assert torch.isfinite(tensor).all(), name
    assert not (tmp_path / "run" / "results.json").exists()

    last = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["event"] == "non_finite"
    assert last["term"] == "loss/nan_at_step"


def test_nan_before_first_checkpoint_names_none(tmp_path, plugins):
    extra = """
[[aligners]]
type = "nan_at_step"
params = { step = 0 }
"""
    with pytest.raises(NonFiniteLossError, match="no epoch finished"):
        run_recipe(tiny_recipe(tmp_path, plugins, extra=extra), plugins, out=tmp_path / "run")


def test_target_labels_do_not_reach_training(tmp_path, plugins, baseline):
    # Apart from the scrambled labels, relabelled_digits reads the baseline target's images.
    overrides = (
        'data.targets[0].type="relabelled_digits"',
        'data.targets[0].params={corrupt_split="train"}',
    )
    corrupt = tiny_recipe(tmp_path, plugins, overrides)
    assert corrupt.data.targets[0].params["corrupt_split"] == "train"

    outcome = run_recipe(corrupt, plugins, out=tmp_path / "corrupt")

    assert step_records(outcome.folder.root) == step_records(baseline.folder.root)
    assert outcome.fingerprints == baseline.fingerprints
    assert summary_scores(outcome.results) == summary_scores(baseline.results)


def test_every_epoch_scores_leave_training_unchanged(tmp_path, plugins, baseline):
    plain = baseline
    scored = run_recipe(
        tiny_recipe(
            tmp_path,
            plugins,
            ("train.evaluate_every_epoch=true", 'data.source.val_split="test"'),
        ),
        plugins,
        out=tmp_path / "scored",
    )

    assert step_records(plain.folder.root) == step_records(scored.folder.root)
    assert plain.fingerprints == scored.fingerprints
    history = scored.results["targets"]["rotated"]["history"]
    assert [record["epoch"] for record in history] == [1, 2]
    assert set(history[0]["scores"]["target"]) == {"batch", "single"}
    assert "accuracy" in history[0]["scores"]["source_val"]
    assert history[-1]["scores"]["target"]["batch"]["accuracy"] == pytest.approx(
        scored.results["targets"]["rotated"]["scores"]["batch"]["accuracy"]
    )
    assert "oracle" in (Path(scored.folder.root) / "report.md").read_text()


def test_resume_with_other_recipe_rejected(tmp_path, plugins, baseline):
    other = tiny_recipe(tmp_path, plugins, ("seed=9",))

    with pytest.raises(ResumeError, match="recipe differs"):
        run_recipe(other, plugins, resume=baseline.folder.root)


def test_resume_of_non_run_folder_rejected(tmp_path, plugins):
    with pytest.raises(ResumeError, match="not a dafw run folder"):
        run_recipe(tiny_recipe(tmp_path, plugins), plugins, resume=tmp_path)
