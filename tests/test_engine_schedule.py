"""Learning-rate schedule: warm-up then cosine, checked against hand-computed rates."""

from __future__ import annotations

import math

import pytest
import torch

from dafw.engine.schedule import build_scheduler
from dafw.recipe.schema import ScheduleSection


def rates(schedule: ScheduleSection, base_lr: float, steps_per_epoch: int, epochs: int):
    """Return the learning rate used at every step, through a real optimiser."""
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([parameter], lr=base_lr)
    total = steps_per_epoch * epochs
    scheduler = build_scheduler(optimizer, schedule, base_lr, steps_per_epoch, total)
    used = []
    for _ in range(total):
        used.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return used


def test_warmup_then_cosine_rates():
    # 10 steps per epoch, 5 epochs, 1 warm-up epoch: W = 10, T = 50.
    schedule = ScheduleSection(kind="warmup_cosine", warmup_epochs=1.0, min_lr=1e-5)
    used = rates(schedule, base_lr=1e-3, steps_per_epoch=10, epochs=5)

    assert used[0] == pytest.approx(1e-4)  # 1e-3 * 1/10
    assert used[4] == pytest.approx(5e-4)  # 1e-3 * 5/10
    assert used[9] == pytest.approx(1e-3)  # end of warm-up
    assert used[10] == pytest.approx(1e-3)  # cosine at 0
    # step 30: progress (30-10)/40 = 0.5, cos(pi/2) = 0 -> halfway between 1e-3 and 1e-5
    assert used[30] == pytest.approx(1e-5 + (1e-3 - 1e-5) * 0.5)
    # step 20: progress 0.25 -> 0.5 * (1 + cos(pi/4))
    assert used[20] == pytest.approx(1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + math.cos(math.pi / 4)))
    # last step 49: progress 39/40, just above the minimum
    expected_last = 1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + math.cos(math.pi * 39 / 40))
    assert used[49] == pytest.approx(expected_last)
    assert used[49] > 1e-5


def test_fractional_warmup_rounds_to_steps():
    # 2.5 warm-up epochs of 4 steps are 10 steps.
    schedule = ScheduleSection(kind="warmup_cosine", warmup_epochs=2.5, min_lr=0.0)
    used = rates(schedule, base_lr=2e-3, steps_per_epoch=4, epochs=10)

    assert used[0] == pytest.approx(2e-4)
    assert used[9] == pytest.approx(2e-3)
    assert used[10] == pytest.approx(2e-3)


def test_no_warmup_starts_at_base_rate():
    schedule = ScheduleSection(kind="warmup_cosine", warmup_epochs=0.0, min_lr=0.0)
    used = rates(schedule, base_lr=1e-3, steps_per_epoch=5, epochs=2)

    assert used[0] == pytest.approx(1e-3)
    assert used[5] == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi * 5 / 10)))


def test_constant_schedule_keeps_rate():
    schedule = ScheduleSection(kind="constant", warmup_epochs=3.0)
    used = rates(schedule, base_lr=3e-4, steps_per_epoch=4, epochs=3)

    assert used == pytest.approx([3e-4] * 12)
