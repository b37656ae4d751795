"""`dafw audit`: re-evaluate a finished run and report what could make its numbers mislead."""

from __future__ import annotations

from pathlib import Path

import click

from dafw.cli.app import state, stderr, stdout
from dafw.cli.options import overrides_option

# Copies of dafw.audit.CHECKS and the default Hamming distance, so that `dafw audit --help`
# does not import torch; a test keeps them equal.
CHECK_NAMES = ("batch", "selection", "overlap", "metrics", "labels")
DEFAULT_MAX_DISTANCE = 4
EXIT_FLAGGED = 1


def _batch_sizes(
    ctx: click.Context, parameter: click.Parameter, value: str | None
) -> list[int] | None:
    if value is None:
        return None
    try:
        sizes = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise click.BadParameter(
            f"expected comma-separated integers such as 2,8,64, got {value!r}"
        ) from None
    if not sizes or any(size < 1 for size in sizes):
        raise click.BadParameter(f"expected positive batch sizes, got {value!r}")
    return sizes


@click.command("audit")
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--check",
    "checks",
    multiple=True,
    type=click.Choice(CHECK_NAMES),
    help="Run only this check; repeatable. Defaults to all: batch (batch composition), "
    "selection (epoch-selection rules), overlap (shared images), metrics (AUROC and "
    "accuracy recomputed), labels (the adaptation set carries no label).",
)
@click.option(
    "--target", "targets", multiple=True, metavar="NAME", help="Audit only this target; repeatable."
)
@click.option(
    "--threshold",
    type=click.FloatRange(min=0),
    default=None,
    help="Accuracy spread, in percentage points, above which a batch-composition gap is "
    "flagged. Defaults to the recipe's audit.threshold.",
)
@click.option(
    "--seeds",
    type=click.IntRange(min=1),
    default=None,
    help="Number of shuffled test orders, seeds eval.seed onwards. Defaults to audit.seeds.",
)
@click.option(
    "--batch-sizes",
    callback=_batch_sizes,
    default=None,
    metavar="N,N,...",
    help="Test batch sizes to score, comma-separated. Defaults to audit.batch_sizes.",
)
@click.option(
    "--hash",
    "hash_method",
    type=click.Choice(["phash", "dhash"]),
    default="phash",
    show_default=True,
    help="Perceptual hash of the near-duplicate search.",
)
@click.option(
    "--max-distance",
    type=click.IntRange(0, 64),
    default=DEFAULT_MAX_DISTANCE,
    show_default=True,
    help="Largest Hamming distance, in bits of the 64-bit hash, counted as near-identical.",
)
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default=None,
    help="Device of the re-evaluation. Defaults to the recipe's train.device.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help="Data-loader worker processes. Defaults to the recipe's data.workers.",
)
@click.option(
    "--full-passes",
    is_flag=True,
    help="Run the whole model for every test arrangement, instead of embedding each test "
    "image once and rerunning only the relational module and classifier.",
)
@click.option(
    "--no-epoch-entropy",
    is_flag=True,
    help="Do not score kept epoch checkpoints to compute the target-entropy selection rule.",
)
@overrides_option(
    "Override one field of the stored recipe, for example a dataset root that moved: "
    "--set 'data.targets[0].root=\"/data/jaffe\"'. Repeatable."
)
@click.option(
    "--fail-on-flag", is_flag=True, help=f"Exit with status {EXIT_FLAGGED} when any flag is raised."
)
@click.option("--no-progress", is_flag=True, help="Draw no progress bars.")
@click.pass_context
def audit(
    ctx: click.Context,
    run_dir: Path,
    checks: tuple[str, ...],
    targets: tuple[str, ...],
    threshold: float | None,
    seeds: int | None,
    batch_sizes: list[int] | None,
    hash_method: str,
    max_distance: int,
    device: str | None,
    workers: int | None,
    full_passes: bool,
    no_epoch_entropy: bool,
    overrides: tuple[str, ...],
    fail_on_flag: bool,
    no_progress: bool,
) -> None:
    """Audit the finished run in RUN_DIR and write RUN_DIR/audit.md and RUN_DIR/audit.json.

    \b
    For each target:
    - batch: score the checkpoint again with shuffled, class-sorted and single-image test
      batches and with several batch sizes;
    - selection: compare epoch-selection rules with the oracle that reads test labels;
    - overlap: find identical and near-identical images shared by the source training
      split, the adaptation split and the test split;
    - metrics: recompute accuracy and AUROC from the stored probabilities;
    - labels: inspect the adaptation set for labels.

    Gaps above the threshold and failed checks are flagged in red.
    """
    from dafw.audit.findings import collect_findings
    from dafw.audit.report import write_outputs
    from dafw.audit.runner import AuditOptions, run_audit
    from dafw.audit.terminal import print_summary, rich_target

    options = AuditOptions(
        checks=tuple(dict.fromkeys(checks)) or CHECK_NAMES,
        targets=targets,
        threshold=threshold,
        seeds=seeds,
        batch_sizes=batch_sizes,
        hash_method=hash_method,  # type: ignore[arg-type]
        max_distance=max_distance,
        device=device,
        workers=workers,
        epoch_entropy=not no_epoch_entropy,
        reuse_embeddings=not full_passes,
        overrides=overrides,
    )
    result = run_audit(
        run_dir,
        state(ctx).load_plugins(),
        options,
        console=None if no_progress else stderr,
        on_target=lambda target: stdout.print(rich_target(target, collect_findings(target))),
    )
    paths = write_outputs(result, result.run)
    print_summary(result, stdout, paths)
    if fail_on_flag and result.flags:
        ctx.exit(EXIT_FLAGGED)
