"""Builders of fake installed distributions with dafw entry points, for plugin tests."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest

PARAMS_AND_FACTORY = '''
from pydantic import BaseModel, ConfigDict, Field

from dafw import hookimpl


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    scale: float = Field(1.0, gt=0, description="scale factor")
    depth: int = Field(2, ge=1, le=8, description="number of layers")


def build(params, *args):
    return ("built", params, args)
'''


def make_distribution(
    site: Path, distribution: str, entry_points: dict[str, str], modules: dict[str, str]
) -> None:
    """Write a fake installed distribution into ``site``.

    Args:
        site: Folder that is (or will be) on ``sys.path``.
        distribution: Distribution name; its version is always 1.0.
        entry_points: Entry-point name to ``module`` in the ``dafw.plugins`` group.
        modules: Module name to source text.
    """
    info = site / f"{distribution.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 1.0\n", encoding="utf-8"
    )
    lines = ["[dafw.plugins]"] + [f"{name} = {target}" for name, target in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for module, source in modules.items():
        (site / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")


def registering_module(kind: str, name: str, summary: str = "a fake component") -> str:
    """Return the source of a plugin module that registers one component."""
    return PARAMS_AND_FACTORY + textwrap.dedent(
        f'''

        @hookimpl
        def dafw_register(registrar):
            registrar.add({kind!r}, {name!r}, summary={summary!r}, params=Params, factory=build)
        '''
    )


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary folder on ``sys.path`` for fake distributions."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    importlib.invalidate_caches()
    yield folder
    for module in list(sys.modules):
        if module.startswith("fake_"):
            del sys.modules[module]
