"""The third-party example package under examples/ installs and plugs in like any other."""

from __future__ import annotations

import importlib
import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from dafw.cli import main
from dafw.components import AlignContext
from dafw.plugins import load_plugins
from dafw.recipe import load_recipe

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dafw-cmd"

RECIPE = """
[model.backbone]
type = "{backbone}"

[[aligners]]
type = "cmd"
params = {{ moments = {moments} }}

[data.source]
type = "{dataset}"

[[data.targets]]
type = "{dataset}"
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Install the example package into a temporary folder and put it on sys.path."""
    target = tmp_path_factory.mktemp("example-site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--no-build-isolation", "--target", str(target), str(EXAMPLE)],
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
    yield target
    sys.path.remove(str(target))
    for module in [name for name in sys.modules if name.startswith("dafw_cmd")]:
        del sys.modules[module]


def first_registered(plugins, kind):
    return next(iter(plugins.registries[kind])).name


def write_recipe(tmp_path, moments):
    plugins = load_plugins()
    text = RECIPE.format(
        backbone=first_registered(plugins, "backbone"),
        dataset=first_registered(plugins, "dataset"),
        moments=moments,
    )
    path = tmp_path / "cmd.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_listed_with_its_package(installed):
    result = CliRunner().invoke(main, ["list-plugins", "--kind", "aligner", "--json"])

    components = {item["name"]: item for item in json.loads(result.stdout)["components"]}
    assert components["cmd"]["package"] == "dafw-cmd"
    assert components["cmd"]["version"] == "0.1.0"
    assert components["cmd"]["plugin"] == "cmd"


def test_recipe_uses_it(installed, tmp_path):
    recipe = load_recipe(write_recipe(tmp_path, 3))

    assert recipe.aligners[0].type == "cmd"
    assert recipe.aligners[0].params == {"moments": 3, "bound_width": 1.0}


def test_validate_checks_its_params(installed, tmp_path):
    path = write_recipe(tmp_path, 0)

    result = CliRunner().invoke(main, ["validate", str(path)])

    assert result.exit_code == 2
    assert "aligners[0].params.moments: Input should be greater than or equal to 1" \
        in result.stderr


def test_blockable_by_name(installed):
    plugins = load_plugins(blocked={"cmd"})

    assert "cmd" not in plugins.registries["aligner"]


def test_cmd_value_by_hand(installed):
    entry = load_plugins().registries["aligner"].get("cmd")
    aligner = entry.factory(entry.params(moments=3, bound_width=2.0), 2)
    source = torch.tensor([[0.0, 0.0], [2.0, 4.0]])
    target = torch.tensor([[1.0, 1.0], [1.0, 1.0]])

    loss = aligner(source, target, AlignContext(step=0, total_steps=1)).loss

    # Means differ by (0, 1); second moments are (1, 4) against (0, 0); third moments match.
    expected = 1 / 2 + math.sqrt(17) / 2**2
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    assert float(aligner(source, source, AlignContext(0, 1)).loss) == 0.0
