"""Test-split metrics against scikit-learn, absent classes, and AUROC from probabilities."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from dafw.engine.metrics import classification_metrics, mean_over_targets, row_normalised

CLASSES = ("angry", "disgust", "fear", "happy")


@pytest.fixture
def example():
    """40 images; class 'fear' (index 2) never occurs, but is sometimes predicted."""
    rng = np.random.default_rng(4)
    labels = rng.choice([0, 1, 3], size=40)
    probabilities = rng.dirichlet(np.ones(4), size=40)
    probabilities[labels == 3, 3] += 0.6
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return probabilities, labels


def test_macro_metrics_match_sklearn(example):
    probabilities, labels = example
    predicted = probabilities.argmax(axis=1)
    present = [0, 1, 3]
    assert (predicted == 2).any()

    metrics = classification_metrics(probabilities, labels, CLASSES)

    assert metrics["accuracy"] == pytest.approx(accuracy_score(labels, predicted))
    options = {"labels": present, "average": "macro", "zero_division": 0}
    precision = precision_score(labels, predicted, **options)
    assert metrics["macro_precision"] == pytest.approx(precision)
    assert metrics["macro_recall"] == pytest.approx(recall_score(labels, predicted, **options))
    assert metrics["mean_class_accuracy"] == pytest.approx(metrics["macro_recall"])
    assert metrics["macro_f1"] == pytest.approx(f1_score(labels, predicted, **options))


def test_auroc_from_probabilities_matches_sklearn(example):
    probabilities, labels = example
    expected = np.mean([roc_auc_score(labels == c, probabilities[:, c]) for c in (0, 1, 3)])

    metrics = classification_metrics(probabilities, labels, CLASSES)

    assert metrics["macro_auroc_ovr"] == pytest.approx(expected, abs=1e-6)
    for index in (0, 1, 3):
        per_class = metrics["per_class"][CLASSES[index]]["auroc_ovr"]
        assert per_class == pytest.approx(roc_auc_score(labels == index, probabilities[:, index]))


def test_auroc_differs_from_hard_label_auroc(example):
    probabilities, labels = example
    one_hot = np.eye(4)[probabilities.argmax(axis=1)]
    hard = np.mean([roc_auc_score(labels == c, one_hot[:, c]) for c in (0, 1, 3)])

    metrics = classification_metrics(probabilities, labels, CLASSES)

    assert metrics["macro_auroc_ovr"] != pytest.approx(hard, abs=1e-3)


def test_absent_class_undefined_with_warning(example, caplog):
    probabilities, labels = example
    with caplog.at_level(logging.WARNING, logger="dafw"):
        metrics = classification_metrics(probabilities, labels, CLASSES, context="target ck")

    assert metrics["absent_classes"] == ["fear"]
    assert set(metrics["per_class"]["fear"].values()) == {0, None}
    assert metrics["per_class"]["fear"]["support"] == 0
    assert "fear" in caplog.text
    assert "target ck" in caplog.text


def test_single_present_class_has_no_auroc():
    probabilities = np.array([[0.7, 0.3], [0.4, 0.6], [0.9, 0.1]])
    labels = np.array([0, 0, 0])

    metrics = classification_metrics(probabilities, labels, ("a", "b"))

    assert metrics["macro_auroc_ovr"] is None
    assert metrics["accuracy"] == pytest.approx(2 / 3)
    assert metrics["mean_class_accuracy"] == pytest.approx(2 / 3)


def test_confusion_rows_are_true_classes(example):
    probabilities, labels = example
    metrics = classification_metrics(probabilities, labels, CLASSES)
    confusion = np.asarray(metrics["confusion"])

    assert confusion.sum() == 40
    assert confusion.sum(axis=1).tolist() == [int((labels == c).sum()) for c in range(4)]
    normalised = row_normalised(confusion)
    assert np.isnan(normalised[2]).all()
    assert normalised[[0, 1, 3]].sum(axis=1) == pytest.approx([1.0, 1.0, 1.0])


def test_shape_mismatch_rejected():
    with pytest.raises(ValueError, match="expected probabilities"):
        classification_metrics(np.zeros((3, 2)), np.zeros(3, dtype=int), CLASSES)


def test_mean_over_targets_skips_undefined():
    means = mean_over_targets(
        [
            {"accuracy": 0.5, "macro_auroc_ovr": None},
            {"accuracy": 0.7, "macro_auroc_ovr": 0.8},
        ]
    )
    assert means["accuracy"] == pytest.approx(0.6)
    assert means["macro_auroc_ovr"] == pytest.approx(0.8)
    assert means["macro_f1"] is None
