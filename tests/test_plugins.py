"""Plugin discovery through entry points: loading, isolation, validation, blocking."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dafw.cli import main
from dafw.plugins import PluginLoadError, load_plugins
from dafw.registry import RegistryError
from tests.fake_plugins import make_distribution, registering_module


def failure_named(plugins, name):
    matches = [failure for failure in plugins.failures if failure.plugin == name]
    assert matches, f"no failure reported for {name!r}: {plugins.failures}"
    return matches[0]


def test_plugin_registers_with_origin(site):
    make_distribution(
        site, "fake-good", {"fake_good": "fake_good"},
        {"fake_good": registering_module("aligner", "fake_aligner", "Fake aligner for tests")},
    )

    plugins = load_plugins()

    entry = plugins.registries["aligner"].get("fake_aligner")
    assert entry.summary == "Fake aligner for tests"
    assert entry.origin.distribution == "fake-good"
    assert entry.origin.version == "1.0"
    assert entry.origin.plugin == "fake_good"
    assert entry.factory(entry.params()) [0] == "built"


def test_broken_import_spares_others(site):
    make_distribution(
        site, "fake-broken", {"fake_broken": "fake_broken"},
        {"fake_broken": "raise RuntimeError('boom at import')\n"},
    )
    make_distribution(
        site, "fake-good", {"fake_good": "fake_good"},
        {"fake_good": registering_module("backbone", "fake_backbone")},
    )

    plugins = load_plugins()

    failure = failure_named(plugins, "fake_broken")
    assert failure.stage == "import"
    assert failure.distribution == "fake-broken 1.0"
    assert "RuntimeError: boom at import" in failure.error
    assert "fake_backbone" in plugins.registries["backbone"]


def test_missing_module_reported(site):
    make_distribution(site, "fake-missing", {"fake_missing": "fake_not_there"}, {})

    plugins = load_plugins()

    failure = failure_named(plugins, "fake_missing")
    assert "ModuleNotFoundError" in failure.error
    assert "fake_not_there" in failure.error


def test_register_hook_error_isolated(site):
    source = (
        "from dafw import hookimpl\n\n"
        "@hookimpl\n"
        "def dafw_register(registrar):\n"
        "    raise ValueError('cannot register')\n"
    )
    make_distribution(site, "fake-raises", {"fake_raises": "fake_raises"}, {"fake_raises": source})
    make_distribution(
        site, "fake-good", {"fake_good": "fake_good"},
        {"fake_good": registering_module("relational", "fake_relational")},
    )

    plugins = load_plugins()

    failure = failure_named(plugins, "fake_raises")
    assert failure.stage == "register"
    assert "ValueError: cannot register" in failure.error
    assert "fake_relational" in plugins.registries["relational"]


def test_misnamed_hook_is_validation_error(site):
    source = registering_module("aligner", "fake_misnamed").replace(
        "def dafw_register(", "def dafw_regster("
    )
    make_distribution(site, "fake-typo", {"fake_typo": "fake_typo"}, {"fake_typo": source})

    plugins = load_plugins()

    failure = failure_named(plugins, "fake_typo")
    assert failure.stage == "validate"
    assert "'dafw_regster'" in failure.error
    assert "did you mean 'dafw_register'" in failure.error
    assert "fake_misnamed" not in plugins.registries["aligner"]


def test_bad_hook_argument_is_validation_error(site):
    source = (
        "from dafw import hookimpl\n\n"
        "@hookimpl\n"
        "def dafw_register(registry):\n"
        "    pass\n"
    )
    make_distribution(site, "fake-args", {"fake_args": "fake_args"}, {"fake_args": source})

    plugins = load_plugins()

    failure = failure_named(plugins, "fake_args")
    assert failure.stage == "validate"
    assert "registry" in failure.error


def test_unknown_kind_rejected(site):
    make_distribution(
        site, "fake-kind", {"fake_kind": "fake_kind"},
        {"fake_kind": registering_module("optimiser", "fake_optimiser")},
    )

    plugins = load_plugins()

    failure = failure_named(plugins, "fake_kind")
    assert "unknown kind 'optimiser'" in failure.error


def test_duplicate_name_names_both(site):
    for distribution, module in (("fake-first", "fake_first"), ("fake-second", "fake_second")):
        make_distribution(
            site, distribution, {module: module},
            {module: registering_module("aligner", "fake_twin")},
        )

    plugins = load_plugins()

    failure = failure_named(plugins, "fake_second")
    assert "fake-first 1.0" in failure.error
    assert "fake-second 1.0" in failure.error
    assert plugins.registries["aligner"].get("fake_twin").origin.distribution == "fake-first"


def test_duplicate_rolls_back_whole_plugin(site):
    first = registering_module("aligner", "fake_twin")
    second = registering_module("aligner", "fake_twin").replace(
        "registrar.add(", "registrar.add('backbone', 'fake_extra', summary='x', "
        "params=Params, factory=build)\n    registrar.add(", 1
    )
    make_distribution(site, "fake-a", {"fake_a": "fake_a"}, {"fake_a": first})
    make_distribution(site, "fake-b", {"fake_b": "fake_b"}, {"fake_b": second})

    plugins = load_plugins()

    assert "fake_extra" not in plugins.registries["backbone"]
    failure_named(plugins, "fake_b")


def test_blocked_by_argument_and_env(site, monkeypatch):
    make_distribution(
        site, "fake-good", {"fake_good": "fake_good"},
        {"fake_good": registering_module("aligner", "fake_blockable")},
    )

    assert "fake_blockable" not in load_plugins(blocked={"fake_good"}).registries["aligner"]

    monkeypatch.setenv("DAFW_BLOCK_PLUGINS", "other, fake_good")
    plugins = load_plugins()
    assert "fake_blockable" not in plugins.registries["aligner"]
    assert "fake_good" in plugins.blocked


def test_strict_mode_raises(site, monkeypatch):
    make_distribution(
        site, "fake-broken", {"fake_broken": "fake_broken"},
        {"fake_broken": "raise ImportError('no numpy here')\n"},
    )

    with pytest.raises(PluginLoadError, match="fake_broken"):
        load_plugins(strict=True)

    monkeypatch.setenv("DAFW_STRICT_PLUGINS", "1")
    with pytest.raises(PluginLoadError, match="fake-broken 1.0"):
        load_plugins()


def test_registry_lookup_lists_names(site):
    make_distribution(
        site, "fake-good", {"fake_good": "fake_good"},
        {"fake_good": registering_module("aligner", "fake_coral")},
    )
    registry = load_plugins().registries["aligner"]

    with pytest.raises(RegistryError) as raised:
        registry.get("fake_corla")

    assert "did you mean 'fake_coral'" in str(raised.value)
    assert "fake_coral" in str(raised.value).split("Registered aligner names:")[1]


def test_cli_lists_components_and_failures(site):
    make_distribution(
        site, "fake-good", {"fake_good": "fake_good"},
        {"fake_good": registering_module("aligner", "fake_listed", "Listed aligner")},
    )
    make_distribution(
        site, "fake-broken", {"fake_broken": "fake_broken"},
        {"fake_broken": "raise RuntimeError('boom')\n"},
    )

    result = CliRunner().invoke(main, ["list-plugins", "--kind", "aligner", "--json"])

    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    names = {item["name"]: item for item in listing["components"]}
    assert names["fake_listed"]["package"] == "fake-good"
    assert names["fake_listed"]["version"] == "1.0"
    assert all(item["kind"] == "aligner" for item in listing["components"])
    assert {"plugin": "fake_broken", "package": "fake-broken 1.0", "stage": "import",
            "error": "RuntimeError: boom"} in listing["failed"]


def test_cli_table_shows_failed_section(site):
    make_distribution(
        site, "fake-broken", {"fake_broken": "fake_broken"},
        {"fake_broken": "raise RuntimeError('boom')\n"},
    )

    result = CliRunner().invoke(main, ["list-plugins"])

    assert result.exit_code == 0
    assert "Plugins that failed to load" in result.stdout
    assert "fake_broken" in result.stdout


def test_cli_strict_exits_2(site):
    make_distribution(
        site, "fake-broken", {"fake_broken": "fake_broken"},
        {"fake_broken": "raise RuntimeError('boom')\n"},
    )

    result = CliRunner().invoke(main, ["--strict-plugins", "list-plugins"])

    assert result.exit_code == 2
    assert "fake_broken" in result.stderr
    assert "Traceback" not in result.output


def test_cli_block_plugin_option(site):
    make_distribution(
        site, "fake-good", {"fake_good": "fake_good"},
        {"fake_good": registering_module("aligner", "fake_hidden")},
    )

    result = CliRunner().invoke(main, ["--block-plugin", "fake_good", "list-plugins", "--json"])

    listing = json.loads(result.stdout)
    assert "fake_hidden" not in {item["name"] for item in listing["components"]}
    assert listing["blocked"] == ["fake_good"]


def test_show_plugin_parameters(site):
    make_distribution(
        site, "fake-good", {"fake_good": "fake_good"},
        {"fake_good": registering_module("aligner", "fake_shown")},
    )

    result = CliRunner().invoke(main, ["show-plugin", "aligner", "fake_shown", "--json"])

    assert result.exit_code == 0, result.output
    params = {param["name"]: param for param in json.loads(result.stdout)["params"]}
    assert params["scale"] == {
        "name": "scale", "type": "float", "bounds": "> 0", "description": "scale factor",
        "default": 1.0,
    }
    assert params["depth"]["bounds"] == ">= 1, <= 8"
    assert params["depth"]["default"] == 2


def test_show_plugin_unknown_name(site):
    result = CliRunner().invoke(main, ["show-plugin", "aligner", "no_such_aligner"])

    assert result.exit_code == 2
    assert "unknown aligner 'no_such_aligner'" in result.stderr
    assert "Registered aligner names" in result.stderr
