"""Descriptions of plugin parameter models for people: types, defaults and bounds."""

from __future__ import annotations

import types
import typing
from typing import Any

import annotated_types
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

_BOUND_SYMBOLS = (
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Ge, "ge", ">="),
    (annotated_types.Lt, "lt", "<"),
    (annotated_types.Le, "le", "<="),
    (annotated_types.MinLen, "min_length", "length >="),
    (annotated_types.MaxLen, "max_length", "length <="),
)


def type_name(annotation: Any) -> str:
    """Return a short, readable name of a type annotation, such as ``int | None``."""
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(repr(argument) for argument in arguments)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(argument) for argument in arguments)
    if origin is not None:
        inner = ", ".join(type_name(argument) for argument in arguments)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))


def describe_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    """Describe each field of ``model``: name, type, default, bounds and description."""
    described = []
    for name, field in model.model_fields.items():
        bounds = []
        for metadata in field.metadata:
            for bound_type, attribute, symbol in _BOUND_SYMBOLS:
                if isinstance(metadata, bound_type):
                    bounds.append(f"{symbol} {getattr(metadata, attribute)}")
        item: dict[str, Any] = {
            "name": field.alias or name,
            "type": type_name(field.annotation),
            "bounds": ", ".join(bounds),
            "description": field.description or "",
        }
        if field.default is not PydanticUndefined:
            item["default"] = field.default
        elif field.default_factory is not None:
            item["default"] = field.default_factory()
        described.append(item)
    return described
