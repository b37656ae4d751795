"""Errors raised while reading datasets."""

from __future__ import annotations

from dafw.errors import DafwError


class DataError(DafwError):
    """A dataset that cannot be read as configured: a missing file, a bad label, a bad row."""


class CorruptImageError(DataError):
    """An image that exists but cannot be decoded.

    Attributes:
        key (str): Sample key of the image, usually its path.
        reason (str): What the decoder reported.
    """

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"cannot decode image {key}: {reason}")
        self.key = key
        self.reason = reason


class ClassMismatchError(DataError):
    """Two datasets whose labels index different class lists."""
