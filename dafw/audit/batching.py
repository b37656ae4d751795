"""Batch composition: how test scores change with the order, size and mode of test batches."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from dafw.audit.arrangements import Arrangement, predict_arrangement
from dafw.audit.embeddings import (
    embed_arrangement,
    embedding_drift,
    embedding_tolerance,
    predict_from_embeddings,
)
from dafw.engine.device import Precision
from dafw.engine.metrics import classification_metrics
from dafw.model import DAModel
from dafw.prototypes import EmptyPrototypeBankError

logger = logging.getLogger("dafw")


@dataclass
class ArrangementScore:
    """Scores of one arrangement.

    Attributes:
        name (str): The arrangement's label.
        kind (str): The arrangement's kind.
        batch_size (int): Images per batch.
        last_batch_size (int): Images in the last batch.
        accuracy (float | None): Fraction of correct predictions; None when not scored.
        macro_f1 (float | None): Macro F1 over the classes present in the split.
        changed_predictions (int | None): Images whose predicted class differs from the
            first shuffled order's prediction.
        error (str | None): Why the arrangement could not be scored.
    """

    name: str
    kind: str
    batch_size: int
    last_batch_size: int
    accuracy: float | None = None
    macro_f1: float | None = None
    changed_predictions: int | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the score as plain JSON-compatible data."""
        return dict(self.__dict__)


def score_arrangement(
    arrangement: Arrangement,
    probabilities: np.ndarray,
    labels: np.ndarray,
    classes: tuple[str, ...],
    reference_predictions: np.ndarray | None,
    context: str,
) -> ArrangementScore:
    """Score the probabilities of one arrangement and count changed predictions."""
    metrics = classification_metrics(probabilities, labels, classes, context=context)
    predictions = probabilities.argmax(axis=1)
    changed = None
    if reference_predictions is not None:
        changed = int((predictions != reference_predictions).sum())
    return ArrangementScore(
        name=arrangement.name,
        kind=arrangement.kind,
        batch_size=arrangement.batch_size,
        last_batch_size=arrangement.last_batch_size,
        accuracy=metrics["accuracy"],
        macro_f1=metrics["macro_f1"],
        changed_predictions=changed,
    )


@dataclass
class Spread:
    """An accuracy gap between arrangements, in percentage points.

    Attributes:
        name (str): ``class_sorted_vs_shuffled``, ``single_vs_shuffled``,
            ``shuffled_seeds`` or ``batch_sizes``.
        description (str): What is compared, in words.
        points (float | None): The gap; None when one side could not be scored.
        flagged (bool): The gap is above the threshold.
        message (str): The finding in one or two sentences, with the numbers.
    """

    name: str
    description: str
    points: float | None
    flagged: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        """Return the spread as plain JSON-compatible data."""
        return dict(self.__dict__)


@dataclass
class BatchComposition:
    """The batch-composition check of one target.

    Attributes:
        scores (list[ArrangementScore]): One entry per arrangement.
        shuffled (dict[str, float | None]): Accuracy over the shuffled orders: ``mean``,
            ``std`` (sample standard deviation, 0 for one order), ``min`` and ``max``,
            and the mean macro F1 ``macro_f1_mean``.
        spreads (list[Spread]): The compared gaps.
        threshold (float): Flagging threshold, in accuracy points.
        notes (list[str]): Facts about the arrangements, such as short last batches.
        reported_accuracy (float | None): Batch-mode accuracy in the run's results, which
            the first shuffled order repeats with the run's own batch size and seed.
        method (str): ``embeddings reused`` (the backbone ran once per image and only the
            relational module and classifier ran per arrangement) or ``full passes``.
        embedding_drift (float | None): Largest relative change of an embedding computed
            in another batch, measured before reusing embeddings.
    """

    scores: list[ArrangementScore]
    shuffled: dict[str, float | None]
    spreads: list[Spread]
    threshold: float
    notes: list[str] = field(default_factory=list)
    reported_accuracy: float | None = None
    method: str = "full passes"
    embedding_drift: float | None = None

    @property
    def reproduced_accuracy(self) -> float | None:
        """Accuracy of the first shuffled order, the arrangement ``dafw run`` scored."""
        return next((s.accuracy for s in self.scores if s.kind == "shuffled"), None)

    @property
    def flagged(self) -> list[Spread]:
        """The spreads above the threshold."""
        return [spread for spread in self.spreads if spread.flagged]

    def to_dict(self) -> dict[str, Any]:
        """Return the check as plain JSON-compatible data."""
        return {
            "threshold_points": self.threshold,
            "arrangements": [score.to_dict() for score in self.scores],
            "shuffled": self.shuffled,
            "spreads": [spread.to_dict() for spread in self.spreads],
            "flagged": [spread.name for spread in self.flagged],
            "notes": self.notes,
            "reported_accuracy": self.reported_accuracy,
            "method": self.method,
            "embedding_drift": self.embedding_drift,
            "reproduced_accuracy": self.reproduced_accuracy,
        }


def _percent(value: float) -> str:
    return f"{100 * value:.2f} %"


def compare_accuracies(
    name: str,
    description: str,
    first: tuple[str, float | None],
    second: tuple[str, float | None],
    threshold: float,
) -> Spread:
    """Compare two named accuracies and flag a gap above ``threshold`` points.

    Args:
        name (str): Key of the spread.
        description (str): What is compared, in words.
        first (tuple[str, float | None]): Name and accuracy of one side.
        second (tuple[str, float | None]): Name and accuracy of the other side.
        threshold (float): Flagging threshold, in accuracy points.
    """
    (first_name, first_value), (second_name, second_value) = first, second
    if first_value is None or second_value is None:
        return Spread(name, description, None, False, f"{description}: not scored.")
    # Rounding keeps float error from flagging a gap equal to the threshold.
    points = round(abs(first_value - second_value) * 100, 6)
    flagged = points > threshold
    subject = first_name[:1].upper() + first_name[1:]
    message = (
        f"{subject}: {_percent(first_value)} accuracy; {second_name}: "
        f"{_percent(second_value)}. The spread of {points:.2f} points is "
    )
    if flagged:
        message += (
            f"above the {threshold:.2f}-point threshold, so test predictions depend on which "
            "images share a batch."
        )
    else:
        message += f"within the {threshold:.2f}-point threshold."
    return Spread(name, description, points, flagged, message)


def _shuffled_summary(scores: list[ArrangementScore]) -> dict[str, float | None]:
    accuracies = [s.accuracy for s in scores if s.kind == "shuffled" and s.accuracy is not None]
    f1 = [s.macro_f1 for s in scores if s.kind == "shuffled" and s.macro_f1 is not None]
    if not accuracies:
        return {"mean": None, "std": None, "min": None, "max": None, "macro_f1_mean": None}
    return {
        "mean": float(np.mean(accuracies)),
        "std": float(np.std(accuracies, ddof=1)) if len(accuracies) > 1 else 0.0,
        "min": min(accuracies),
        "max": max(accuracies),
        "macro_f1_mean": float(np.mean(f1)) if f1 else None,
    }


def assess_batch_composition(scores: list[ArrangementScore], threshold: float) -> BatchComposition:
    """Summarise the shuffled orders and flag every gap above ``threshold`` accuracy points.

    The gaps are class-sorted against the shuffled mean, single-image against the shuffled
    mean, the best against the worst shuffled order, and the best against the worst batch
    size.
    """
    summary = _shuffled_summary(scores)
    seed_count = sum(1 for s in scores if s.kind == "shuffled" and s.accuracy is not None)
    shuffled = (f"shuffled batches (mean of {seed_count} orders)", summary["mean"])

    def first_accuracy(kind: str) -> float | None:
        return next((s.accuracy for s in scores if s.kind == kind and s.accuracy is not None), None)

    spreads = [
        compare_accuracies(
            "class_sorted_vs_shuffled",
            "class-sorted batches against the shuffled mean",
            ("class-sorted test batches", first_accuracy("class_sorted")),
            shuffled,
            threshold,
        ),
        compare_accuracies(
            "single_vs_shuffled",
            "single-image mode against the shuffled mean",
            ("single-image (prototype) mode", first_accuracy("single")),
            shuffled,
            threshold,
        ),
    ]
    if seed_count > 1:
        spreads.append(
            compare_accuracies(
                "shuffled_seeds",
                f"best against worst of {seed_count} shuffled orders",
                ("best shuffled order", summary["max"]),
                ("worst shuffled order", summary["min"]),
                threshold,
            )
        )
    sizes = [s for s in scores if s.kind == "batch_size" and s.accuracy is not None]
    if len(sizes) > 1 and len({s.accuracy for s in sizes}) == 1:
        spreads.append(
            Spread(
                "batch_sizes",
                f"best against worst of {len(sizes)} batch sizes",
                0.0,
                False,
                f"All {len(sizes)} batch sizes give {_percent(sizes[0].accuracy or 0.0)} accuracy.",
            )
        )
    elif len(sizes) > 1:
        best = max(sizes, key=lambda s: (s.accuracy, -s.batch_size))
        worst = min(sizes, key=lambda s: (s.accuracy, s.batch_size))
        spreads.append(
            compare_accuracies(
                "batch_sizes",
                f"best against worst of {len(sizes)} batch sizes",
                (f"best batch size ({best.batch_size})", best.accuracy),
                (f"worst batch size ({worst.batch_size})", worst.accuracy),
                threshold,
            )
        )
    return BatchComposition(scores=scores, shuffled=summary, spreads=spreads, threshold=threshold)


def short_batch_note(size: int, scores: list[ArrangementScore]) -> str | None:
    """Describe the short last batch of each batch size, or None when no batch is short.

    Single-image mode forms no ring, so it is left out.
    """
    short = sorted(
        {
            (s.batch_size, s.last_batch_size)
            for s in scores
            if s.kind != "single" and s.last_batch_size < s.batch_size
        }
    )
    if not short:
        return None
    parts = []
    for batch_size, last in short:
        if last == size:
            parts.append(f"a batch size of {batch_size} puts all {size} images in one ring")
        else:
            parts.append(f"batches of {batch_size} end with a ring of {last}")
    note = f"The test split has {size} images, so " + "; ".join(parts) + "."
    if any(last == 1 for _, last in short):
        note += " In a ring of 1 the image attends only to itself."
    if any(last == 2 for _, last in short):
        note += " In a ring of 2 each image has one distinct neighbour."
    return note


def _drift_batches(arrangements: list[Arrangement]) -> list[list[int]]:
    """Return batches unlike the first arrangement's: a class-sorted batch and one image."""
    sorted_batches = [a.batches[0] for a in arrangements if a.kind == "class_sorted"]
    return [*sorted_batches, [arrangements[0].batches[0][0]]]


@dataclass
class _Embedded:
    """Embeddings of the first arrangement and whether the other arrangements reuse them."""

    embeddings: Any
    first: np.ndarray
    drift: float
    note: str | None

    @property
    def reusable(self) -> bool:
        return self.note is None


def _embed_once(
    model: DAModel,
    dataset: Dataset,
    arrangements: list[Arrangement],
    precision: Precision,
    workers: int,
) -> _Embedded:
    """Embed the first arrangement and measure whether its embeddings can be reused."""
    embeddings, first = embed_arrangement(model, dataset, arrangements[0], precision, workers)
    drift = embedding_drift(model, dataset, embeddings, _drift_batches(arrangements), precision)
    tolerance = embedding_tolerance(precision)
    note = None
    if drift > tolerance:
        note = (
            f"The backbone's embeddings change by {drift:.2e} (relative) with the batch they "
            f"are computed in, above the {tolerance:.0e} tolerance, so every arrangement was "
            "scored with full forward passes."
        )
    return _Embedded(embeddings, first, drift, note)


def _score_all(
    model: DAModel,
    dataset: Dataset,
    labels: np.ndarray,
    classes: tuple[str, ...],
    arrangements: list[Arrangement],
    precision: Precision,
    target: str,
    workers: int,
    progress: Callable[[int, int], None] | None,
    embedded: _Embedded | None,
) -> list[ArrangementScore]:
    """Score every arrangement; the first one scored is the reference for changed predictions."""
    scores: list[ArrangementScore] = []
    reference: np.ndarray | None = None
    for done, arrangement in enumerate(arrangements, start=1):
        try:
            if done == 1 and embedded is not None:
                probabilities = embedded.first
            elif embedded is not None and embedded.reusable:
                probabilities = predict_from_embeddings(
                    model, embedded.embeddings, arrangement, precision
                )
            else:
                probabilities = predict_arrangement(model, dataset, arrangement, precision, workers)
        except EmptyPrototypeBankError as error:
            logger.warning("target %s, %s: %s", target, arrangement.name, error)
            score = ArrangementScore(
                arrangement.name,
                arrangement.kind,
                arrangement.batch_size,
                arrangement.last_batch_size,
                error=str(error),
            )
        else:
            context = f"target {target}, {arrangement.name}"
            score = score_arrangement(
                arrangement, probabilities, labels, classes, reference, context
            )
            if reference is None:
                reference = probabilities.argmax(axis=1)
                score.changed_predictions = 0
        scores.append(score)
        if progress is not None:
            progress(done, len(arrangements))
    return scores


def run_batch_composition(
    model: DAModel,
    dataset: Dataset,
    labels: np.ndarray,
    classes: tuple[str, ...],
    arrangements: list[Arrangement],
    precision: Precision,
    threshold: float,
    target: str,
    workers: int = 0,
    progress: Callable[[int, int], None] | None = None,
    reuse_embeddings: bool = True,
) -> BatchComposition:
    """Score ``model`` on ``dataset`` under every arrangement and flag the gaps.

    Args:
        model (DAModel): The trained model.
        dataset (Dataset): The target test split, ``(image, label)`` items without
            augmentation.
        labels (np.ndarray): ``(N,)`` true classes of ``dataset``.
        classes (tuple[str, ...]): Class names.
        arrangements (list[Arrangement]): From ``audit_arrangements``; the first shuffled
            one is the reference for changed predictions.
        precision (Precision): Device, autocast and memory format.
        threshold (float): Flagging threshold, in accuracy points.
        target (str): Name of the target, for warnings.
        workers (int): Data-loader worker processes. Defaults to 0.
        progress (Callable[[int, int], None] | None): Called as ``progress(done, total)``
            after each arrangement. Defaults to None.
        reuse_embeddings (bool): Run the backbone once per image and only the layers after
            it per arrangement, after checking that embeddings do not depend on the batch.
            Defaults to True.
    """
    was_training = model.training
    model.eval()
    try:
        embedded = None
        if reuse_embeddings and arrangements and arrangements[0].mode == "batch":
            embedded = _embed_once(model, dataset, arrangements, precision, workers)
        scores = _score_all(
            model,
            dataset,
            labels,
            classes,
            arrangements,
            precision,
            target,
            workers,
            progress,
            embedded,
        )
    finally:
        model.train(was_training)

    result = assess_batch_composition(scores, threshold)
    if embedded is not None:
        result.method = "embeddings reused" if embedded.reusable else "full passes"
        result.embedding_drift = embedded.drift
        if embedded.note is not None:
            result.notes.append(embedded.note)
    note = short_batch_note(len(labels), scores)
    if note is not None:
        result.notes.append(note)
    return result
