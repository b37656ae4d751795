"""Turning pydantic validation errors into recipe issues with key paths and suggestions."""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ValidationError

from dafw.recipe.errors import RecipeIssue

# Pydantic adds the name of a union member (such as "int" or "literal['a','b']") to the
# location of errors raised inside that member. Such parts are not recipe keys.
_KEY_PART = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_UNION_TAGS = {"int", "float", "str", "bool", "list", "dict", "none", "tuple"}

_TYPE_NAMES = {
    bool: "a boolean",
    int: "an integer",
    float: "a float",
    str: "a string",
    list: "an array",
    dict: "a table",
}


def is_key(part: str | int) -> bool:
    """Return whether ``part`` of a pydantic location is a recipe key or array index."""
    if isinstance(part, int):
        return True
    return bool(_KEY_PART.fullmatch(part)) and part not in _UNION_TAGS


def known_keys(model: type[BaseModel], loc: tuple[str | int, ...]) -> list[str] | None:
    """Return the keys allowed in the table at ``loc`` of ``model``, or None if unknown."""
    annotation: Any = model
    for part in loc:
        annotation = _unwrap(annotation, part)
        if annotation is None:
            return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return field_keys(annotation)
    return None


def field_keys(model: type[BaseModel]) -> list[str]:
    """Return the keys a recipe may use for ``model``'s fields (aliases where set)."""
    return [field.alias or name for name, field in model.model_fields.items()]


def _unwrap(annotation: Any, part: str | int) -> Any:
    for candidate in _members(annotation):
        if isinstance(part, int) and typing.get_origin(candidate) is list:
            return typing.get_args(candidate)[0]
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            for name, field in candidate.model_fields.items():
                if part in (name, field.alias):
                    return field.annotation
    return None


def _members(annotation: Any) -> Iterator[Any]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for argument in typing.get_args(annotation):
            yield from _members(argument)
    else:
        yield annotation


def describe_value(value: Any) -> str:
    """Describe ``value`` for an error message, with its TOML type."""
    kind = _TYPE_NAMES.get(type(value), type(value).__name__)
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({kind})"


def issues_from_error(
    error: ValidationError,
    model: type[BaseModel],
    prefix: tuple[str | int, ...] = (),
) -> list[RecipeIssue]:
    """Convert ``error`` raised by ``model`` into issues located under ``prefix``.

    Errors at the same location (the members of a union) are merged into one issue.
    """
    merged: dict[tuple[str | int, ...], list[str]] = {}
    for item in error.errors():
        loc = tuple(part for part in item["loc"] if is_key(part))
        message = _message(item, model, loc)
        messages = merged.setdefault(prefix + loc, [])
        if message not in messages:
            messages.append(message)
    return [RecipeIssue(loc, "; or ".join(messages)) for loc, messages in merged.items()]


def _message(item: Any, model: type[BaseModel], loc: tuple[str | int, ...]) -> str:
    kind = item["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        keys = known_keys(model, loc[:-1]) or []
        return unknown_key_message(key, keys)
    if kind == "missing":
        return "required key is missing"

    message = item["msg"]
    if kind.startswith("value_error"):
        message = message.removeprefix("Value error, ")
    if kind.endswith("_type") or kind in {"literal_error", "enum"} or kind.startswith(
        ("greater", "less", "too_", "string_too")
    ):
        message = f"{message}, got {describe_value(item['input'])}"
    return message


def unknown_key_message(key: str, keys: list[str]) -> str:
    """Describe an unknown ``key`` with a close match among ``keys`` and the full list."""
    message = f"unknown key {key!r}"
    close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
    if close:
        message += f"; did you mean {close[0]!r}?"
    if keys:
        message += f" Valid keys here: {', '.join(keys)}"
    return message
