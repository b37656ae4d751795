"""Tests of the aligner plugins against hand-computed and brute-force reference values."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError

from dafw.components import AlignContext
from dafw.plugins import load_plugins
from dafw_plugins.aligners.coral import CoralAligner, coral_loss
from dafw_plugins.aligners.grl import (
    DomainAdversarialAligner,
    GradientReversal,
    dann_lambda,
)
from dafw_plugins.aligners.mmd import MMDAligner, mmd_loss

START = AlignContext(step=0, total_steps=11)
HALFWAY = AlignContext(step=5, total_steps=11)
END = AlignContext(step=10, total_steps=11)


@pytest.fixture(scope="module")
def registries():
    return load_plugins().registries


def test_registry_builds_each_aligner(registries):
    source, target = torch.randn(4, 8), torch.randn(6, 8)
    for name in ("grl", "coral", "mmd"):
        entry = registries["aligner"].get(name)
        aligner = entry.factory(entry.params(), 8)
        output = aligner(source, target, START)
        assert output.loss.shape == (), name
        assert torch.isfinite(output.loss), name


def test_params_reject_unknown_keys(registries):
    for name in ("grl", "coral", "mmd"):
        with pytest.raises(ValidationError):
            registries["aligner"].get(name).params.model_validate({"weight": 1.0})
    grl_params = registries["aligner"].get("grl").params
    with pytest.raises(ValidationError):
        grl_params.model_validate({"schedule": "linear"})
    with pytest.raises(ValidationError):
        grl_params.model_validate({"coefficient": -1.0})
    with pytest.raises(ValidationError):
        grl_params.model_validate({"gamma": 0.0})


def gradients(with_reversal: bool, coefficient: float):
    torch.manual_seed(0)
    before = torch.nn.Linear(3, 4)
    after = torch.nn.Linear(4, 2)
    x = torch.randn(5, 3)
    hidden = before(x)
    hidden.retain_grad()
    middle = GradientReversal(coefficient)(hidden) if with_reversal else hidden
    (after(middle) ** 2).sum().backward()
    return hidden.grad, before.weight.grad, after.weight.grad, after(middle)


def test_gradient_reversal_scales_gradient():
    coefficient = 0.37
    plain = gradients(False, coefficient)
    reversed_ = gradients(True, coefficient)
    assert torch.equal(reversed_[0], plain[0] * -coefficient)
    torch.testing.assert_close(reversed_[1], plain[1] * -coefficient)
    assert torch.equal(reversed_[2], plain[2])
    assert torch.equal(reversed_[3], plain[3])


def test_dann_schedule_values():
    assert dann_lambda(0.0) == 0.0
    assert dann_lambda(0.5) == pytest.approx(0.986614298, abs=1e-9)
    assert dann_lambda(1.0) == pytest.approx(0.999909204, abs=1e-9)
    assert dann_lambda(1.0, coefficient=0.5, gamma=1.0) == pytest.approx(
        0.5 * (2 / (1 + math.exp(-1)) - 1)
    )


def test_grl_aligner_lambda_follows_schedule():
    fixed = DomainAdversarialAligner(4, coefficient=0.7)
    dann = DomainAdversarialAligner(4, coefficient=1.0, schedule="dann")
    source, target = torch.randn(3, 4), torch.randn(3, 4)
    assert fixed(source, target, START).scalars["lambda"] == 0.7
    assert fixed(source, target, END).scalars["lambda"] == 0.7
    assert dann(source, target, START).scalars["lambda"] == 0.0
    assert dann(source, target, HALFWAY).scalars["lambda"] == pytest.approx(0.986614298)
    assert dann(source, target, END).scalars["lambda"] == pytest.approx(0.999909204)


def test_grl_aligner_loss_and_accuracy_by_hand():
    aligner = DomainAdversarialAligner(2, hidden_layers=0)
    with torch.no_grad():
        aligner.classifier[0].weight.copy_(torch.tensor([[1.0, 0.0]]))
        aligner.classifier[0].bias.zero_()
    source = torch.tensor([[-1.0, 5.0], [-2.0, 5.0], [2.0, 5.0]])
    target = torch.tensor([[3.0, 0.0], [-4.0, 0.0], [5.0, 0.0]])
    output = aligner(source, target, START)

    # Source label 0: BCE = softplus(logit); target label 1: BCE = softplus(-logit).
    loss_source = (
        F.softplus(torch.tensor(-1.0))
        + F.softplus(torch.tensor(-2.0))
        + F.softplus(torch.tensor(2.0))
    ) / 3
    loss_target = (
        F.softplus(torch.tensor(-3.0))
        + F.softplus(torch.tensor(4.0))
        + F.softplus(torch.tensor(-5.0))
    ) / 3
    assert output.scalars["loss_source"] == pytest.approx(loss_source.item())
    assert output.scalars["loss_target"] == pytest.approx(loss_target.item())
    torch.testing.assert_close(output.loss, loss_source + loss_target)
    # Correct: source -1 and -2 (<= 0), target 3 and 5 (> 0): 4 of 6.
    assert output.scalars["domain_accuracy"] == pytest.approx(4 / 6)


def test_grl_aligner_reverses_gradient_to_features():
    aligner = DomainAdversarialAligner(4, coefficient=0.5, hidden_layers=1, dropout=0.0)
    source = torch.randn(3, 4, requires_grad=True)
    target = torch.randn(2, 4, requires_grad=True)
    aligner(source, target, START).loss.backward()
    reversed_grad = source.grad.clone()
    classifier_grad = aligner.classifier[0].weight.grad.clone()

    aligner.zero_grad()
    source.grad = None
    logits = aligner.classifier(source).squeeze(1)
    F.binary_cross_entropy_with_logits(logits, torch.zeros(3)).backward()
    torch.testing.assert_close(reversed_grad, -0.5 * source.grad)
    assert classifier_grad.abs().sum() > 0


def test_coral_hand_computed_example():
    source = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
    target = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    # C_s = [[4/3, 0], [0, 4/3]], C_t = [[5/3, 5/3], [5/3, 5/3]].
    # ||C_s - C_t||_F^2 = (1 + 25 + 25 + 1) / 9 = 52/9; divided by 4 d^2 = 16: 13/36.
    output = CoralAligner(2)(source, target, START)
    assert output.loss.item() == pytest.approx(13 / 36, rel=1e-6)


def test_coral_identical_inputs_zero():
    features = torch.randn(6, 5)
    assert coral_loss(features, features.clone()).item() == 0.0


def test_coral_single_sample_raises():
    with pytest.raises(ValueError, match="1 source and 4 target"):
        CoralAligner(3)(torch.randn(1, 3), torch.randn(4, 3), START)
    with pytest.raises(ValueError, match="4 source and 1 target"):
        CoralAligner(3)(torch.randn(4, 3), torch.randn(1, 3), START)


def test_coral_float32_under_autocast():
    source = torch.randn(5, 4).bfloat16()
    target = torch.randn(7, 4).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = coral_loss(source, target)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, coral_loss(source.float(), target.float()))


def test_aligners_reject_wrong_width():
    for aligner in (CoralAligner(3), MMDAligner(3), DomainAdversarialAligner(3)):
        with pytest.raises(ValueError, match="source features must have shape"):
            aligner(torch.randn(4, 2), torch.randn(4, 3), START)


def brute_force_mmd(source, target, kernels=5, kernel_mul=2.0):
    source = source.double().tolist()
    target = target.double().tolist()
    joint = source + target

    def squared(x, y):
        return sum((a - b) ** 2 for a, b in zip(x, y, strict=True))

    total = len(joint)
    pair_sum = 0.0
    for i in range(total):
        for j in range(total):
            if i != j:
                pair_sum += squared(joint[i], joint[j])
    base = pair_sum / (total * (total - 1))
    bandwidths = [base * kernel_mul ** (u - kernels // 2) for u in range(kernels)]

    def kernel(x, y):
        return sum(math.exp(-squared(x, y) / b) for b in bandwidths)

    def mean_kernel(xs, ys):
        return sum(kernel(x, y) for x in xs for y in ys) / (len(xs) * len(ys))

    return (
        mean_kernel(source, source) + mean_kernel(target, target) - 2 * mean_kernel(source, target)
    )


@pytest.mark.parametrize("sizes", [(4, 6), (7, 3), (1, 2)])
def test_mmd_matches_brute_force(sizes):
    torch.manual_seed(sum(sizes))
    source = torch.randn(sizes[0], 3)
    target = torch.randn(sizes[1], 3) + 0.5
    expected = brute_force_mmd(source, target)
    output = MMDAligner(3)(source, target, START)
    assert output.loss.item() == pytest.approx(expected, rel=1e-4, abs=1e-6)


def test_mmd_other_kernel_settings_match_brute_force():
    torch.manual_seed(3)
    source, target = torch.randn(5, 2), torch.randn(4, 2) * 2
    expected = brute_force_mmd(source, target, kernels=4, kernel_mul=3.0)
    loss = mmd_loss(source, target, kernels=4, kernel_mul=3.0)
    assert loss.item() == pytest.approx(expected, rel=1e-4, abs=1e-6)


def test_mmd_identical_inputs_exactly_zero():
    torch.manual_seed(0)
    features = torch.randn(8, 16)
    assert MMDAligner(16)(features, features.clone(), START).loss.item() == 0.0
    constant = torch.ones(5, 16)
    loss = MMDAligner(16)(constant, constant.clone(), START).loss
    assert loss.item() == 0.0


def test_mmd_float32_under_autocast():
    source, target = torch.randn(4, 3).bfloat16(), torch.randn(5, 3).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = mmd_loss(source, target)
    assert loss.dtype == torch.float32


def test_mmd_separates_shifted_domains():
    torch.manual_seed(0)
    source = torch.randn(32, 4)
    near = MMDAligner(4)(source, torch.randn(32, 4), START).loss
    far = MMDAligner(4)(source, torch.randn(32, 4) + 3.0, START).loss
    assert far > near
