"""dafw: a plugin framework for unsupervised domain adaptation in PyTorch."""

from importlib import metadata

from dafw.plugins.hookspecs import hookimpl

try:
    __version__ = metadata.version("dafw")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["__version__", "hookimpl"]
