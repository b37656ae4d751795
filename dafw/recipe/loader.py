"""Loading a recipe: read, inherit, override, validate, resolve paths."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from dafw.plugins import PluginSet, load_plugins
from dafw.recipe.errors import RecipeError, RecipeIssue, format_path
from dafw.recipe.files import apply_override, parse_override, read_with_extends
from dafw.recipe.schema import ComponentSpec, DatasetSpec, Recipe
from dafw.recipe.validation import field_keys, issues_from_error, unknown_key_message
from dafw.registry import RegistryError

DATA_ROOT_ENV = "DAFW_DATA_ROOT"
DEFAULT_DATA_ROOT = "./data"


def resolve_data_root(data_root: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder relative dataset paths resolve against.

    Args:
        data_root: ``--data-root`` as given. Defaults to ``DAFW_DATA_ROOT``, then ``./data``.
    """
    chosen = data_root if data_root is not None else os.environ.get(DATA_ROOT_ENV)
    return Path(chosen or DEFAULT_DATA_ROOT).expanduser().resolve()


def load_recipe(
    path: str | os.PathLike[str],
    overrides: Sequence[str] = (),
    data_root: str | os.PathLike[str] | None = None,
    plugins: PluginSet | None = None,
) -> Recipe:
    """Read and validate a recipe before anything is built.

    Args:
        path: The recipe TOML file.
        overrides: ``KEY.PATH=VALUE`` strings, applied after ``extends`` is merged.
        data_root: Folder that relative dataset roots resolve against. Defaults to
            ``DAFW_DATA_ROOT``, then ``./data``.
        plugins: Loaded plugins whose registries name the components. Defaults to loading
            the installed plugins.

    Returns:
        Recipe: The validated recipe, with component parameters completed by their defaults
        and dataset roots made absolute.

    Raises:
        RecipeError: With one issue per problem, each naming the file and key path.
    """
    display = str(path)
    raw = read_with_extends(Path(path), display)
    raw.setdefault("name", Path(path).stem)

    override_sources: dict[tuple[str | int, ...], str] = {}
    for text in overrides:
        loc, value = parse_override(text, display)
        apply_override(raw, loc, value, display, text)
        override_sources[loc] = text

    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as error:
        issues = issues_from_error(error, Recipe)
        raise RecipeError(display, _mark_overrides(issues, override_sources)) from None

    if plugins is None:
        plugins = load_plugins()
    issues = validate_components(recipe, plugins)
    if issues:
        raise RecipeError(display, _mark_overrides(issues, override_sources))

    resolve_paths(recipe, resolve_data_root(data_root))
    return recipe


def iter_components(recipe: Recipe) -> Iterator[tuple[str, tuple[str | int, ...], ComponentSpec]]:
    """Yield ``(kind, key path, spec)`` for every component the recipe names."""
    yield "backbone", ("model", "backbone"), recipe.model.backbone
    yield "relational", ("model", "relational"), recipe.model.relational
    for index, aligner in enumerate(recipe.aligners):
        yield "aligner", ("aligners", index), aligner
    yield "dataset", ("data", "source"), recipe.data.source
    for index, target in enumerate(recipe.data.targets):
        yield "dataset", ("data", "targets", index), target


def validate_components(recipe: Recipe, plugins: PluginSet) -> list[RecipeIssue]:
    """Check each component name against its registry and its parameters against its model.

    Valid parameters are replaced by the plugin model's full dump, defaults included, so the
    resolved recipe shows every value a run uses.
    """
    issues: list[RecipeIssue] = []
    for kind, loc, spec in iter_components(recipe):
        registry = plugins.registries[kind]
        try:
            entry = registry.get(spec.type)
        except RegistryError as error:
            issues.append(RecipeIssue((*loc, "type"), str(error)))
            continue

        keys = field_keys(entry.params)
        unknown = [key for key in spec.params if key not in keys]
        for key in unknown:
            issues.append(RecipeIssue((*loc, "params", key), unknown_key_message(key, keys)))
        if unknown:
            continue

        try:
            validated = entry.params.model_validate(spec.params, strict=True)
        except ValidationError as error:
            issues.extend(issues_from_error(error, entry.params, (*loc, "params")))
            continue
        spec.params = validated.model_dump(mode="json", by_alias=True)
    return issues


def resolve_paths(recipe: Recipe, data_root: Path) -> None:
    """Make dataset roots absolute against ``data_root`` and the cache folder against the cwd."""
    specs: list[DatasetSpec] = [recipe.data.source, *recipe.data.targets]
    for spec in specs:
        root = Path(spec.root).expanduser()
        spec.root = str(root if root.is_absolute() else (data_root / root).resolve())
    if recipe.data.cache_dir is not None:
        recipe.data.cache_dir = str(Path(recipe.data.cache_dir).expanduser().resolve())


def _mark_overrides(
    issues: list[RecipeIssue], sources: dict[tuple[str | int, ...], str]
) -> list[RecipeIssue]:
    marked = []
    for issue in issues:
        origin = next(
            (text for loc, text in sources.items() if issue.loc[: len(loc)] == loc), None
        )
        if origin is None:
            origin = next(
                (text for loc, text in sources.items() if loc[: len(issue.loc)] == issue.loc),
                None,
            )
        message = f"{issue.message} (from --set {origin})" if origin else issue.message
        marked.append(RecipeIssue(issue.loc, message))
    return marked


def recipe_to_dict(recipe: Recipe) -> dict[str, Any]:
    """Return the recipe as plain TOML-ready data, leaving out unset optional values.

    TOML has no null, so None is dropped inside plugin parameter tables too.
    """
    return _drop_none(recipe.model_dump(mode="json", exclude_none=True))


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _drop_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_drop_none(item) for item in value]
    return value


__all__ = ["DATA_ROOT_ENV", "format_path", "load_recipe", "recipe_to_dict", "resolve_data_root"]
