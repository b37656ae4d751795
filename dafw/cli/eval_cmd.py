"""`dafw eval`: score a finished run again from its checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from dafw.cli.app import state, stderr, stdout


@click.command("eval")
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of the new results.json, report.md and per-target files. "
    "Defaults to RUN_DIR/eval.",
)
@click.option(
    "--epoch",
    type=click.IntRange(min=1),
    default=None,
    help="Score the checkpoint of this epoch (1-based) instead of the last one; needs a run "
    "made with --keep-epoch-checkpoints.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Images per ring graph in batch mode, instead of the recipe's eval.batch_size.",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Seed of the batch-mode test order, instead of the recipe's eval.seed.",
)
@click.pass_context
def evaluate(
    ctx: click.Context,
    run_dir: Path,
    out: Path | None,
    epoch: int | None,
    batch_size: int | None,
    seed: int | None,
) -> None:
    """Score RUN_DIR's trained models again, in batch and single mode, without training.

    With the run's own settings, the scores must equal those of RUN_DIR/results.json;
    the command reports whether they do.
    """
    from dafw.engine.report import rich_tables
    from dafw.engine.run_dir import read_json
    from dafw.engine.runner import evaluate_run

    plugins = state(ctx).load_plugins()
    folder, results = evaluate_run(
        run_dir,
        plugins,
        out=out,
        checkpoint_epoch=epoch,
        batch_size=batch_size,
        seed=seed,
        console=stderr,
    )
    for table in rich_tables(results):
        stdout.print(table)
    stdout.print(f"results written to {folder.results}")

    stored = run_dir / "results.json"
    if epoch is None and batch_size is None and seed is None and stored.is_file():
        differences = compare_scores(read_json(stored), results)
        if differences:
            stdout.print(f"[yellow]the scores differ from {stored}:[/]")
            for line in differences:
                stdout.print(f"  {line}")
        else:
            stdout.print(f"[green]the scores equal those of {stored}[/]")


def compare_scores(stored: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """List every summary metric that differs between two results, as readable lines."""
    from dafw.engine.metrics import SUMMARY_METRICS

    differences = []
    for label, result in stored["targets"].items():
        if label not in new["targets"]:
            differences.append(f"{label}: not scored again")
            continue
        for mode, scores in result["scores"].items():
            again = new["targets"][label]["scores"][mode]
            for name in SUMMARY_METRICS:
                if scores[name] != again[name]:
                    differences.append(
                        f"{label}, {mode} mode, {name}: {scores[name]} before, {again[name]} now"
                    )
    return differences
