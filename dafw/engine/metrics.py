"""Classification metrics of a test split from class probabilities; absent classes are left out."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import torch
from torchmetrics.functional.classification import (
    multiclass_auroc,
    multiclass_confusion_matrix,
    multiclass_f1_score,
    multiclass_precision,
    multiclass_recall,
)

logger = logging.getLogger("dafw")

# Summary metrics; each name states how it averages over classes.
SUMMARY_METRICS: tuple[str, ...] = (
    "accuracy",
    "mean_class_accuracy",
    "macro_precision",
    "macro_recall",
    "macro_f1",
    "macro_auroc_ovr",
)


def _mean_over(values: torch.Tensor, mask: torch.Tensor) -> float | None:
    chosen = values[mask]
    return float(chosen.mean()) if chosen.numel() else None


def classification_metrics(
    probabilities: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    classes: tuple[str, ...] | list[str],
    context: str = "",
    warn: bool = True,
) -> dict[str, Any]:
    """Score class probabilities against true labels.

    Per class ``c`` with at least one test image: precision, recall (the class accuracy),
    F1 and one-vs-rest AUROC of the probability column ``c`` (never of hard labels). A
    class with no test image has undefined values (None) and is left out of every macro
    average, with a warning that names it. Precision of a class that is never predicted
    is 0. The AUROC of a class is also undefined when every test image belongs to it.

    Args:
        probabilities (np.ndarray | torch.Tensor): ``(N, C)`` softmax outputs.
        labels (np.ndarray | torch.Tensor): ``(N,)`` true class indices.
        classes (tuple[str, ...] | list[str]): The C class names.
        context (str): Where the scores come from, for the warning, such as
            ``target jaffe, batch mode``. Defaults to ``""``.
        warn (bool): Log the warning about absent classes. Defaults to True.

    Returns:
        dict[str, Any]: The ``SUMMARY_METRICS`` (floats in ``[0, 1]`` or None),
        ``samples``, ``absent_classes``, ``per_class`` (name to support, precision,
        recall, f1, auroc_ovr) and ``confusion`` (counts, rows true class, columns
        predicted class).

    Raises:
        ValueError: The shapes disagree or a label is out of range.
    """
    probs = torch.as_tensor(probabilities, dtype=torch.float32)
    target = torch.as_tensor(labels, dtype=torch.int64)
    count = len(classes)
    if probs.dim() != 2 or probs.shape[1] != count or target.shape != (probs.shape[0],):
        raise ValueError(
            f"expected probabilities (N, {count}) and labels (N,), got "
            f"{tuple(probs.shape)} and {tuple(target.shape)}"
        )
    if probs.shape[0] == 0:
        raise ValueError("cannot score an empty test split")
    if target.min() < 0 or target.max() >= count:
        raise ValueError(f"labels must be in [0, {count}), got {target.min()}..{target.max()}")

    support = torch.bincount(target, minlength=count)
    present = support > 0
    absent = [classes[i] for i in range(count) if not present[i]]
    if absent and warn:
        where = f" ({context})" if context else ""
        logger.warning(
            "class(es) %s have no test image%s; their metrics are undefined and left out of "
            "the macro averages",
            ", ".join(absent),
            where,
        )

    with warnings.catch_warnings():
        # torchmetrics warns about absent classes, which are handled here.
        warnings.simplefilter("ignore", UserWarning)
        options = {"num_classes": count, "average": None}
        precision = multiclass_precision(probs, target, zero_division=0, **options)
        recall = multiclass_recall(probs, target, zero_division=0, **options)
        f1 = multiclass_f1_score(probs, target, zero_division=0, **options)
        auroc = multiclass_auroc(probs, target, **options)
        confusion = multiclass_confusion_matrix(probs, target, num_classes=count)

    auroc_defined = present & (support < target.numel())
    predicted = probs.argmax(dim=1)
    per_class: dict[str, dict[str, Any]] = {}
    for index, name in enumerate(classes):
        defined = bool(present[index])
        per_class[name] = {
            "support": int(support[index]),
            "precision": float(precision[index]) if defined else None,
            "recall": float(recall[index]) if defined else None,
            "f1": float(f1[index]) if defined else None,
            "auroc_ovr": float(auroc[index]) if bool(auroc_defined[index]) else None,
        }

    mean_recall = _mean_over(recall, present)
    return {
        "accuracy": float((predicted == target).float().mean()),
        "mean_class_accuracy": mean_recall,
        "macro_precision": _mean_over(precision, present),
        "macro_recall": mean_recall,
        "macro_f1": _mean_over(f1, present),
        "macro_auroc_ovr": _mean_over(auroc, auroc_defined),
        "samples": int(target.numel()),
        "absent_classes": absent,
        "per_class": per_class,
        "confusion": confusion.tolist(),
    }


def summary(metrics: dict[str, Any]) -> dict[str, float | None]:
    """Return only the ``SUMMARY_METRICS`` of a ``classification_metrics`` result."""
    return {name: metrics[name] for name in SUMMARY_METRICS}


def row_normalised(confusion: np.ndarray) -> np.ndarray:
    """Divide each row of a confusion matrix by its total; rows of absent classes become NaN."""
    counts = np.asarray(confusion, dtype=np.float64)
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, counts / np.where(totals > 0, totals, 1), np.nan)


def mean_over_targets(per_target: list[dict[str, float | None]]) -> dict[str, float | None]:
    """Average each summary metric over targets; a metric undefined for a target is skipped.

    Returns None for a metric that no target defines.
    """
    means: dict[str, float | None] = {}
    for name in SUMMARY_METRICS:
        values = [scores[name] for scores in per_target if scores.get(name) is not None]
        means[name] = float(np.mean(values)) if values else None
    return means


def mean_entropy(probabilities: np.ndarray) -> float:
    """Return the mean Shannon entropy, in nats, of the rows of ``(N, C)`` probabilities."""
    values = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1.0)
    return float(-(values * np.log(values)).sum(axis=1).mean())
