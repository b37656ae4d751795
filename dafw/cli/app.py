"""The `dafw` command group, its shared options and its error handling."""

from __future__ import annotations

import importlib
import logging
import sys
from dataclasses import dataclass, field
from typing import Any

import click
from rich.console import Console
from rich.logging import RichHandler

from dafw.errors import DafwError
from dafw.plugins import PluginSet, load_plugins

logger = logging.getLogger("dafw")

# Commands are imported when used, so that `dafw --help` stays fast without importing torch.
LAZY_COMMANDS: dict[str, str] = {
    "list-plugins": "dafw.cli.plugins_cmd:list_plugins",
    "show-plugin": "dafw.cli.plugins_cmd:show_plugin",
    "validate": "dafw.cli.validate_cmd:validate",
    "data": "dafw.cli.data_cmd:data",
    "run": "dafw.cli.run_cmd:run",
    "eval": "dafw.cli.eval_cmd:evaluate",
    "predict": "dafw.cli.predict_cmd:predict",
    "audit": "dafw.cli.audit_cmd:audit",
}

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class CliState:
    """Options of the `dafw` group, shared by every command.

    Attributes:
        strict_plugins (bool | None): Fail on a broken plugin; None defers to the environment.
        blocked (set[str]): Plugin names not to load.
        plugins (PluginSet | None): Loaded on first use.
    """

    strict_plugins: bool | None = None
    blocked: set[str] = field(default_factory=set)
    plugins: PluginSet | None = None

    def load_plugins(self) -> PluginSet:
        """Load the installed plugins once per command line."""
        if self.plugins is None:
            self.plugins = load_plugins(blocked=self.blocked, strict=self.strict_plugins)
        return self.plugins


class DafwGroup(click.Group):
    """A click group that imports commands on use and reports user errors without traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in LAZY_COMMANDS:
            return command
        module_name, attribute = LAZY_COMMANDS[cmd_name].split(":")
        return getattr(importlib.import_module(module_name), attribute)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DafwError as error:
            for line in str(error).splitlines():
                stderr.print(f"[bold red]error:[/] {line}", markup=True, highlight=False)
            ctx.exit(error.exit_code)


def configure_logging(verbose: int) -> None:
    """Send the `dafw` logger to stderr through rich, at WARNING or more detailed."""
    if verbose == 0:
        level = logging.WARNING
    elif verbose == 1:
        level = logging.INFO
    else:
        level = logging.DEBUG
    handler = RichHandler(console=stderr, show_path=False, show_time=False)
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


@click.group(cls=DafwGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--strict-plugins",
    is_flag=True,
    default=None,
    help="Stop with an error when any plugin fails to load, instead of reporting it and "
    "going on. Also set by DAFW_STRICT_PLUGINS=1.",
)
@click.option(
    "--block-plugin",
    "blocked",
    multiple=True,
    metavar="NAME",
    help="Do not load the plugin with this entry-point name; repeat for several. "
    "DAFW_BLOCK_PLUGINS takes a comma-separated list too.",
)
@click.option(
    "-v", "--verbose", count=True, help="Log more: -v for progress details, -vv for debugging."
)
@click.version_option(package_name="dafw")
@click.pass_context
def main(ctx: click.Context, strict_plugins: bool | None, blocked: tuple[str, ...], verbose: int):
    """dafw: unsupervised domain adaptation from plugins and TOML recipes."""
    configure_logging(verbose)
    ctx.obj = CliState(strict_plugins=strict_plugins, blocked=set(blocked))


def state(ctx: click.Context) -> CliState:
    """Return the shared state of the current command line."""
    return ctx.find_root().obj


def run() -> None:
    """Entry point of the `dafw` executable."""
    sys.exit(main.main(prog_name="dafw", standalone_mode=True))
