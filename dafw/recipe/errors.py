"""Recipe errors that name the file and the key path of each problem."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dafw.errors import DafwError


def format_path(loc: Sequence[str | int]) -> str:
    """Format a key path such as ``("aligners", 1, "params")`` as ``aligners[1].params``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


@dataclass(frozen=True)
class RecipeIssue:
    """One problem found in a recipe.

    Attributes:
        loc (tuple[str | int, ...]): Key path of the offending value; empty for the whole file.
        message (str): What is wrong and, where possible, what to write instead.
    """

    loc: tuple[str | int, ...]
    message: str

    def describe(self, source: str) -> str:
        """Return ``source: key.path: message``."""
        path = format_path(self.loc)
        return f"{source}: {path}: {self.message}" if path else f"{source}: {self.message}"


class RecipeError(DafwError):
    """A recipe that cannot be read or does not validate.

    Args:
        source (str): File the problems come from, as the user named it.
        issues (Sequence[RecipeIssue]): Every problem found, in key order.
    """

    def __init__(self, source: str, issues: Sequence[RecipeIssue]) -> None:
        self.source = source
        self.issues = list(issues)
        super().__init__("\n".join(issue.describe(source) for issue in self.issues))

    @classmethod
    def single(cls, source: str, message: str, loc: Sequence[str | int] = ()) -> RecipeError:
        """Build an error with one issue."""
        return cls(source, [RecipeIssue(tuple(loc), message)])
