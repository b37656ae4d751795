"""Every shipped recipe validates, and each ablation changes only what its name names."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dafw.cli import main
from dafw.plugins import load_plugins
from dafw.recipe import load_recipe

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
RECIPE_FILES = sorted(RECIPES.rglob("*.toml"))


@pytest.fixture(scope="module")
def plugins():
    return load_plugins()


@pytest.mark.parametrize("path", RECIPE_FILES, ids=lambda path: str(path.relative_to(RECIPES)))
def test_recipe_validates(path):
    result = CliRunner().invoke(main, ["validate", str(path)])

    assert result.exit_code == 0, result.output


def test_recipes_found():
    names = {str(path.relative_to(RECIPES)) for path in RECIPE_FILES}
    assert {"gat_ada.toml", "quickstart.toml", "fer2013_cpu.toml"} <= names
    assert {f"ablations/{name}.toml" for name in
            ("gcn", "no_relational", "no_grl", "resnet18", "convnext", "no_coral_mmd")} <= names


def test_published_recipe_settings(plugins):
    recipe = load_recipe(RECIPES / "gat_ada.toml", plugins=plugins)

    assert recipe.model.backbone.type == "resnet50"
    assert recipe.model.relational.type == "ring_gat"
    assert recipe.model.relational.params["heads"] == 4
    assert [(a.type, a.weight) for a in recipe.aligners] == [
        ("grl", 1.0), ("coral", 1.0), ("mmd", 1.0)
    ]
    assert recipe.aligners[0].params["coefficient"] == 1.0
    assert recipe.aligners[0].params["schedule"] == "fixed"
    assert recipe.data.source.type == "rafdb"
    assert [t.type for t in recipe.data.targets] == ["ckplus", "jaffe", "sfew", "fer2013", "expw"]
    assert recipe.data.transforms.size == 100
    assert (recipe.train.epochs, recipe.train.batch_size) == (32, 64)
    assert recipe.train.optimizer.lr == 1e-4
    assert recipe.train.schedule.warmup_epochs == 5


@pytest.mark.parametrize(
    ("name", "check"),
    [
        ("gcn", lambda r: r.model.relational.type == "gcn"),
        ("no_relational", lambda r: r.model.relational.type == "none"),
        ("no_grl", lambda r: [a.type for a in r.aligners] == ["coral", "mmd"]),
        ("no_coral_mmd", lambda r: [a.type for a in r.aligners] == ["grl"]),
        ("resnet18", lambda r: r.model.backbone.type == "resnet18"),
        ("convnext", lambda r: r.model.backbone.type == "convnext_tiny"),
    ],
)
def test_ablation_changes_one_thing(plugins, name, check):
    base = load_recipe(RECIPES / "gat_ada.toml", plugins=plugins)
    ablation = load_recipe(RECIPES / "ablations" / f"{name}.toml", plugins=plugins)

    assert check(ablation)
    assert not check(base)
    assert ablation.data == base.data
    assert ablation.train == base.train
    assert ablation.name != base.name
