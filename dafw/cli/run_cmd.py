"""`dafw run`: train and score every (source, target) pair of a recipe."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dafw.cli.app import state, stderr, stdout
from dafw.cli.options import data_root_option, overrides_option
from dafw.recipe import load_recipe


@click.command("run")
@click.argument("recipe", type=click.Path(path_type=Path), required=False)
@overrides_option(
    "Override one recipe field, for example --set train.epochs=2; VALUE is read as "
    "TOML. Repeatable. Not allowed with --resume."
)
@data_root_option()
@click.option(
    "--resume",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    metavar="RUN_DIR",
    help="Continue a stopped run from its folder: finished pairs are kept and the "
    "interrupted pair continues after its last checkpoint. RECIPE is read from the folder.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write the run into this folder (missing or empty) instead of "
    "RUNS_DIR/<recipe>-<timestamp>.",
)
@click.option(
    "--runs-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs"),
    show_default=True,
    help="Parent folder of new run folders.",
)
@click.option(
    "--keep-epoch-checkpoints",
    is_flag=True,
    help="Keep a checkpoint of every epoch (checkpoints/<pair>/epoch-NNN.pt), not only "
    "last.pt, so `dafw eval --epoch N` can score any epoch.",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="CPU threads torch may use for compute. Defaults to torch's choice, one per core; "
    "1 is often faster when other jobs share the cores.",
)
@click.option("--no-progress", is_flag=True, help="Draw no progress bars.")
@click.pass_context
def run(
    ctx: click.Context,
    recipe: Path | None,
    overrides: tuple[str, ...],
    data_root: Path | None,
    resume: Path | None,
    out: Path | None,
    runs_dir: Path,
    keep_epoch_checkpoints: bool,
    threads: int | None,
    no_progress: bool,
) -> None:
    """Train and score every (source, target) pair of RECIPE.

    Writes a run folder with the resolved recipe, environment.json, metrics.jsonl,
    checkpoints, results.json, report.md and figures, and prints the results table.
    Under torchrun, each process runs this command and rank 0 writes the folder.

    Exit status: 2 for an invalid recipe or input, 3 when a loss becomes NaN or infinite,
    130 when interrupted (resume with --resume).
    """
    from dafw.engine.errors import TrainingError
    from dafw.engine.report import rich_tables
    from dafw.engine.runner import load_run_recipe, run_recipe

    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    plugins = state(ctx).load_plugins()
    if resume is not None:
        if recipe is not None or overrides or data_root is not None or out is not None:
            raise TrainingError(
                "--resume reads the recipe stored in the run folder; drop RECIPE, --set, "
                "--data-root and --out"
            )
        loaded = load_run_recipe(resume, plugins)
    elif recipe is None:
        raise click.UsageError("give a RECIPE to run, or --resume RUN_DIR")
    else:
        loaded = load_recipe(recipe, overrides, data_root=data_root, plugins=plugins)

    try:
        outcome = run_recipe(
            loaded,
            plugins,
            runs_dir=runs_dir,
            out=out,
            resume=resume,
            console=stderr,
            progress=not no_progress,
            keep_epoch_checkpoints=keep_epoch_checkpoints,
            command=sys.argv,
        )
    except KeyboardInterrupt:
        stderr.print(
            "[yellow]interrupted.[/] Continue from the last finished epoch with "
            "`dafw run --resume RUN_DIR`, with the run folder printed above."
        )
        ctx.exit(130)

    if outcome.results is None:
        return
    for table in rich_tables(outcome.results):
        stdout.print(table)
    stdout.print(f"run folder: {outcome.folder.root}")
