"""Metric sanity: accuracy and AUROC recomputed from stored probabilities, against a report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Reported and recomputed values further apart than this are flagged.
DEFAULT_TOLERANCE = 1e-4
# Digits to which a reported AUROC equal to the accuracy is flagged, as in a published table.
EQUALITY_DIGITS = 4


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Return the 1-based ranks of ``values``, tied values sharing the mean of their ranks."""
    values = np.asarray(values)
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    # Each run of equal values starts where the sorted value changes.
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], sorted_values.size]
    run_ranks = (starts + ends + 1) / 2.0
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(run_ranks, ends - starts)
    return ranks


def binary_auroc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """Return the area under the ROC curve of ``scores`` for the boolean ``positive`` mask.

    The area is the Mann-Whitney U statistic of the positives divided by the number of
    (positive, negative) pairs, so a tie between a positive and a negative counts one half.
    Returns None when either class is empty, where the area is undefined.
    """
    positive = np.asarray(positive, dtype=bool)
    positives = int(positive.sum())
    negatives = positive.size - positives
    if positives == 0 or negatives == 0:
        return None
    ranks = average_ranks(np.asarray(scores, dtype=np.float64))
    u_statistic = ranks[positive].sum() - positives * (positives + 1) / 2.0
    return float(u_statistic / (positives * negatives))


def macro_auroc_ovr(
    probabilities: np.ndarray, labels: np.ndarray
) -> tuple[float | None, list[float | None]]:
    """Return the macro one-vs-rest AUROC of class scores and the AUROC of every class.

    Class ``c`` is scored by column ``c`` of ``probabilities`` against ``labels == c``. A
    class with no test image, or with every test image, has no AUROC and is left out of
    the macro average, as in ``dafw.engine.metrics.classification_metrics``.

    Args:
        probabilities (np.ndarray): ``(N, C)`` class scores.
        labels (np.ndarray): ``(N,)`` true class indices.

    Returns:
        tuple[float | None, list[float | None]]: The macro average (None when no class
        has an AUROC) and the C per-class values.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels)
    per_class = [
        binary_auroc(probabilities[:, column], labels == column)
        for column in range(probabilities.shape[1])
    ]
    defined = [value for value in per_class if value is not None]
    return (float(np.mean(defined)) if defined else None), per_class


def hard_label_auroc(probabilities: np.ndarray, labels: np.ndarray) -> float | None:
    """Return the macro one-vs-rest AUROC of the one-hot predicted classes.

    This is the mistaken computation that feeds hard labels instead of class scores. The
    audit shows it next to a reported AUROC, so a reader can tell which of the two a report
    used.
    """
    probabilities = np.asarray(probabilities)
    one_hot = np.eye(probabilities.shape[1])[probabilities.argmax(axis=1)]
    return macro_auroc_ovr(one_hot, labels)[0]


@dataclass
class MetricCheck:
    """Reported accuracy and AUROC of one test split, compared with values recomputed here.

    Attributes:
        name (str): Which scores, such as ``jaffe, batch mode``.
        samples (int): Test images.
        reported_accuracy (float | None): Accuracy in the run's results.
        recomputed_accuracy (float): Accuracy of the stored probabilities.
        reported_auroc (float | None): Macro AUROC in the run's results.
        recomputed_auroc (float | None): Macro one-vs-rest AUROC of the stored probabilities.
        hard_label_auroc (float | None): The same, from one-hot predictions.
        tolerance (float): Largest difference accepted between reported and recomputed.
        problems (list[str]): One sentence per failed check; empty when all pass.
    """

    name: str
    samples: int
    reported_accuracy: float | None
    recomputed_accuracy: float
    reported_auroc: float | None
    recomputed_auroc: float | None
    hard_label_auroc: float | None
    tolerance: float
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether every check passed."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """Return the check as plain JSON-compatible data."""
        return {
            "name": self.name,
            "samples": self.samples,
            "reported_accuracy": self.reported_accuracy,
            "recomputed_accuracy": self.recomputed_accuracy,
            "reported_auroc": self.reported_auroc,
            "recomputed_auroc": self.recomputed_auroc,
            "hard_label_auroc": self.hard_label_auroc,
            "tolerance": self.tolerance,
            "passed": self.passed,
            "problems": self.problems,
        }


def auroc_equals_accuracy(auroc: float | None, accuracy: float | None) -> bool:
    """Return whether both values exist and agree to ``EQUALITY_DIGITS`` decimal places."""
    if auroc is None or accuracy is None:
        return False
    return round(auroc, EQUALITY_DIGITS) == round(accuracy, EQUALITY_DIGITS)


def check_metrics(
    name: str,
    reported: dict[str, Any],
    probabilities: np.ndarray,
    labels: np.ndarray,
    tolerance: float = DEFAULT_TOLERANCE,
) -> MetricCheck:
    """Recompute accuracy and macro AUROC from ``probabilities`` and compare with ``reported``.

    Three checks each add one sentence to ``problems`` when they fail:

    - The reported AUROC differs from the AUROC of the class scores by more than
      ``tolerance``.
    - The reported accuracy differs from the recomputed one by more than ``tolerance``.
    - The reported AUROC equals the reported accuracy to four decimal places. For an AUROC
      of class scores that is a rare coincidence, so it is flagged for a closer look.

    Args:
        name (str): Which scores, for the messages.
        reported (dict[str, Any]): Scores with the keys ``accuracy`` and
            ``macro_auroc_ovr`` (either may be missing or None).
        probabilities (np.ndarray): ``(N, C)`` stored class probabilities.
        labels (np.ndarray): ``(N,)`` true class indices.
        tolerance (float): Accepted absolute difference. Defaults to 1e-4.

    Raises:
        ValueError: The shapes disagree.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    if probabilities.ndim != 2 or labels.shape != (probabilities.shape[0],):
        raise ValueError(
            f"expected probabilities (N, C) and labels (N,), got {probabilities.shape} and "
            f"{labels.shape}"
        )

    reported_accuracy = reported.get("accuracy")
    reported_auroc = reported.get("macro_auroc_ovr")
    accuracy = float((probabilities.argmax(axis=1) == labels).mean()) if labels.size else 0.0
    auroc, _ = macro_auroc_ovr(probabilities, labels)
    hard = hard_label_auroc(probabilities, labels)
    check = MetricCheck(
        name=name,
        samples=int(labels.size),
        reported_accuracy=reported_accuracy,
        recomputed_accuracy=accuracy,
        reported_auroc=reported_auroc,
        recomputed_auroc=auroc,
        hard_label_auroc=hard,
        tolerance=tolerance,
    )

    if reported_auroc is not None and auroc is not None and abs(reported_auroc - auroc) > tolerance:
        matches_hard = hard is not None and abs(reported_auroc - hard) <= tolerance
        reason = (
            " It matches the AUROC of hard labels, so it was computed from predicted "
            "classes instead of class scores."
            if matches_hard
            else ""
        )
        check.problems.append(
            f"{name}: reported AUROC {reported_auroc:.4f} differs from the AUROC of the stored "
            f"class probabilities, {auroc:.4f}.{reason}"
        )
    if reported_accuracy is not None and abs(reported_accuracy - accuracy) > tolerance:
        check.problems.append(
            f"{name}: reported accuracy {reported_accuracy:.4f} differs from the accuracy of "
            f"the stored probabilities, {accuracy:.4f}."
        )
    if auroc_equals_accuracy(reported_auroc, reported_accuracy):
        check.problems.append(
            f"{name}: reported AUROC equals the accuracy to {EQUALITY_DIGITS} digits "
            f"({reported_auroc:.4f}). For an AUROC of class scores that is a rare coincidence, "
            "so check that it was not computed from hard labels."
        )
    return check
