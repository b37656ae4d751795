"""The AdamW optimiser of a recipe, and gradient clipping."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from dafw.recipe.schema import OptimizerSection


def build_optimizer(
    parameters: Iterable[nn.Parameter], settings: OptimizerSection
) -> torch.optim.AdamW:
    """Build AdamW over ``parameters`` with the recipe's rate, betas, eps and weight decay.

    Every trainable parameter, biases and normalisation weights included, is in one group
    with the same weight decay.
    """
    trainable = [parameter for parameter in parameters if parameter.requires_grad]
    return torch.optim.AdamW(
        trainable,
        lr=settings.lr,
        betas=(settings.betas[0], settings.betas[1]),
        eps=settings.eps,
        weight_decay=settings.weight_decay,
    )


def clip_gradients(parameters: Iterable[nn.Parameter], max_norm: float | None) -> float | None:
    """Clip the global gradient norm to ``max_norm``; return the norm before clipping.

    Returns None, and clips nothing, when ``max_norm`` is None.
    """
    if max_norm is None:
        return None
    with_grad = [parameter for parameter in parameters if parameter.grad is not None]
    return float(torch.nn.utils.clip_grad_norm_(with_grad, max_norm))
