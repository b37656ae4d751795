"""Label isolation: check that a target's adaptation set carries no label and no file path."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

# Attribute names that would hold labels, or keys and readers from which labels follow.
LABEL_ATTRIBUTES: frozenset[str] = frozenset(
    {"labels", "label", "targets", "target", "samples", "sample", "reader", "label_of", "y"}
)
DEFAULT_ITEMS = 16
# Depth of the attribute walk from the dataset object, and the strings read per list.
_MAX_DEPTH = 3
_STRINGS_READ = 64


@dataclass
class LabelIsolation:
    """The result of inspecting one adaptation set.

    Attributes:
        target (str): Target name.
        dataset_type (str): Class of the adaptation set.
        size (int): Items in the adaptation set.
        items_checked (int): Items fetched and inspected.
        checks (list[str]): What was checked, one sentence each.
        problems (list[str]): What failed, one sentence each; empty when all passed.
    """

    target: str
    dataset_type: str
    size: int
    items_checked: int
    checks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether no problem was found."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """Return the result as plain JSON-compatible data."""
        return {
            "target": self.target,
            "dataset_type": self.dataset_type,
            "size": self.size,
            "items_checked": self.items_checked,
            "passed": self.passed,
            "checks": self.checks,
            "problems": self.problems,
        }


def _looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or "\\" in text


def _walk(value: Any, path: str, depth: int, seen: set[int], problems: list[str]) -> None:
    """Look through the attributes of ``value`` for label holders and path strings."""
    if id(value) in seen or depth > _MAX_DEPTH:
        return
    seen.add(id(value))

    if isinstance(value, str):
        if _looks_like_path(value):
            problems.append(f"{path} holds the path-like string {value!r}")
        return
    if isinstance(value, (list, tuple)):
        strings = [item for item in value[:_STRINGS_READ] if isinstance(item, str)]
        paths = [item for item in strings if _looks_like_path(item)]
        if paths:
            problems.append(f"{path} holds path-like strings such as {paths[0]!r}")
        return
    if isinstance(value, (np.ndarray, torch.Tensor, int, float, bool, bytes)) or value is None:
        return

    attributes = getattr(value, "__dict__", None)
    if not isinstance(attributes, dict):
        return
    for name, item in attributes.items():
        where = f"{path}.{name}"
        if name.lstrip("_") in LABEL_ATTRIBUTES and item is not None:
            problems.append(f"{where} exists ({type(item).__name__}); it may hold labels")
        _walk(item, where, depth + 1, seen, problems)


def check_adaptation_set(
    dataset: Dataset, target: str, items: int = DEFAULT_ITEMS
) -> LabelIsolation:
    """Inspect the unlabelled adaptation set of ``target`` for anything a label can leak through.

    Fetches up to ``items`` items spread over the set and checks that each one is a single
    image tensor, not a tuple that could carry a label. Walks the attributes of the set
    (three levels deep) for attributes named like labels, samples or readers, and for
    strings that look like file paths, which name the class in folder-per-class datasets.

    Args:
        dataset (Dataset): The adaptation set as ``dafw run`` builds it.
        target (str): Target name, for the messages.
        items (int): Items to fetch. Defaults to 16.
    """
    size = len(dataset)  # type: ignore[arg-type]
    positions = (
        sorted(set(np.linspace(0, size - 1, num=min(items, size), dtype=int).tolist()))
        if size
        else []
    )
    result = LabelIsolation(
        target=target,
        dataset_type=f"{type(dataset).__module__}.{type(dataset).__qualname__}",
        size=size,
        items_checked=len(positions),
    )

    for position in positions:
        item = dataset[position]
        if not isinstance(item, torch.Tensor):
            result.problems.append(
                f"item {position} is a {type(item).__name__}, not an image tensor; "
                "it may carry a label"
            )
        elif item.dim() != 3:
            result.problems.append(
                f"item {position} has shape {tuple(item.shape)}, not (C, H, W) of one image"
            )
    result.checks.append(
        f"fetched {len(positions)} of {size} items of the adaptation set "
        f"({type(dataset).__name__}); each must be one (C, H, W) image tensor with no label "
        "beside it"
    )

    problems: list[str] = []
    _walk(dataset, "adaptation set", 0, set(), problems)
    result.problems += problems
    result.checks.append(
        "walked the attributes of the adaptation set three levels deep: none may be named "
        f"like a label holder ({', '.join(sorted(LABEL_ATTRIBUTES))}) or hold a file path"
    )
    return result
