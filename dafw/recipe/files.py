"""Reading recipe files: TOML parsing, `extends` inheritance and `--set` overrides."""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dafw.recipe.errors import RecipeError, format_path

_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_OVERRIDE_KEY = re.compile(rf"{_NAME}(\[\d+\])*(\.{_NAME}(\[\d+\])*)*")
_OVERRIDE_TOKEN = re.compile(rf"({_NAME})|\[(\d+)\]")


def read_toml(path: Path, display: str) -> dict[str, Any]:
    """Parse the TOML file at ``path``; ``display`` is the name used in error messages."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError.single(display, "recipe file not found; check the path") from None
    except IsADirectoryError:
        raise RecipeError.single(display, "is a folder; expected a recipe .toml file") from None
    except PermissionError:
        raise RecipeError.single(display, "cannot be read: permission denied") from None
    except UnicodeDecodeError as error:
        raise RecipeError.single(
            display, f"is not UTF-8 text ({error.reason} at byte {error.start}); expected TOML"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RecipeError.single(display, f"invalid TOML: {error}") from None


def deep_merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """Merge ``child`` into a copy of ``base``.

    Tables merge key by key and every other value, arrays included, is replaced. A table whose
    ``type`` changes is replaced whole, because the parameters of one component type are
    meaningless to another.
    """
    merged = copy.deepcopy(base)
    for key, value in child.items():
        old = merged.get(key)
        same_component = not (
            isinstance(old, dict)
            and isinstance(value, dict)
            and "type" in value
            and old.get("type") != value["type"]
        )
        if isinstance(old, dict) and isinstance(value, dict) and same_component:
            merged[key] = deep_merge(old, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def read_with_extends(path: Path, display: str) -> dict[str, Any]:
    """Read the recipe at ``path`` and the chain of recipes it extends, merged.

    ``extends`` is resolved relative to the file that names it. The ``name`` key is never
    inherited, so that each recipe keeps its own run name.
    """
    raw = _read_chain(path.resolve(), display, chain=())
    own = read_toml(path, display)
    raw.pop("name", None)
    if "name" in own:
        raw["name"] = own["name"]
    return raw


def _read_chain(path: Path, display: str, chain: tuple[Path, ...]) -> dict[str, Any]:
    raw = read_toml(path, display)
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str) or not parent:
        raise RecipeError.single(
            display, f"expected the path of another recipe, got {parent!r}", ("extends",)
        )

    parent_path = (path.parent / parent).resolve()
    if parent_path in chain or parent_path == path:
        cycle = " -> ".join(str(item) for item in (*chain, path, parent_path))
        raise RecipeError.single(display, f"circular extends: {cycle}", ("extends",))
    if not parent_path.is_file():
        raise RecipeError.single(
            display,
            f"extended recipe {parent!r} not found (looked for {parent_path}); paths in "
            "`extends` are relative to the file that contains them",
            ("extends",),
        )

    base = _read_chain(parent_path, str(parent_path), (*chain, path))
    return deep_merge(base, raw)


def parse_override(text: str, display: str) -> tuple[tuple[str | int, ...], Any]:
    """Split ``key.path=value`` into a key path and a value read as TOML.

    A value that is not valid TOML (such as ``off`` or ``CK+48``) is kept as a string.
    """
    key, sep, value_text = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise RecipeError.single(
            display, f"--set {text!r}: expected KEY.PATH=VALUE, for example train.epochs=2"
        )

    if not _OVERRIDE_KEY.fullmatch(key):
        raise RecipeError.single(
            display,
            f"--set {text!r}: invalid key path {key!r}; use dotted names and [index], "
            "for example aligners[0].weight=0.5",
        )
    loc = tuple(
        match.group(1) if match.group(1) else int(match.group(2))
        for match in _OVERRIDE_TOKEN.finditer(key)
    )

    try:
        value = tomllib.loads(f"value = {value_text.strip()}")["value"]
    except tomllib.TOMLDecodeError:
        value = value_text.strip()
    return loc, value


def apply_override(
    raw: dict[str, Any], loc: Sequence[str | int], value: Any, display: str, text: str
) -> None:
    """Set ``value`` at ``loc`` in ``raw``, creating missing tables on the way."""
    node: Any = raw
    for depth, part in enumerate(loc[:-1]):
        where = format_path(loc[: depth + 1])
        if isinstance(part, int):
            if not isinstance(node, list):
                raise RecipeError.single(
                    display, f"--set {text!r}: {format_path(loc[:depth]) or 'the recipe'} "
                    "is not an array", loc[:depth]
                )
            if part >= len(node):
                raise RecipeError.single(
                    display,
                    f"--set {text!r}: index {part} is out of range, the array has "
                    f"{len(node)} entries",
                    loc[:depth],
                )
            node = node[part]
        else:
            if not isinstance(node, dict):
                raise RecipeError.single(
                    display, f"--set {text!r}: {format_path(loc[:depth])} is not a table",
                    loc[:depth],
                )
            following = loc[depth + 1]
            if part not in node:
                if isinstance(following, int):
                    raise RecipeError.single(
                        display, f"--set {text!r}: {where} does not exist in the recipe", loc
                    )
                node[part] = {}
            node = node[part]

    last = loc[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or last >= len(node):
            raise RecipeError.single(
                display, f"--set {text!r}: {format_path(loc)} does not exist in the recipe", loc
            )
        node[last] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise RecipeError.single(
            display, f"--set {text!r}: {format_path(loc[:-1])} is not a table", loc[:-1]
        )
