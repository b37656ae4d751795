"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fake_plugins import site  # noqa: F401  (fixture)

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_root() -> Path:
    """Return the folder of the real datasets: ``DAFW_SHARED_DATA`` or ``../shared/data``."""
    configured = os.environ.get("DAFW_SHARED_DATA")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_plugin_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the caller's plugin settings out of the tests."""
    for name in ("DAFW_STRICT_PLUGINS", "DAFW_BLOCK_PLUGINS", "DAFW_DATA_ROOT"):
        monkeypatch.delenv(name, raising=False)
