"""The ``dafw data`` commands: check that datasets are laid out and labelled as expected."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from dafw.cli.options import data_root_option
from dafw.data.check import CheckTarget, DatasetCheck, DuplicateSummary, check_datasets
from dafw.data.progress import rich_progress
from dafw.errors import DafwError

EXIT_UNREADABLE_FILES = 1
EXIT_UNREADABLE_DATASET = 2


@click.group("data")
def data() -> None:
    """Inspect datasets: layout, class counts, unreadable files and duplicates."""


@data.command("check")
@click.argument("recipe", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--dataset", "dataset_type", metavar="NAME", help="Registered dataset type, such as fer2013."
)
@click.option(
    "--root", type=click.Path(file_okay=True, path_type=Path), help="Data root of --dataset."
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Dataset parameter of --dataset; VALUE is read as JSON when it parses, else as text. "
    "Repeatable.",
)
@data_root_option("the relative dataset roots of RECIPE")
@click.option("--json", "as_json", is_flag=True, help="Write the results as JSON to stdout.")
@click.option(
    "--no-decode",
    is_flag=True,
    help="Skip decoding every image; corrupt files then go unnoticed.",
)
@click.option(
    "--examples",
    default=10,
    show_default=True,
    type=click.IntRange(min=0),
    help="Duplicate groups to list in the text output.",
)
@click.pass_context
def check(
    ctx: click.Context,
    recipe: Path | None,
    dataset_type: str | None,
    root: Path | None,
    params: tuple[str, ...],
    data_root: Path | None,
    as_json: bool,
    no_decode: bool,
    examples: int,
) -> None:
    """Check the datasets of RECIPE, or the one given by --dataset and --root.

    For every split: images per class and missing classes; for every dataset: items
    dropped by its class policy and files that cannot be read; across all of them:
    byte-identical images within a split, across splits, and between source and targets.

    Exit status: 0 when everything reads, 1 when some files are unreadable, 2 when a
    dataset cannot be read at all or a target's classes differ from the source's.
    """
    if recipe is not None and (dataset_type or root or params):
        raise click.UsageError("give either RECIPE or --dataset/--root/--param, not both")
    if recipe is None and not (dataset_type and root):
        raise click.UsageError("give a RECIPE, or both --dataset NAME and --root PATH")
    if recipe is None and data_root is not None:
        raise click.UsageError("--data-root applies to RECIPE only; give --root an absolute path")

    plugins = _plugins(ctx)
    try:
        if recipe is not None:
            targets = recipe_targets(recipe, data_root, plugins)
        else:
            assert dataset_type is not None and root is not None
            targets = [CheckTarget(dataset_type, dataset_type, str(root), parse_params(params))]
    except DafwError as error:
        for line in str(error).splitlines():
            click.echo(f"error: {line}", err=True)
        ctx.exit(EXIT_UNREADABLE_DATASET)

    progress = None if as_json else rich_progress
    checks, duplicates = check_datasets(
        targets,
        decode=not no_decode,
        progress=progress,
        plugins=plugins,
        same_classes=recipe is not None,
    )

    if as_json:
        payload = {
            "datasets": [item.to_dict() for item in checks],
            "duplicates": duplicates.to_dict(),
            "decoded": not no_decode,
        }
        click.echo(json.dumps(payload, indent=2))
    else:
        console = Console()
        for item in checks:
            render_dataset(console, item)
        render_duplicates(console, duplicates, examples)

    if any(item.error or item.class_mismatch for item in checks):
        ctx.exit(EXIT_UNREADABLE_DATASET)
    if any(item.unreadable for item in checks):
        ctx.exit(EXIT_UNREADABLE_FILES)


def _plugins(ctx: click.Context) -> Any:
    """Return the plugins loaded by the ``dafw`` group, or None when run without it."""
    root_state = ctx.find_root().obj
    load = getattr(root_state, "load_plugins", None)
    return load() if callable(load) else None


def parse_params(items: tuple[str, ...]) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` options; VALUE is JSON when it parses (``3``, ``true``), else text.

    Raises:
        click.BadParameter: An item has no ``=`` or an empty key.
    """
    params: dict[str, Any] = {}
    for item in items:
        key, separator, value = item.partition("=")
        if not separator or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--param")
        try:
            params[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            params[key.strip()] = value
    return params


def recipe_targets(
    path: Path, data_root: Path | None = None, plugins: Any = None
) -> list[CheckTarget]:
    """List the source and target datasets of the recipe at ``path``, with their roles."""
    from dafw.recipe import load_recipe

    data_section = load_recipe(path, data_root=data_root, plugins=plugins).data
    source_roles = {"split": "source", "val_split": "source val"}
    targets = [_target(data_section.source, "source", source_roles)]
    for spec in data_section.targets:
        targets.append(_target(spec, "target", {"adapt_split": "adapt", "test_split": "test"}))
    return targets


def _target(spec: Any, role: str, split_fields: dict[str, str]) -> CheckTarget:
    roles: dict[str, str] = {}
    for field_name, use in split_fields.items():
        split = getattr(spec, field_name, None)
        if split:
            roles[split] = f"{roles[split]}+{use}" if split in roles else use
    params = (
        spec.params.model_dump() if hasattr(spec.params, "model_dump") else dict(spec.params or {})
    )
    label = "source" if role == "source" else (getattr(spec, "name", None) or spec.type)
    return CheckTarget(label, spec.type, str(spec.root), params, roles)


def render_dataset(console: Console, item: DatasetCheck) -> None:
    """Print the class counts, missing classes, drops, notes and unreadable files."""
    console.rule(f"[bold]{item.label}[/] ({item.dataset}) {item.root}")
    if item.error is not None or item.report is None:
        console.print(f"[red]cannot read this dataset:[/] {item.error}")
        return

    report = item.report
    if item.class_mismatch:
        console.print(f"[red]class lists differ:[/] {item.class_mismatch}")
    table = Table(show_edge=False)
    table.add_column("class")
    splits = list(report.counts)
    for split in splits:
        role = item.roles.get(split)
        table.add_column(f"{split} ({role})" if role else split, justify="right")
    for name in report.classes:
        cells = [report.counts[split][name] for split in splits]
        table.add_row(name, *("[red]0[/]" if n == 0 else f"{n:,}" for n in cells))
    totals = [sum(report.counts[split].values()) for split in splits]
    table.add_row("[bold]total[/]", *(f"[bold]{n:,}[/]" for n in totals))
    console.print(table)

    missing = {split: names for split, names in report.missing_classes.items() if names}
    for split, names in missing.items():
        console.print(f"missing classes in {split}: {', '.join(names)}")
    for reason, count in report.dropped.items():
        console.print(f"dropped {count:,}: {reason}")
    for note in report.notes:
        console.print(f"note: {note}", highlight=False)
    if item.unreadable:
        console.print(f"[red]{len(item.unreadable):,} unreadable file(s):[/]")
        for key, error in item.unreadable.items():
            console.print(f"  {key}: {error}", highlight=False)


def render_duplicates(console: Console, summary: DuplicateSummary, examples: int) -> None:
    """Print how many byte-identical groups join each pair of splits, and some examples."""
    console.rule("[bold]byte-identical duplicates[/]")
    if not summary.groups:
        console.print("no two images have identical content")
        return
    console.print(f"{len(summary.groups):,} groups of identical images ({summary.images:,} images)")
    table = Table(show_edge=False)
    table.add_column("split")
    table.add_column("other split")
    table.add_column("groups", justify="right")
    for (first, second), count in summary.pair_counts.items():
        table.add_row(str(first), "(same split)" if first == second else str(second), f"{count:,}")
    console.print(table)
    for group in summary.groups[:examples]:
        listing = ", ".join(f"{label}:{key}" for label, key, _ in group.members)
        console.print(f"  {listing}", highlight=False)
    if len(summary.groups) > examples:
        console.print(f"  ... and {len(summary.groups) - examples:,} more groups (see --json)")
