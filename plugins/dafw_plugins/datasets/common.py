"""Parameter base class and small helpers shared by the dataset plugins."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictParams(BaseModel):
    """Base of every dataset parameter model: unknown keys and type coercion are rejected."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def plural(count: int, noun: str) -> str:
    """Return ``"1 image"`` or ``"3 images"`` with thousands separators."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"
