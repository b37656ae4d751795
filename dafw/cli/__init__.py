"""The `dafw` command line."""

from dafw.cli.app import main, run

__all__ = ["main", "run"]
