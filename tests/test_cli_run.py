"""`dafw run`, `dafw eval` and `dafw predict` on a tiny digits recipe."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from dafw.cli import main
from tests.test_engine_support import (
    plugins_with_test_components,
    summary_scores,
    write_tiny_recipe,
)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A run folder written by `dafw run`, with the command's result."""
    folder = tmp_path_factory.mktemp("cli")
    recipe = write_tiny_recipe(folder)
    out = folder / "run"
    result = CliRunner().invoke(main, ["run", str(recipe), "--out", str(out), "--no-progress"])
    return out, result


def test_run_command_writes_run_folder(finished_run):
    out, result = finished_run

    assert result.exit_code == 0, result.output
    assert "accuracy %" in result.output
    assert f"run folder: {out.resolve()}" in result.output
    for name in ("recipe.toml", "environment.json", "metrics.jsonl", "results.json",
                 "report.md", "loss_curves.png"):
        assert (out / name).is_file(), name
    environment = json.loads((out / "environment.json").read_text())
    assert environment["command"]
    assert environment["versions"]["torch"]
    assert "model.backbone" in environment["components"]


def test_eval_command_reproduces_results(finished_run):
    out, _ = finished_run

    result = CliRunner().invoke(main, ["eval", str(out)])

    assert result.exit_code == 0, result.output
    assert "equal those of" in result.output
    stored = json.loads((out / "results.json").read_text())
    again = json.loads((out / "eval" / "results.json").read_text())
    assert summary_scores(again) == summary_scores(stored)
    for mode in ("batch", "single"):
        first = np.load(out / "targets" / "rotated" / mode / "predictions.npz")
        second = np.load(out / "eval" / "targets" / "rotated" / mode / "predictions.npz")
        assert np.array_equal(first["probabilities"], second["probabilities"])


def test_eval_command_other_batch_size(finished_run, tmp_path):
    out, _ = finished_run

    result = CliRunner().invoke(main, ["eval", str(out), "--batch-size", "2", "--out",
                                       str(tmp_path / "b2")])

    assert result.exit_code == 0, result.output
    again = json.loads((tmp_path / "b2" / "results.json").read_text())
    assert again["eval"]["batch_size"] == 2
    stored = json.loads((out / "results.json").read_text())
    single = summary_scores(stored)["rotated"]["single"]
    assert summary_scores(again)["rotated"]["single"] == single


def test_predict_command_matches_single_mode(finished_run, tmp_path):
    out, _ = finished_run
    from dafw_plugins.datasets.digits import DigitsParams, DigitsReader

    reader = DigitsReader(
        DigitsParams(subset="b", shift="rotate", image_size=8, test_fraction=0.1)
    )
    sample = reader.samples("test")[0]
    image = tmp_path / "digit.png"
    Image.fromarray(reader.load(sample)[:, :, 0], mode="L").save(image)

    result = CliRunner().invoke(main, ["predict", str(out), str(image), "--json"])

    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    prediction = payload["predictions"][0]
    probabilities = np.array(list(prediction["probabilities"].values()))
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert prediction["predicted"] == max(prediction["probabilities"],
                                          key=prediction["probabilities"].get)

    stored = np.load(out / "targets" / "rotated" / "single" / "predictions.npz")
    row = stored["keys"].tolist().index(sample.key)
    assert probabilities == pytest.approx(stored["probabilities"][row], abs=1e-5)


def test_predict_table_output(finished_run, tmp_path):
    out, _ = finished_run
    image = tmp_path / "grey.png"
    Image.fromarray(np.full((8, 8), 128, dtype=np.uint8), mode="L").save(image)

    result = CliRunner().invoke(main, ["predict", str(out), str(image)])

    assert result.exit_code == 0, result.output
    assert "grey.png" in result.output
    assert "probability" in result.output
    for digit in "0123456789":
        assert f"\n│ {digit} " in result.output


def test_predict_missing_image_fails(finished_run, tmp_path):
    out, _ = finished_run

    result = CliRunner().invoke(main, ["predict", str(out), str(tmp_path / "none.png")])

    assert result.exit_code == 2
    assert "none.png" in result.output


def test_run_without_recipe_or_resume_fails():
    result = CliRunner().invoke(main, ["run"])

    assert result.exit_code == 2
    assert "RECIPE" in result.output


def test_run_into_non_empty_out_fails(finished_run):
    out, _ = finished_run
    recipe = out / "recipe.toml"

    result = CliRunner().invoke(main, ["run", str(recipe), "--out", str(out)])

    assert result.exit_code == 2
    assert "not empty" in result.output
    assert "--resume" in result.output


def test_nan_loss_exits_with_code_3(tmp_path, monkeypatch):
    monkeypatch.setattr("dafw.cli.app.load_plugins", lambda **_: plugins_with_test_components())
    extra = """
[[aligners]]
type = "nan_at_step"
params = { step = 4 }
"""
    recipe = write_tiny_recipe(tmp_path, extra)

    result = CliRunner().invoke(
        main, ["run", str(recipe), "--out", str(tmp_path / "run"), "--no-progress"]
    )

    assert result.exit_code == 3, result.output
    assert "loss/nan_at_step" in result.output
    assert "step 4" in result.output
    assert (tmp_path / "run" / "checkpoints" / "digits_to_rotated" / "last.pt").is_file()


def test_resume_finished_run_keeps_results(finished_run):
    out, _ = finished_run
    before = json.loads((out / "results.json").read_text())

    result = CliRunner().invoke(main, ["run", "--resume", str(out), "--no-progress"])

    assert result.exit_code == 0, result.output
    assert f"resuming run folder {out.resolve()}" in result.output
    after = json.loads((out / "results.json").read_text())
    assert summary_scores(after) == summary_scores(before)
    environment = json.loads((out / "environment.json").read_text())
    assert len(environment["resumes"]) >= 1


def test_resume_with_recipe_argument_fails(finished_run):
    out, _ = finished_run

    result = CliRunner().invoke(main, ["run", str(out / "recipe.toml"), "--resume", str(out)])

    assert result.exit_code == 2
    assert "--resume reads the recipe" in result.output
