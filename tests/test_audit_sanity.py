"""Tests of the metric-sanity check: AUROC recomputed from probabilities against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from dafw.audit.sanity import (
    auroc_equals_accuracy,
    average_ranks,
    binary_auroc,
    check_metrics,
    hard_label_auroc,
    macro_auroc_ovr,
)
from dafw.engine.metrics import classification_metrics


def random_scores(seed: int, samples: int = 200, classes: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Return softmax probabilities that lean towards the true class, and the labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, samples)
    logits = rng.normal(0, 1, (samples, classes))
    logits[np.arange(samples), labels] += 1.0
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return probabilities, labels


@pytest.mark.parametrize("seed", range(5))
def test_macro_auroc_matches_sklearn(seed):
    probabilities, labels = random_scores(seed)
    ours, per_class = macro_auroc_ovr(probabilities, labels)
    expected = roc_auc_score(labels, probabilities, multi_class="ovr", average="macro")

    assert ours == pytest.approx(expected, abs=1e-12)
    for column, value in enumerate(per_class):
        assert value == pytest.approx(roc_auc_score(labels == column, probabilities[:, column]))


def test_binary_auroc_with_ties_matches_sklearn():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 4, 300).astype(float)
    positive = rng.random(300) < 0.3

    assert binary_auroc(scores, positive) == pytest.approx(roc_auc_score(positive, scores))


def test_binary_auroc_undefined_for_one_class():
    assert binary_auroc(np.array([0.1, 0.9]), np.array([True, True])) is None
    assert binary_auroc(np.array([0.1, 0.9]), np.array([False, False])) is None


def test_average_ranks_share_ties():
    np.testing.assert_array_equal(average_ranks(np.array([3.0, 1.0, 3.0, 2.0])), [3.5, 1, 3.5, 2])


def test_absent_class_left_out_as_in_engine():
    probabilities, labels = random_scores(11, classes=5)
    labels[labels == 4] = 0
    ours, per_class = macro_auroc_ovr(probabilities, labels)
    engine = classification_metrics(probabilities, labels, tuple("abcde"))["macro_auroc_ovr"]

    assert per_class[4] is None
    assert ours == pytest.approx(engine, abs=1e-5)


def test_hard_label_auroc_matches_sklearn_on_one_hot():
    probabilities, labels = random_scores(5)
    one_hot = np.eye(7)[probabilities.argmax(axis=1)]
    expected = np.mean([roc_auc_score(labels == c, one_hot[:, c]) for c in range(7)])

    assert hard_label_auroc(probabilities, labels) == pytest.approx(expected)


def test_auroc_equal_to_accuracy_is_flagged():
    probabilities, labels = random_scores(1)
    accuracy = float((probabilities.argmax(axis=1) == labels).mean())
    reported = {"accuracy": accuracy, "macro_auroc_ovr": accuracy + 0.00001}
    check = check_metrics("fer2013, batch mode", reported, probabilities, labels)

    assert not check.passed
    assert any("equals the accuracy to 4 digits" in problem for problem in check.problems)
    assert any("differs from the AUROC of the stored" in problem for problem in check.problems)


def test_published_style_equality_is_detected():
    assert auroc_equals_accuracy(0.98044, 0.9804)
    assert not auroc_equals_accuracy(0.9806, 0.9804)
    assert not auroc_equals_accuracy(None, 0.9804)


def test_correct_report_passes():
    probabilities, labels = random_scores(2)
    reported = classification_metrics(probabilities, labels, tuple("abcdefg"))
    check = check_metrics("jaffe, batch mode", reported, probabilities, labels)

    assert check.passed, check.problems
    assert check.recomputed_auroc == pytest.approx(reported["macro_auroc_ovr"], abs=1e-5)
    assert check.recomputed_accuracy == pytest.approx(reported["accuracy"], abs=1e-6)


def test_hard_label_report_is_explained():
    probabilities, labels = random_scores(4)
    reported = {
        "accuracy": float((probabilities.argmax(axis=1) == labels).mean()),
        "macro_auroc_ovr": hard_label_auroc(probabilities, labels),
    }
    check = check_metrics("ck+, batch mode", reported, probabilities, labels)

    assert any("AUROC of hard labels" in problem for problem in check.problems)


def test_wrong_accuracy_is_flagged():
    probabilities, labels = random_scores(6)
    reported = classification_metrics(probabilities, labels, tuple("abcdefg"))
    reported["accuracy"] += 0.01
    check = check_metrics("sfew, single mode", reported, probabilities, labels)

    assert [problem for problem in check.problems if "reported accuracy" in problem]


def test_missing_reported_values_are_not_flagged():
    probabilities, labels = random_scores(7)
    check = check_metrics("expw, batch mode", {}, probabilities, labels)

    assert check.passed
    assert check.reported_auroc is None


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="expected probabilities"):
        check_metrics("x", {}, np.zeros((3, 2)), np.zeros(4))
