"""Plugin discovery: hook specifications and the plugin manager."""

from dafw.plugins.hookspecs import hookimpl
from dafw.plugins.manager import (
    ENTRY_POINT_GROUP,
    PluginFailure,
    PluginLoadError,
    PluginManager,
    PluginSet,
    load_plugins,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginFailure",
    "PluginLoadError",
    "PluginManager",
    "PluginSet",
    "hookimpl",
    "load_plugins",
]
