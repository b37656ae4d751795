"""Click options shared by the commands that read a recipe."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
from pathlib import Path

from dafw.recipe import DATA_ROOT_ENV


def recipe_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the RECIPE argument, ``--set`` and ``--data-root`` to ``command``."""
    command = click.option(
        "--data-root",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help=f"Folder that relative dataset paths resolve against. Defaults to "
        f"${DATA_ROOT_ENV}, then ./data.",
    )(command)
    command = click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="KEY.PATH=VALUE",
        help="Override one recipe field, for example --set train.epochs=2 or "
        "--set aligners[0].weight=0.5; VALUE is read as TOML. Repeatable.",
    )(command)
    command = click.argument("recipe", type=click.Path(path_type=Path))(
        command
    )
    return command
