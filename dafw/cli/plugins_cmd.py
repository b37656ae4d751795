"""`dafw list-plugins` and `dafw show-plugin`: what the installed plugins provide."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.table import Table

from dafw.cli.app import state, stdout
from dafw.components import KINDS
from dafw.params import describe_params
from dafw.plugins import PluginSet


@click.command("list-plugins")
@click.option(
    "--kind", type=click.Choice(KINDS), help="Show only components of this kind."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.pass_context
def list_plugins(ctx: click.Context, kind: str | None, as_json: bool) -> None:
    """List registered components, and the plugins that failed to load and why."""
    plugins = state(ctx).load_plugins()
    entries = [entry for entry in plugins.registries.entries() if kind in (None, entry.kind)]

    if as_json:
        click.echo(json.dumps(plugins_as_dict(plugins, entries), indent=2))
        return

    table = Table(title="Registered components", title_justify="left")
    for column in ("kind", "name", "summary", "package", "version", "plugin"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        table.add_row(
            entry.kind,
            entry.name,
            entry.summary,
            entry.origin.distribution,
            entry.origin.version,
            entry.origin.plugin,
        )
    stdout.print(table)

    if plugins.failures:
        failed = Table(title="Plugins that failed to load", title_justify="left", style="red")
        for column in ("plugin", "package", "stage", "error"):
            failed.add_column(column, overflow="fold")
        for failure in plugins.failures:
            failed.add_row(failure.plugin, failure.distribution, failure.stage, failure.error)
        stdout.print(failed)
    if plugins.blocked:
        stdout.print(f"Blocked plugins: {', '.join(sorted(plugins.blocked))}")


def plugins_as_dict(plugins: PluginSet, entries: list[Any]) -> dict[str, Any]:
    """Return the listing of `list-plugins --json`."""
    return {
        "components": [
            {
                "kind": entry.kind,
                "name": entry.name,
                "summary": entry.summary,
                "package": entry.origin.distribution,
                "version": entry.origin.version,
                "plugin": entry.origin.plugin,
            }
            for entry in entries
        ],
        "failed": [
            {
                "plugin": failure.plugin,
                "package": failure.distribution,
                "stage": failure.stage,
                "error": failure.error,
            }
            for failure in plugins.failures
        ],
        "blocked": sorted(plugins.blocked),
    }


@click.command("show-plugin")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def show_plugin(ctx: click.Context, kind: str, name: str, as_json: bool) -> None:
    """Show the parameters of the component NAME of KIND, with types, defaults and bounds."""
    entry = state(ctx).load_plugins().registries[kind].get(name)
    params = describe_params(entry.params)

    if as_json:
        description = {
            "kind": entry.kind,
            "name": entry.name,
            "summary": entry.summary,
            "package": entry.origin.distribution,
            "version": entry.origin.version,
            "params": params,
        }
        click.echo(json.dumps(description, indent=2))
        return

    stdout.print(f"[bold]{entry.kind} {entry.name}[/]: {entry.summary}")
    stdout.print(f"from {entry.origin}")
    table = Table(title_justify="left")
    for column in ("parameter", "type", "default", "bounds", "description"):
        table.add_column(column, overflow="fold")
    for param in params:
        table.add_row(
            param["name"],
            param["type"],
            json.dumps(param["default"]) if "default" in param else "required",
            param["bounds"],
            param["description"],
        )
    if params:
        stdout.print(table)
    else:
        stdout.print("no parameters")
