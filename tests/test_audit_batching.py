"""Tests of the batch-composition audit on a neighbour-only ring GAT and on a plain CNN."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from dafw.audit.arrangements import (
    audit_arrangements,
    class_sorted_arrangement,
    predict_arrangement,
)
from dafw.audit.batching import (
    ArrangementScore,
    assess_batch_composition,
    run_batch_composition,
    short_batch_note,
)
from dafw.components import Backbone
from dafw.engine.device import Precision
from dafw.model import ComponentSpec, DAModel, ModelSpec, build_model
from dafw.plugins import load_plugins
from dafw_plugins.relational.ring_gat import RingGAT

CLASSES = ("a", "b", "c", "d")
CPU = Precision(torch.device("cpu"))


class ClassImages(Dataset):
    """``(image, label)`` items: image ``i`` is flat grey with a level that encodes its class.

    A little per-image noise keeps the images distinct. Labels are listed in a shuffled
    order, so that dataset order is not class order.
    """

    def __init__(self, per_class: int = 25, size: int = 8, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.labels = rng.permutation(np.repeat(np.arange(len(CLASSES)), per_class)).tolist()
        levels = torch.tensor(self.labels, dtype=torch.float32)[:, None, None, None] / 4 + 0.1
        noise = torch.from_numpy(rng.normal(0, 0.01, (len(self.labels), 3, size, size)))
        self.images = (levels + noise.float()).clamp(0, 1)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], self.labels[index]


class ClassLevelBackbone(Backbone):
    """Embeds an image as the one-hot vector of the class its grey level encodes."""

    out_features = len(CLASSES)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        level = ((images.mean(dim=(1, 2, 3)) - 0.1) * 4).round().long().clamp(0, len(CLASSES) - 1)
        return nn.functional.one_hot(level, len(CLASSES)).float()


def neighbour_only_model() -> DAModel:
    """A ring GAT without self-loop whose prediction is the mean of the two ring neighbours.

    Every weight is set by hand: the projection, W_1 and the classifier are identities and
    the attention vector is zero, so each node averages its neighbours' one-hot class
    embeddings and never reads its own. The prototypes are the class one-hots, and a
    single image attends to its one nearest prototype.
    """
    dim = len(CLASSES)
    relational = RingGAT(dim, heads=1, self_loop=False, activation="none")
    model = DAModel(ClassLevelBackbone(), relational, num_classes=dim, projection_dim=dim, top_k=1)
    with torch.no_grad():
        for linear in (model.projection[0], model.classifier):
            linear.weight.copy_(torch.eye(dim))
            linear.bias.zero_()
        relational.weight.copy_(torch.eye(dim)[None])
        relational.attention_vector.zero_()
    model.update_prototypes(torch.eye(dim), torch.arange(dim))
    return model.eval()


def plain_cnn() -> DAModel:
    """A small CNN with no relational module, randomly initialised, with prototypes."""
    torch.manual_seed(0)
    spec = ModelSpec(
        backbone=ComponentSpec("small_cnn", {"width": 4, "depth": 2, "out_features": 16}),
        relational=ComponentSpec("none", {}),
        projection_dim=8,
    )
    model = build_model(spec, load_plugins().registries, len(CLASSES))
    model.update_prototypes(torch.randn(len(CLASSES), 8), torch.arange(len(CLASSES)))
    return model.eval()


def audit(model: DAModel, dataset: ClassImages, threshold: float = 2.0):
    labels = np.asarray(dataset.labels)
    arrangements = audit_arrangements(labels, 16, seed=0, seeds=3, batch_sizes=[1, 2, 7, 64])
    return run_batch_composition(
        model, dataset, labels, CLASSES, arrangements, CPU, threshold, "test"
    )


def test_neighbour_only_gat_is_flagged():
    result = audit(neighbour_only_model(), ClassImages())
    by_kind = {score.kind: score for score in result.scores}
    flagged = {spread.name for spread in result.flagged}

    assert by_kind["class_sorted"].accuracy > 0.9
    assert result.shuffled["mean"] < 0.6
    assert "class_sorted_vs_shuffled" in flagged
    assert "single_vs_shuffled" in flagged
    assert by_kind["single"].accuracy == 1.0


def test_neighbour_only_gat_flag_message_has_numbers():
    result = audit(neighbour_only_model(), ClassImages())
    spread = next(s for s in result.spreads if s.name == "class_sorted_vs_shuffled")
    sorted_accuracy = next(s.accuracy for s in result.scores if s.kind == "class_sorted")

    assert spread.points == pytest.approx(abs(sorted_accuracy - result.shuffled["mean"]) * 100)
    assert f"{100 * sorted_accuracy:.2f} %" in spread.message
    assert "above the 2.00-point threshold" in spread.message


class Digits(Dataset):
    """scikit-learn's 8x8 digits as ``(image, label)`` items, replicated to 3 channels."""

    def __init__(self, positions: np.ndarray) -> None:
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = torch.tensor(digits.images[positions] / 16.0, dtype=torch.float32)
        self.images = images[:, None].repeat(1, 3, 1, 1)
        self.labels = digits.target[positions].tolist()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], self.labels[index]


@pytest.mark.slow
def test_gat_trained_on_sorted_batches_is_flagged():
    # A ring GAT without self-loop trained on class-sorted batches learns to name the class
    # of its neighbours, which is its own class only when the test batches are sorted too.
    rng = np.random.default_rng(0)
    positions = rng.permutation(1797)
    train, test = Digits(positions[:1200]), Digits(positions[1200:])
    torch.manual_seed(0)
    spec = ModelSpec(
        backbone=ComponentSpec("small_cnn", {"width": 8, "depth": 2, "out_features": 32}),
        relational=ComponentSpec("ring_gat", {"heads": 2, "self_loop": False}),
        projection_dim=32,
    )
    model = build_model(spec, load_plugins().registries, 10)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    train_labels = np.asarray(train.labels)
    for _ in range(60):
        batch = rng.choice(len(train), 32, replace=False)
        batch = batch[np.argsort(train_labels[batch], kind="stable")]
        labels = torch.from_numpy(train_labels[batch])
        output = model(train.images[batch])
        loss = nn.functional.cross_entropy(output.logits, labels)
        model.update_prototypes(output.h, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    labels = np.asarray(test.labels)
    arrangements = audit_arrangements(labels, 32, seed=0, seeds=2, batch_sizes=[8])
    result = run_batch_composition(
        model.eval(), test, labels, tuple("0123456789"), arrangements, CPU, 2.0, "digits"
    )
    sorted_accuracy = next(s.accuracy for s in result.scores if s.kind == "class_sorted")

    assert "class_sorted_vs_shuffled" in {spread.name for spread in result.flagged}
    assert sorted_accuracy - result.shuffled["mean"] > 0.3


def test_plain_cnn_not_flagged():
    result = audit(plain_cnn(), ClassImages())

    assert result.flagged == []
    assert {score.accuracy for score in result.scores} == {result.scores[0].accuracy}
    assert all(score.changed_predictions == 0 for score in result.scores)


def test_plain_cnn_predictions_identical_for_every_arrangement():
    model = plain_cnn()
    dataset = ClassImages()
    labels = np.asarray(dataset.labels)
    arrangements = audit_arrangements(labels, 16, seed=3, seeds=4, batch_sizes=[1, 2, 3, 64, 500])
    outputs = [predict_arrangement(model, dataset, a, CPU) for a in arrangements]
    reference = outputs[0].argmax(axis=1)

    for arrangement, probabilities in zip(arrangements, outputs, strict=True):
        assert np.array_equal(probabilities.argmax(axis=1), reference), arrangement.name
        if arrangement.mode == "batch":
            # CPU convolution kernels may round differently for another batch size, so the
            # probabilities agree to float32 precision while the predictions agree exactly.
            np.testing.assert_allclose(probabilities, outputs[0], rtol=0, atol=1e-6)


def test_rings_of_one_and_two_are_scored():
    dataset = ClassImages(per_class=1)
    labels = np.asarray(dataset.labels)
    arrangements = audit_arrangements(labels, 3, seed=0, seeds=1, batch_sizes=[1, 2])
    model = neighbour_only_model()

    for arrangement in arrangements:
        probabilities = predict_arrangement(model, dataset, arrangement, CPU)
        assert probabilities.shape == (4, len(CLASSES))
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_ring_of_one_reads_itself():
    # With no neighbour but itself, the neighbour-only model classifies the image correctly.
    dataset = ClassImages(per_class=3)
    labels = np.asarray(dataset.labels)
    arrangement = next(
        a for a in audit_arrangements(labels, 4, 0, 1, [1]) if a.kind == "batch_size"
    )
    probabilities = predict_arrangement(neighbour_only_model(), dataset, arrangement, CPU)

    assert np.array_equal(probabilities.argmax(axis=1), labels)


def test_class_sorted_batches_follow_class_then_dataset_order():
    labels = np.array([2, 0, 1, 0, 2, 1, 0])
    arrangement = class_sorted_arrangement(labels, 3)

    assert arrangement.batches == [[1, 3, 6], [2, 5, 0], [4]]
    assert arrangement.last_batch_size == 1


def test_audit_arrangements_cover_every_image_once():
    labels = np.arange(50) % 4
    arrangements = audit_arrangements(labels, 16, seed=5, seeds=3, batch_sizes=[2, 64])

    assert [a.seed for a in arrangements if a.kind == "shuffled"] == [5, 6, 7]
    assert [a.batch_size for a in arrangements if a.kind == "batch_size"] == [2, 64]
    for arrangement in arrangements:
        flat = sorted(i for batch in arrangement.batches for i in batch)
        assert flat == list(range(50)), arrangement.name


def test_first_shuffled_order_matches_engine_batches():
    from dafw.engine.loaders import shuffled_batches

    arrangement = audit_arrangements(np.zeros(40, dtype=int), 16, seed=9, seeds=2, batch_sizes=[])[
        0
    ]

    assert arrangement.batches == shuffled_batches(40, 16, 9)


def test_threshold_is_strict():
    scores = [
        ArrangementScore("s0", "shuffled", 8, 8, accuracy=0.50),
        ArrangementScore("sorted", "class_sorted", 8, 8, accuracy=0.52),
        ArrangementScore("single", "single", 8, 8, accuracy=0.5201),
    ]
    result = assess_batch_composition(scores, threshold=2.0)
    points = {spread.name: spread for spread in result.spreads}

    assert points["class_sorted_vs_shuffled"].points == pytest.approx(2.0)
    assert not points["class_sorted_vs_shuffled"].flagged
    assert points["single_vs_shuffled"].flagged


def test_unscored_single_mode_is_not_flagged():
    scores = [
        ArrangementScore("s0", "shuffled", 8, 8, accuracy=0.5),
        ArrangementScore("single", "single", 8, 8, error="the prototype bank is empty"),
    ]
    result = assess_batch_composition(scores, threshold=2.0)
    single = next(s for s in result.spreads if s.name == "single_vs_shuffled")

    assert single.points is None
    assert not single.flagged


def test_empty_prototype_bank_is_reported():
    model = neighbour_only_model()
    model.prototypes.counts.zero_()
    dataset = ClassImages(per_class=2)
    result = audit(model, dataset)
    single = next(score for score in result.scores if score.kind == "single")

    assert single.accuracy is None
    assert "prototype bank is empty" in single.error


def test_short_batch_note_names_rings_of_one():
    scores = [
        ArrangementScore("b", "batch_size", 2, 1),
        ArrangementScore("one", "batch_size", 256, 101),
        ArrangementScore("single", "single", 8, 5),
    ]
    note = short_batch_note(101, scores)

    assert "batches of 2 end with a ring of 1" in note
    assert "all 101 images in one ring" in note
    assert "attends only to itself" in note
    assert "batches of 8" not in note


class BatchMeanBackbone(Backbone):
    """Subtracts the batch mean even in eval mode, so an embedding depends on its batch."""

    out_features = 3

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        colours = images.mean(dim=(2, 3))
        return colours - colours.mean(dim=0, keepdim=True)


@pytest.mark.parametrize("build", [neighbour_only_model, plain_cnn])
def test_reused_embeddings_match_full_passes(build):
    dataset = ClassImages()
    labels = np.asarray(dataset.labels)
    arrangements = audit_arrangements(labels, 16, seed=0, seeds=2, batch_sizes=[1, 7])
    model = build()
    reused = run_batch_composition(model, dataset, labels, CLASSES, arrangements, CPU, 2.0, "t")
    full = run_batch_composition(
        model, dataset, labels, CLASSES, arrangements, CPU, 2.0, "t", reuse_embeddings=False
    )

    assert reused.method == "embeddings reused"
    assert full.method == "full passes"
    assert reused.embedding_drift < 1e-4
    for fast, slow in zip(reused.scores, full.scores, strict=True):
        assert fast.accuracy == slow.accuracy, fast.name
        assert fast.changed_predictions == slow.changed_predictions, fast.name


def test_batch_dependent_backbone_gets_full_passes():
    torch.manual_seed(0)
    relational = RingGAT(3, heads=1)
    model = DAModel(BatchMeanBackbone(), relational, num_classes=len(CLASSES), projection_dim=3)
    model.update_prototypes(torch.rand(len(CLASSES), 3), torch.arange(len(CLASSES)))
    dataset = ClassImages(per_class=5)
    labels = np.asarray(dataset.labels)
    arrangements = audit_arrangements(labels, 8, seed=0, seeds=1, batch_sizes=[2])
    result = run_batch_composition(
        model.eval(), dataset, labels, CLASSES, arrangements, CPU, 2.0, "t"
    )

    assert result.method == "full passes"
    assert result.embedding_drift > 1e-2
    assert any("full forward passes" in note for note in result.notes)
