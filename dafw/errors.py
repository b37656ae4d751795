"""Exceptions that the command line reports as user errors, without a traceback."""

from __future__ import annotations


class DafwError(Exception):
    """An error caused by input the user can fix: a recipe, a path, a plugin."""

    exit_code = 2
