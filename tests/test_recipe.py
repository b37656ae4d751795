"""Recipe loading: strict validation, component parameters, extends, --set, data root."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from dafw.cli import main
from dafw.plugins import load_plugins
from dafw.recipe import RecipeError, load_recipe
from tests.fake_plugins import PARAMS_AND_FACTORY, make_distribution

FAKE_COMPONENTS = PARAMS_AND_FACTORY + '''

class AlignerParams(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    kernels: int = Field(5, ge=1, description="number of kernels")
    coefficient: float = Field(1.0, ge=0, description="gradient reversal factor")


@hookimpl
def dafw_register(registrar):
    registrar.add("backbone", "fake_net", summary="net", params=Params, factory=build)
    registrar.add("relational", "fake_ring", summary="ring", params=Params, factory=build)
    registrar.add("relational", "fake_star", summary="star", params=AlignerParams, factory=build)
    registrar.add("aligner", "fake_mmd", summary="mmd", params=AlignerParams, factory=build)
    registrar.add("aligner", "fake_coral", summary="coral", params=Params, factory=build)
    registrar.add("dataset", "fake_faces", summary="faces", params=Params, factory=build)
'''

BASE = """
seed = 3

[model]
projection_dim = 16

[model.backbone]
type = "fake_net"
params = { depth = 3 }

[model.relational]
type = "fake_ring"

[[aligners]]
type = "fake_mmd"
weight = 0.5
params = { kernels = 3 }

[[aligners]]
type = "fake_coral"

[data.source]
type = "fake_faces"
root = "source_faces"

[[data.targets]]
type = "fake_faces"
name = "first"
root = "/abs/target_faces"

[[data.targets]]
type = "fake_faces"
name = "second"
root = "second"

[train]
epochs = 2
batch_size = 4
"""


@pytest.fixture
def plugins(site):
    make_distribution(site, "fake-parts", {"fake_parts": "fake_parts"},
                      {"fake_parts": FAKE_COMPONENTS})
    return load_plugins()


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def issues_of(path, plugins, overrides=(), text=None):
    with pytest.raises(RecipeError) as raised:
        load_recipe(path, overrides, plugins=plugins)
    return str(raised.value)


def test_valid_recipe_resolves(tmp_path, plugins):
    path = write(tmp_path, "base.toml", BASE)

    recipe = load_recipe(path, data_root=tmp_path / "data", plugins=plugins)

    assert recipe.name == "base"
    assert recipe.model.backbone.params == {"scale": 1.0, "depth": 3}
    assert recipe.aligners[0].params == {"kernels": 3, "coefficient": 1.0}
    assert recipe.aligners[0].weight == 0.5
    assert recipe.data.source.root == str((tmp_path / "data" / "source_faces").resolve())
    assert recipe.data.targets[0].root == "/abs/target_faces"
    assert recipe.train.optimizer.lr == 1e-4


def test_misspelled_param_suggests(tmp_path, plugins):
    path = write(tmp_path, "x.toml", BASE.replace("{ kernels = 3 }", "{ kernals = 3 }"))

    message = issues_of(path, plugins)

    assert f"{path}: aligners[0].params.kernals: unknown key 'kernals'" in message
    assert "did you mean 'kernels'?" in message


def test_plugin_rejects_value(tmp_path, plugins):
    path = write(tmp_path, "x.toml", BASE.replace("{ kernels = 3 }", "{ kernels = 0 }"))

    message = issues_of(path, plugins)

    assert f"{path}: aligners[0].params.kernels: Input should be greater than or equal to 1" \
        in message


@pytest.mark.parametrize(
    ("old", "new", "where", "expected"),
    [
        ("batch_size = 4", 'batch_size = "4"', "train.batch_size", "valid integer"),
        ("batch_size = 4", "batch_size = 4.0", "train.batch_size", "valid integer"),
        ("batch_size = 4", "batch_size = 0", "train.batch_size", "greater than 0"),
        ("batch_size = 4", "batch_size = -8", "train.batch_size", "greater than 0"),
        ("epochs = 2", "epochs = 2\nchannels_last = \"yes\"", "train.channels_last",
         "valid boolean"),
        ("epochs = 2", "epochs = 2\noptimizer = { lr = 0.0 }", "train.optimizer.lr",
         "greater than 0"),
        ("epochs = 2", "epochs = 2\noptimizer = { lr = -1e-3 }", "train.optimizer.lr",
         "greater than 0"),
        ("seed = 3", 'seed = "3"', "seed", "valid integer"),
        ("{ depth = 3 }", '{ depth = "3" }', "model.backbone.params.depth", "valid integer"),
        ("{ depth = 3 }", "{ depth = 3.0 }", "model.backbone.params.depth", "valid integer"),
    ],
)
def test_strict_types_rejected(tmp_path, plugins, old, new, where, expected):
    path = write(tmp_path, "x.toml", BASE.replace(old, new, 1))

    message = issues_of(path, plugins)

    assert f"{path}: {where}: " in message
    assert expected in message


def test_unknown_top_level_key_suggests(tmp_path, plugins):
    path = write(tmp_path, "x.toml", "sead = 1\n" + BASE)

    message = issues_of(path, plugins)

    assert f"{path}: sead: unknown key 'sead'; did you mean 'seed'?" in message


def test_unknown_nested_key_has_table_path(tmp_path, plugins):
    path = write(tmp_path, "x.toml", BASE.replace("batch_size = 4", "batch_sise = 4"))

    message = issues_of(path, plugins)

    assert "train.batch_sise: unknown key 'batch_sise'; did you mean 'batch_size'?" in message


def test_unknown_component_lists_names(tmp_path, plugins):
    path = write(tmp_path, "x.toml", BASE.replace('type = "fake_coral"', 'type = "fake_corla"'))

    message = issues_of(path, plugins)

    assert f"{path}: aligners[1].type: unknown aligner 'fake_corla'" in message
    assert "did you mean 'fake_coral'?" in message
    assert "fake_mmd" in message


def test_type_change_drops_parent_params(tmp_path, plugins):
    write(tmp_path, "base.toml", BASE.replace('type = "fake_ring"',
                                              'type = "fake_ring"\nparams = { depth = 4 }'))
    child = write(tmp_path, "child.toml", """
        extends = "base.toml"
        [model.relational]
        type = "fake_star"
    """)

    recipe = load_recipe(child, plugins=plugins)

    assert recipe.model.relational.params == {"kernels": 5, "coefficient": 1.0}


def test_extends_deep_merges(tmp_path, plugins):
    write(tmp_path, "base.toml", BASE)
    (tmp_path / "sub").mkdir()
    child = write(tmp_path / "sub", "child.toml", """
        extends = "../base.toml"
        [train]
        epochs = 7
        [model.backbone.params]
        scale = 2.0
    """)

    recipe = load_recipe(child, plugins=plugins)

    assert recipe.name == "child"
    assert recipe.train.epochs == 7
    assert recipe.train.batch_size == 4
    assert recipe.model.backbone.params == {"scale": 2.0, "depth": 3}
    assert len(recipe.aligners) == 2


def test_extends_missing_target(tmp_path, plugins):
    child = write(tmp_path, "child.toml", 'extends = "nowhere.toml"\n')

    message = issues_of(child, plugins)

    assert f"{child}: extends: extended recipe 'nowhere.toml' not found" in message
    assert str(tmp_path / "nowhere.toml") in message


def test_extends_circular(tmp_path, plugins):
    first = write(tmp_path, "a.toml", 'extends = "b.toml"\nseed = 1\n')
    write(tmp_path, "b.toml", 'extends = "a.toml"\nseed = 2\n')

    message = issues_of(first, plugins)

    assert "circular extends" in message
    assert "a.toml -> " in message and "b.toml" in message


def test_extends_self(tmp_path, plugins):
    path = write(tmp_path, "self.toml", 'extends = "self.toml"\n')

    assert "circular extends" in issues_of(path, plugins)


def test_unreadable_and_non_toml(tmp_path, plugins):
    missing = tmp_path / "missing.toml"
    broken = write(tmp_path, "broken.toml", "[model\nbackbone = 1\n")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00\x01")

    assert f"{missing}: recipe file not found" in issues_of(missing, plugins)
    assert f"{broken}: invalid TOML" in issues_of(broken, plugins)
    assert f"{binary}: is not UTF-8 text" in issues_of(binary, plugins)
    assert f"{tmp_path}: is a folder" in issues_of(tmp_path, plugins)


def test_set_overrides_validated(tmp_path, plugins):
    path = write(tmp_path, "base.toml", BASE)

    recipe = load_recipe(
        path,
        ["train.epochs=9", "aligners[1].weight=0.25", "model.relational.params.depth=5",
         "train.amp=off", "data.targets[1].root=CK+48"],
        data_root=tmp_path,
        plugins=plugins,
    )

    assert recipe.train.epochs == 9
    assert recipe.aligners[1].weight == 0.25
    assert recipe.model.relational.params["depth"] == 5
    assert recipe.train.amp == "off"
    assert recipe.data.targets[1].root == str(tmp_path / "CK+48")


def test_set_rejects_bad_value_and_path(tmp_path, plugins):
    path = write(tmp_path, "base.toml", BASE)

    bad_type = issues_of(path, plugins, ["train.epochs=two"])
    unknown = issues_of(path, plugins, ["train.epoks=3"])
    out_of_range = issues_of(path, plugins, ["aligners[5].weight=1.0"])
    bad_syntax = issues_of(path, plugins, ["train..epochs=3"])

    assert "train.epochs: Input should be a valid integer, got 'two' (a string)" in bad_type
    assert "(from --set train.epochs=two)" in bad_type
    assert "train.epoks: unknown key 'epoks'; did you mean 'epochs'?" in unknown
    assert "(from --set train.epoks=3)" in unknown
    assert "index 5 is out of range, the array has 2 entries" in out_of_range
    assert "invalid key path 'train..epochs'" in bad_syntax


def test_data_root_from_env(tmp_path, plugins, monkeypatch):
    path = write(tmp_path, "base.toml", BASE)
    monkeypatch.setenv("DAFW_DATA_ROOT", str(tmp_path / "env-root"))

    recipe = load_recipe(path, plugins=plugins)
    explicit = load_recipe(path, data_root=tmp_path / "flag-root", plugins=plugins)

    assert recipe.data.source.root == str(tmp_path / "env-root" / "source_faces")
    assert explicit.data.source.root == str(tmp_path / "flag-root" / "source_faces")


def test_data_root_default(tmp_path, plugins, monkeypatch):
    path = write(tmp_path, "base.toml", BASE)
    monkeypatch.chdir(tmp_path)

    recipe = load_recipe(path, plugins=plugins)

    assert recipe.data.source.root == str(tmp_path / "data" / "source_faces")


def test_recipe_cannot_name_import_paths(tmp_path, plugins):
    path = write(tmp_path, "x.toml", BASE.replace('type = "fake_net"', 'type = "os:system"'))

    message = issues_of(path, plugins)

    assert "model.backbone.type: unknown backbone 'os:system'" in message


def test_duplicate_target_names(tmp_path, plugins):
    path = write(tmp_path, "x.toml", BASE.replace('name = "second"', 'name = "first"'))

    assert "target names must be unique, first repeats" in issues_of(path, plugins)


def test_cli_validate_prints_resolved(tmp_path, plugins):
    path = write(tmp_path, "base.toml", BASE)

    result = CliRunner().invoke(
        main, ["validate", str(path), "--set", "train.epochs=4", "--json",
               "--data-root", str(tmp_path)]
    )

    assert result.exit_code == 0, result.output
    resolved = json.loads(result.stdout)
    assert resolved["train"]["epochs"] == 4
    assert resolved["aligners"][1]["params"] == {"scale": 1.0, "depth": 2}
    assert resolved["data"]["source"]["root"] == str(tmp_path / "source_faces")


def test_cli_validate_errors_exit_2(tmp_path, plugins):
    path = write(tmp_path, "x.toml", BASE.replace("batch_size = 4", 'batch_size = "4"'))

    result = CliRunner().invoke(main, ["validate", str(path)])

    assert result.exit_code == 2
    assert f"error: {path}: train.batch_size: Input should be a valid integer" in result.stderr
    assert "Traceback" not in result.output


def test_cli_validate_missing_file(tmp_path, plugins):
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "nope.toml")])

    assert result.exit_code == 2
    assert "recipe file not found" in result.stderr
