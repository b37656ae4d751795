"""Learning-rate schedule: linear warm-up, then cosine annealing, stepped per iteration."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.optim.lr_scheduler import LambdaLR

from dafw.recipe.schema import ScheduleSection


@dataclass
class WarmupCosine:
    r"""Factor applied to the base learning rate at each optimiser step.

    With base rate :math:`\eta`, minimum :math:`\eta_{min}`, ``W`` warm-up steps and ``T``
    steps in all, the rate of step :math:`s` (zero-based) is

    .. math::

        \eta_s = \begin{cases}
            \eta \, (s + 1) / W & s < W, \\
            \eta_{min} + (\eta - \eta_{min}) \, \tfrac12
                \big(1 + \cos(\pi \, (s - W) / (T - W))\big) & s \geq W,
        \end{cases}

    so the first step already trains, the rate peaks at :math:`\eta` on step ``W`` and
    reaches :math:`\eta_{min}` at step ``T``, one past the last step. The ``constant`` kind
    keeps :math:`\eta` throughout. The fields are plain numbers, so the scheduler's state
    dict stays loadable with ``weights_only=True``.

    Attributes:
        total_steps (int): T, the optimiser steps of the whole run of one pair.
        warmup_steps (int): W, clamped to ``[0, T]``.
        min_ratio (float): :math:`\eta_{min} / \eta`.
        constant (bool): Keep the factor at 1.
    """

    total_steps: int
    warmup_steps: int
    min_ratio: float
    constant: bool = False

    def __call__(self, step: int) -> float:
        if self.constant:
            return 1.0
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        remaining = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / remaining)
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.min_ratio + (1.0 - self.min_ratio) * cosine


def warmup_steps_for(schedule: ScheduleSection, steps_per_epoch: int, total_steps: int) -> int:
    """Convert ``schedule.warmup_epochs`` to optimiser steps, rounded, at most ``total_steps``."""
    return min(total_steps, round(schedule.warmup_epochs * steps_per_epoch))


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    schedule: ScheduleSection,
    base_lr: float,
    steps_per_epoch: int,
    total_steps: int,
) -> LambdaLR:
    """Build the per-iteration scheduler of ``schedule``; call its ``step()`` after each step.

    Args:
        optimizer (torch.optim.Optimizer): Optimiser whose groups start at ``base_lr``.
        schedule (ScheduleSection): Kind, warm-up length in epochs and minimum rate.
        base_lr (float): Peak learning rate.
        steps_per_epoch (int): Optimiser steps in one epoch.
        total_steps (int): Optimiser steps of the whole run of one pair.
    """
    factor = WarmupCosine(
        total_steps=total_steps,
        warmup_steps=warmup_steps_for(schedule, steps_per_epoch, total_steps),
        min_ratio=schedule.min_lr / base_lr,
        constant=schedule.kind == "constant",
    )
    return LambdaLR(optimizer, factor)
