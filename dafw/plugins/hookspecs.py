"""Hook specifications that dafw plugins implement."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from dafw.registry import Registrar

PROJECT_NAME = "dafw"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def dafw_register(registrar: Registrar) -> None:
    """Add this plugin's components to the registries.

    Call ``registrar.add(kind, name, summary=..., params=..., factory=...)`` once per
    component. The registrar records which distribution provided each entry, so a plugin
    never states its own origin.

    Args:
        registrar (Registrar): Collects the entries of one plugin.
    """
