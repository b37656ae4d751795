"""The canonical expression classes that every dataset maps its labels to."""

from __future__ import annotations

CANONICAL_CLASSES: tuple[str, ...] = (
    "angry",
    "disgust",
    "fear",
    "happy",
    "sad",
    "surprise",
    "neutral",
)


def class_index(name: str) -> int:
    """Return the canonical index of the class ``name``.

    Raises:
        KeyError: ``name`` is not a canonical class; the message lists the valid names.
    """
    try:
        return CANONICAL_CLASSES.index(name)
    except ValueError:
        valid = ", ".join(CANONICAL_CLASSES)
        raise KeyError(f"unknown expression class {name!r}; expected one of: {valid}") from None
