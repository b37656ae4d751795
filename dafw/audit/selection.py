"""Model selection: the target accuracy each epoch-selection rule would report."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


# Suffix of the aligner scalar with the domain classifier's accuracy on training batches.
DOMAIN_ACCURACY_SUFFIX = "/domain_accuracy"


@dataclass
class EpochScores:
    """The scores of one epoch's evaluation that the selection rules read.

    Attributes:
        epoch (int): 1-based epoch.
        target_accuracy (float): Target test accuracy in the recipe's eval mode.
        target_macro_f1 (float | None): Target test macro F1 in the same mode.
        source_val_accuracy (float | None): Accuracy on the source validation split.
        target_entropy (float | None): Mean prediction entropy on the target test images,
            in nats; it reads no label.
        domain_accuracy (float | None): Mean accuracy of the domain classifier over the
            epoch's training batches, source and target together.
    """

    epoch: int
    target_accuracy: float
    target_macro_f1: float | None = None
    source_val_accuracy: float | None = None
    target_entropy: float | None = None
    domain_accuracy: float | None = None


def domain_accuracy_key(record: dict[str, Any]) -> str | None:
    """Return the first ``<aligner>/domain_accuracy`` key of an epoch record's means."""
    keys = sorted(key for key in record.get("mean", {}) if key.endswith(DOMAIN_ACCURACY_SUFFIX))
    return keys[0] if keys else None


def epoch_scores(history: list[dict[str, Any]], mode: str) -> list[EpochScores]:
    """Extract per-epoch scores from the epoch records that ``dafw run`` stores.

    A record counts when it has ``scores["target"][mode]["accuracy"]``, which ``dafw run``
    writes with ``train.evaluate_every_epoch = true``. The target entropy is read from
    ``scores["target"][mode]["mean_entropy"]`` when the run stored it.

    Args:
        history (list[dict[str, Any]]): Epoch records, in any order.
        mode (str): The recipe's ``eval.mode``.

    Returns:
        list[EpochScores]: One entry per scored epoch, by epoch.
    """
    extracted = []
    for record in history:
        scores = record.get("scores") or {}
        target = (scores.get("target") or {}).get(mode) or {}
        if target.get("accuracy") is None:
            continue
        source_val = scores.get("source_val") or {}
        key = domain_accuracy_key(record)
        extracted.append(
            EpochScores(
                epoch=int(record["epoch"]),
                target_accuracy=float(target["accuracy"]),
                target_macro_f1=target.get("macro_f1"),
                source_val_accuracy=source_val.get("accuracy"),
                target_entropy=target.get("mean_entropy"),
                domain_accuracy=record["mean"][key] if key else None,
            )
        )
    return sorted(extracted, key=lambda scores: scores.epoch)


@dataclass(frozen=True)
class SelectionRule:
    """An epoch-selection rule.

    Attributes:
        name (str): Key in ``audit.json``.
        label (str): Name in reports; names of rules that read target test labels start
            with "oracle".
        criterion (str): What is compared, with its direction.
        reads_target_labels (bool): The rule reads target test labels.
        value (Callable[[EpochScores], float | None]): The criterion of an epoch; None
            when the epoch did not record it.
        maximise (bool): Pick the largest value, else the smallest.
    """

    name: str
    label: str
    criterion: str
    reads_target_labels: bool
    value: Callable[[EpochScores], float | None]
    maximise: bool


RULES: tuple[SelectionRule, ...] = (
    SelectionRule(
        "source_val_accuracy",
        "source validation accuracy",
        "highest accuracy on the source validation split",
        False,
        lambda scores: scores.source_val_accuracy,
        True,
    ),
    SelectionRule(
        "target_entropy",
        "target prediction entropy",
        "lowest mean prediction entropy on the target test images (no label read)",
        False,
        lambda scores: scores.target_entropy,
        False,
    ),
    SelectionRule(
        "domain_confusion",
        "domain classifier nearest chance",
        "domain classifier training accuracy closest to 0.5",
        False,
        lambda scores: (
            None if scores.domain_accuracy is None else -abs(scores.domain_accuracy - 0.5)
        ),
        True,
    ),
    SelectionRule(
        "oracle",
        "oracle: best target test accuracy",
        "highest target test accuracy; reads the target test labels, so it is not a valid "
        "unsupervised result",
        True,
        lambda scores: scores.target_accuracy,
        True,
    ),
)

MISSING_REASONS: dict[str, str] = {
    "source_val_accuracy": "the run has no source validation split (set data.source.val_split)",
    "target_entropy": "the run stored no per-epoch target entropy and kept no epoch checkpoints",
    "domain_confusion": "the run has no adversarial aligner that logs a domain accuracy",
}


@dataclass
class SelectionChoice:
    """The epoch one rule picks and the target scores of that epoch.

    Attributes:
        rule (str): Rule key.
        label (str): Rule name in reports.
        criterion (str): What the rule compares.
        reads_target_labels (bool): The rule reads target test labels (an oracle).
        epoch (int | None): The chosen epoch; None when the rule could not be applied.
        target_accuracy (float | None): Target test accuracy of that epoch.
        target_macro_f1 (float | None): Target test macro F1 of that epoch.
        gap_to_last (float | None): ``target_accuracy`` minus the last epoch's, in points.
        reason (str | None): Why the rule could not be applied.
    """

    rule: str
    label: str
    criterion: str
    reads_target_labels: bool
    epoch: int | None = None
    target_accuracy: float | None = None
    target_macro_f1: float | None = None
    gap_to_last: float | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the choice as plain JSON-compatible data."""
        return dict(self.__dict__)


@dataclass
class ModelSelection:
    """The model-selection check of one target.

    Attributes:
        available (bool): The run stored per-epoch target scores.
        epochs (int): Scored epochs.
        choices (list[SelectionChoice]): The last epoch first, then one entry per rule.
        reason (str | None): Why the check is unavailable.
        entropy_source (str | None): Where the target entropies come from.
    """

    available: bool
    epochs: int = 0
    choices: list[SelectionChoice] = field(default_factory=list)
    reason: str | None = None
    entropy_source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the check as plain JSON-compatible data."""
        return {
            "available": self.available,
            "reason": self.reason,
            "epochs": self.epochs,
            "entropy_source": self.entropy_source,
            "choices": [choice.to_dict() for choice in self.choices],
        }


def pick_epoch(scores: list[EpochScores], rule: SelectionRule) -> EpochScores | None:
    """Return the epoch ``rule`` picks, the earliest on a tie; None when no epoch has a value."""
    candidates = [(rule.value(epoch), epoch) for epoch in scores]
    candidates = [
        (value, epoch) for value, epoch in candidates if value is not None and math.isfinite(value)
    ]
    if not candidates:
        return None
    sign = 1.0 if rule.maximise else -1.0
    return max(candidates, key=lambda pair: (sign * pair[0], -pair[1].epoch))[1]


def select_epochs(scores: list[EpochScores], mode: str) -> ModelSelection:
    """Apply every rule of ``RULES`` to the per-epoch scores.

    Args:
        scores (list[EpochScores]): From ``epoch_scores``, possibly with entropies added.
        mode (str): The eval mode the accuracies are in, for the unavailable message.
    """
    if not scores:
        return ModelSelection(
            available=False,
            reason=(
                "the run stored no per-epoch target scores; train it with "
                "train.evaluate_every_epoch = true to compare epoch-selection rules"
            ),
        )

    last = scores[-1]
    choices = [
        SelectionChoice(
            rule="last",
            label="last epoch",
            criterion="the final epoch, what dafw reports by default",
            reads_target_labels=False,
            epoch=last.epoch,
            target_accuracy=last.target_accuracy,
            target_macro_f1=last.target_macro_f1,
            gap_to_last=0.0,
        )
    ]
    for rule in RULES:
        choice = SelectionChoice(rule.name, rule.label, rule.criterion, rule.reads_target_labels)
        chosen = pick_epoch(scores, rule)
        if chosen is None:
            choice.reason = MISSING_REASONS.get(rule.name, f"no epoch recorded a {mode}-mode value")
        else:
            choice.epoch = chosen.epoch
            choice.target_accuracy = chosen.target_accuracy
            choice.target_macro_f1 = chosen.target_macro_f1
            choice.gap_to_last = (chosen.target_accuracy - last.target_accuracy) * 100
        choices.append(choice)
    return ModelSelection(available=True, epochs=len(scores), choices=choices)
