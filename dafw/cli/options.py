"""Click options shared by the commands that read a recipe."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from dafw.recipe import DATA_ROOT_ENV

Command = Callable[..., Any]


def data_root_option(subject: str = "relative dataset paths") -> Callable[[Command], Command]:
    """Return the ``--data-root`` option; ``subject`` names what resolves against it."""
    return click.option(
        "--data-root",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help=f"Folder that {subject} resolve against. Defaults to ${DATA_ROOT_ENV}, "
        "then ./data.",
    )


def overrides_option(help_text: str | None = None) -> Callable[[Command], Command]:
    """Return the repeatable ``--set KEY.PATH=VALUE`` option, stored as ``overrides``."""
    return click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="KEY.PATH=VALUE",
        help=help_text
        or "Override one recipe field, for example --set train.epochs=2 or "
        "--set aligners[0].weight=0.5; VALUE is read as TOML. Repeatable.",
    )


def recipe_options(command: Command) -> Command:
    """Add the RECIPE argument, ``--set`` and ``--data-root`` to ``command``."""
    command = data_root_option()(command)
    command = overrides_option()(command)
    return click.argument("recipe", type=click.Path(path_type=Path))(command)
