"""The environment of a run: versions, device, git commit, command line and plugin origins."""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from dafw.engine.device import Precision
from dafw.engine.distributed import DistContext
from dafw.plugins import PluginSet


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def git_commit(folder: Path) -> dict[str, Any] | None:
    """Return the commit and whether the work tree has changes, for the repository at ``folder``.

    Returns None when ``folder`` is not inside a git repository, the repository has no
    commit yet, or git is not installed.
    """
    def git(*arguments: str) -> str:
        return subprocess.run(
            ["git", *arguments],
            cwd=folder,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def describe_environment(
    precision: Precision, context: DistContext, plugins: PluginSet, command: list[str]
) -> dict[str, Any]:
    """Collect what is needed to rerun or explain a run.

    Args:
        precision (Precision): Device, AMP dtype and memory format used.
        context (DistContext): World size and backend.
        plugins (PluginSet): Loaded plugins, with failures and blocked names.
        command (list[str]): The command line, usually ``sys.argv``.
    """
    device: dict[str, Any] = {
        "device": str(precision.device),
        "amp": precision.amp_name,
        "channels_last": precision.channels_last,
        "world_size": context.world_size,
        "backend": context.backend,
        "cpu_threads": torch.get_num_threads(),
    }
    if precision.device.type == "cuda":
        # NOTE: not run here (no GPU in the test environment).
        device["gpu"] = torch.cuda.get_device_name(precision.device)
        device["cuda"] = torch.version.cuda
        device["cudnn"] = torch.backends.cudnn.version()

    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": command,
        "cwd": str(Path.cwd()),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "versions": {
            "dafw": _version("dafw"),
            "torch": torch.__version__,
            "torchvision": _version("torchvision"),
            "torchmetrics": _version("torchmetrics"),
            "numpy": _version("numpy"),
            "pillow": _version("pillow"),
        },
        "device": device,
        "git": git_commit(Path(__file__).resolve().parent),
        "plugins": {
            "loaded": [
                {"plugin": o.plugin, "distribution": o.distribution, "version": o.version}
                for o in plugins.loaded
            ],
            "failed": [failure.describe() for failure in plugins.failures],
            "blocked": list(plugins.blocked),
        },
    }
