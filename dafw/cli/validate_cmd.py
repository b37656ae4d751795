"""`dafw validate`: check a recipe and print it fully resolved."""

from __future__ import annotations

import json
from pathlib import Path

import click
import tomli_w
from rich.syntax import Syntax

from dafw.cli.app import state, stdout
from dafw.cli.options import recipe_options
from dafw.recipe import load_recipe, recipe_to_dict


@click.command("validate")
@recipe_options
@click.option("--json", "as_json", is_flag=True, help="Print the resolved recipe as JSON.")
@click.pass_context
def validate(
    ctx: click.Context,
    recipe: Path,
    overrides: tuple[str, ...],
    data_root: Path | None,
    as_json: bool,
) -> None:
    """Validate RECIPE and print it with every default and path resolved.

    Exits with status 2 and one line per problem when the recipe is invalid.
    """
    loaded = load_recipe(
        recipe, overrides, data_root=data_root, plugins=state(ctx).load_plugins()
    )
    resolved = recipe_to_dict(loaded)
    if as_json:
        click.echo(json.dumps(resolved, indent=2))
        return
    stdout.print(Syntax(tomli_w.dumps(resolved), "toml", theme="ansi_dark"))
    stdout.print(f"[green]{recipe}: valid[/]")
