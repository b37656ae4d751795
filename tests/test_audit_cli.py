"""End-to-end tests of `dafw audit` on a tiny digits run trained with `dafw run`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from dafw.audit import AuditOptions, run_audit
from dafw.cli import main
from dafw.plugins import load_plugins

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "audit" / "ring_gat_neighbours_only.toml"
TARGETS = (
    '[{type="digits", name="rotated", params={subset="b", shift="rotate", angle=30.0, '
    'image_size=8}}, {type="digits", name="transductive", params={subset="b", '
    'shift="rotate", angle=30.0, image_size=8}, adapt_split="test", test_split="test"}]'
)
TINY = (
    "model.projection_dim=8",
    "model.backbone.params={width=4, depth=2, out_features=16}",
    "model.relational.params={heads=2, self_loop=false, residual=true}",
    'aligners=[{type="grl", params={hidden_features=8}}]',
    'data.source.params={subset="a", shift="none", image_size=8}',
    f"data.targets={TARGETS}",
    "data.transforms.size=8",
    "train.epochs=2",
    "train.epoch_length=3",
    "train.batch_size=16",
    'train.device="cpu"',
    "eval.batch_size=16",
    "audit.batch_sizes=[2, 64]",
    "audit.seeds=2",
)


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Train the audit recipe, shrunk to a few steps, with every epoch checkpoint kept."""
    out = tmp_path_factory.mktemp("runs") / "tiny"
    overrides = [part for setting in TINY for part in ("--set", setting)]
    result = invoke(
        "run",
        str(RECIPE),
        *overrides,
        "--out",
        str(out),
        "--keep-epoch-checkpoints",
        "--no-progress",
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def audited(finished_run: Path) -> tuple[Path, object]:
    result = invoke("audit", str(finished_run), "--no-progress")
    return finished_run, result


def test_cli_writes_report_files(audited):
    run, result = audited

    assert result.exit_code == 0, result.output
    assert (run / "audit.json").is_file()
    assert (run / "audit.md").is_file()
    assert "batch composition" in result.output
    assert "audit written to" in result.output


def test_audit_json_sections(audited):
    run, _ = audited
    report = json.loads((run / "audit.json").read_text())

    assert report["format"] == 1
    assert report["settings"]["shuffled_seeds"] == [0, 1]
    assert report["settings"]["batch_sizes"] == [2, 64]
    assert set(report["targets"]) == {"rotated", "transductive"}
    for target in report["targets"].values():
        assert len(target["batch_composition"]["arrangements"]) == 2 + 2 + 2
        assert target["model_selection"]["available"]
        assert [check["passed"] for check in target["metric_sanity"]] == [True, True]
        assert target["label_isolation"]["passed"]
        assert target["overlap"]["source_train_vs_test"]["identical_pixels"] == 0


def test_batch_composition_reproduces_run(audited):
    run, _ = audited
    report = json.loads((run / "audit.json").read_text())
    batch = report["targets"]["rotated"]["batch_composition"]

    assert batch["reproduced_accuracy"] == batch["reported_accuracy"]
    assert not [note for note in report["notes"] if note["name"] == "not_reproduced"]


def test_selection_labels_oracle(audited):
    run, _ = audited
    report = json.loads((run / "audit.json").read_text())
    choices = {c["rule"]: c for c in report["targets"]["rotated"]["model_selection"]["choices"]}

    assert choices["oracle"]["reads_target_labels"]
    assert choices["source_val_accuracy"]["epoch"] in (1, 2)
    assert choices["target_entropy"]["epoch"] in (1, 2)
    assert choices["domain_confusion"]["epoch"] in (1, 2)
    assert "oracle" in (run / "audit.md").read_text()


def test_transductive_target_is_stated(audited):
    run, _ = audited
    report = json.loads((run / "audit.json").read_text())
    overlap = report["targets"]["transductive"]["overlap"]["adaptation_vs_test"]
    notes = [note for note in report["notes"] if note["target"] == "transductive"]

    assert overlap["same_split"]
    assert overlap["identical_files_fraction"] == 1.0
    assert any(note["name"] == "transductive" for note in notes)
    assert "transductive" in (run / "audit.md").read_text()


def test_report_states_label_isolation(audited):
    run, _ = audited
    markdown = (run / "audit.md").read_text()

    assert "Target labels never enter training" in markdown
    assert "inspection of the adaptation set passed" in markdown


def test_tampered_auroc_fails_on_flag(finished_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    results = json.loads((run / "results.json").read_text())
    scores = results["targets"]["rotated"]["scores"]["batch"]
    scores["macro_auroc_ovr"] = scores["accuracy"]
    (run / "results.json").write_text(json.dumps(results))

    result = invoke(
        "audit",
        str(run),
        "--check",
        "metrics",
        "--target",
        "rotated",
        "--fail-on-flag",
        "--no-progress",
    )
    report = json.loads((run / "audit.json").read_text())

    assert result.exit_code == 1
    assert report["flagged"]
    assert any("equals the accuracy" in flag["message"] for flag in report["flags"])
    assert list(report["targets"]) == ["rotated"]


def test_missing_epoch_scores_reported(finished_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    results = json.loads((run / "results.json").read_text())
    for target in results["targets"].values():
        for record in target["history"]:
            record.pop("scores", None)
    (run / "results.json").write_text(json.dumps(results))

    audit = run_audit(run, load_plugins(), AuditOptions(checks=("selection",)))

    for target in audit.targets:
        assert not target.selection.available
        assert "evaluate_every_epoch" in target.selection.reason


def test_unknown_target_is_an_error(finished_run):
    result = CliRunner().invoke(main, ["audit", str(finished_run), "--target", "nope"])

    assert result.exit_code == 2
    assert "unknown target(s) nope" in result.output


def test_not_a_run_folder_is_an_error(tmp_path):
    result = CliRunner().invoke(main, ["audit", str(tmp_path)])

    assert result.exit_code == 2
    assert "recipe.toml is missing" in result.output


def test_cli_constants_match_library():
    from dafw.audit import CHECKS
    from dafw.audit.runner import DEFAULT_MAX_DISTANCE
    from dafw.cli import audit_cmd

    assert audit_cmd.CHECK_NAMES == CHECKS
    assert audit_cmd.DEFAULT_MAX_DISTANCE == DEFAULT_MAX_DISTANCE
