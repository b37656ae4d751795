"""Tests of the model-selection audit on hand-written epoch records."""

from __future__ import annotations

import numpy as np
import pytest

from dafw.audit.selection import epoch_scores, select_epochs
from dafw.engine.metrics import mean_entropy


def record(
    epoch: int,
    target: float,
    source_val: float | None = None,
    domain: float | None = None,
    entropy: float | None = None,
) -> dict:
    """Build an epoch record in the layout ``dafw run`` stores with evaluate_every_epoch."""
    batch = {"accuracy": target, "macro_f1": target / 2}
    if entropy is not None:
        batch["mean_entropy"] = entropy
    scores: dict = {"target": {"batch": batch, "single": {"accuracy": 0.0, "macro_f1": 0.0}}}
    if source_val is not None:
        scores["source_val"] = {"mode": "batch", "accuracy": source_val}
    mean = {"loss/task": 1.0}
    if domain is not None:
        mean["grl/domain_accuracy"] = domain
    return {"event": "epoch", "epoch": epoch, "mean": mean, "scores": scores}


HISTORY = [
    record(1, target=0.40, source_val=0.70, domain=0.90, entropy=1.2),
    record(2, target=0.62, source_val=0.80, domain=0.52, entropy=0.9),
    record(3, target=0.55, source_val=0.85, domain=0.60, entropy=0.4),
    record(4, target=0.50, source_val=0.85, domain=0.70, entropy=0.6),
]


def choices_by_rule(history=HISTORY, mode="batch"):
    selection = select_epochs(epoch_scores(history, mode), mode)
    return selection, {choice.rule: choice for choice in selection.choices}


def test_every_rule_picks_its_epoch():
    selection, choices = choices_by_rule()

    assert selection.available
    assert selection.epochs == 4
    assert choices["last"].epoch == 4
    assert choices["source_val_accuracy"].epoch == 3  # tie with epoch 4, earliest wins
    assert choices["target_entropy"].epoch == 3
    assert choices["domain_confusion"].epoch == 2
    assert choices["oracle"].epoch == 2


def test_oracle_is_labelled_and_reads_labels():
    _, choices = choices_by_rule()
    oracle = choices["oracle"]

    assert oracle.reads_target_labels
    assert oracle.label.startswith("oracle")
    assert oracle.gap_to_last == pytest.approx(12.0)
    assert not any(c.reads_target_labels for rule, c in choices.items() if rule != "oracle")


def test_rule_without_values_gives_reason():
    history = [record(1, 0.3), record(2, 0.4)]
    _, choices = choices_by_rule(history)

    assert choices["source_val_accuracy"].epoch is None
    assert "val_split" in choices["source_val_accuracy"].reason
    assert choices["domain_confusion"].epoch is None
    assert choices["target_entropy"].epoch is None
    assert choices["oracle"].epoch == 2


def test_history_without_scores_is_unavailable():
    history = [{"event": "epoch", "epoch": 1, "mean": {"loss/task": 1.0}}]
    selection = select_epochs(epoch_scores(history, "batch"), "batch")

    assert not selection.available
    assert "evaluate_every_epoch" in selection.reason
    assert selection.choices == []


def test_scores_follow_eval_mode():
    scores = epoch_scores(HISTORY, "single")

    assert [s.target_accuracy for s in scores] == [0.0] * 4
    assert scores[0].target_entropy is None


def test_records_sorted_by_epoch():
    scores = epoch_scores(list(reversed(HISTORY)), "batch")

    assert [s.epoch for s in scores] == [1, 2, 3, 4]


def test_mean_entropy_in_nats():
    uniform = np.full((3, 4), 0.25)
    certain = np.eye(4)[:3]

    assert mean_entropy(uniform) == pytest.approx(np.log(4))
    assert mean_entropy(certain) == pytest.approx(0.0, abs=1e-9)
