"""Adversarial alignment through a gradient reversal layer and a domain classifier (DANN)."""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from dafw.components import AlignContext, Aligner, AlignerOutput
from dafw_plugins.aligners.features import check_domain_features

SOURCE_LABEL = 0.0
TARGET_LABEL = 1.0


class GradientReverseFunction(torch.autograd.Function):
    """Identity in the forward pass; multiplies the gradient by ``-coefficient`` backward."""

    @staticmethod
    def forward(ctx: Any, features: torch.Tensor, coefficient: float) -> torch.Tensor:
        ctx.coefficient = coefficient
        return features.view_as(features)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad_output * -ctx.coefficient, None


class GradientReversal(nn.Module):
    r"""Gradient reversal layer (Ganin & Lempitsky, 2015).

    :math:`R_\lambda(x) = x` in the forward pass and
    :math:`\partial R_\lambda / \partial x = -\lambda I` in the backward pass.

    Args:
        coefficient (float): lambda, read at every forward call. Defaults to 1.0.
    """

    def __init__(self, coefficient: float = 1.0) -> None:
        super().__init__()
        self.coefficient = coefficient

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Return ``features``; their gradient is multiplied by ``-coefficient``."""
        return GradientReverseFunction.apply(features, self.coefficient)

    def extra_repr(self) -> str:
        return f"coefficient={self.coefficient}"


def dann_lambda(progress: float, coefficient: float = 1.0, gamma: float = 10.0) -> float:
    r"""Return the DANN schedule :math:`c \, (2 / (1 + e^{-\gamma p}) - 1)` at progress ``p``."""
    return coefficient * (2.0 / (1.0 + math.exp(-gamma * progress)) - 1.0)


class DomainAdversarialParams(BaseModel):
    """Parameters of ``grl``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    coefficient: float = Field(
        1.0,
        ge=0.0,
        description=(
            "lambda_GRL: gradient reversal coefficient with schedule='fixed', its maximum with "
            "schedule='dann'."
        ),
    )
    schedule: Literal["fixed", "dann"] = Field(
        "fixed",
        description=(
            "'fixed': lambda = coefficient. 'dann': lambda = coefficient * "
            "(2 / (1 + exp(-gamma * p)) - 1), p the fraction of training done."
        ),
    )
    gamma: float = Field(10.0, gt=0.0, description="Steepness of the 'dann' schedule.")
    hidden_features: int = Field(
        1024, ge=1, le=65536, description="Width of each hidden layer of the domain classifier."
    )
    hidden_layers: int = Field(
        2,
        ge=0,
        le=8,
        description="Hidden layers of the domain classifier; 0 makes it a single linear layer.",
    )
    dropout: float = Field(
        0.5, ge=0.0, lt=1.0, description="Dropout probability after each hidden layer."
    )


def domain_classifier(
    dim: int, hidden_features: int, hidden_layers: int, dropout: float
) -> nn.Sequential:
    """Build the MLP ``dim -> hidden ... -> 1`` (Linear, ReLU, Dropout per hidden layer)."""
    layers: list[nn.Module] = []
    width = dim
    for _ in range(hidden_layers):
        layers += [nn.Linear(width, hidden_features), nn.ReLU(inplace=True), nn.Dropout(dropout)]
        width = hidden_features
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


class DomainAdversarialAligner(Aligner):
    r"""Domain-adversarial loss of DANN (Ganin & Lempitsky, 2015, "Unsupervised Domain
    Adaptation by Backpropagation").

    A domain classifier :math:`D` reads the features through a gradient reversal layer
    :math:`R_\lambda` and is trained to tell source (label 0) from target (label 1):

    .. math::

        \mathcal{L} = \underbrace{\frac{1}{N_s} \sum_i \mathrm{BCE}(D(R_\lambda(f^s_i)), 0)}_
                      {\mathcal{L}_{source}}
                    + \underbrace{\frac{1}{N_t} \sum_j \mathrm{BCE}(D(R_\lambda(f^t_j)), 1)}_
                      {\mathcal{L}_{target}},

    with BCE on logits. Minimising :math:`\mathcal{L}` trains :math:`D`, while the reversed
    gradient trains the feature extractor to confuse it. :math:`\lambda` is ``coefficient``
    (schedule ``fixed``) or ``coefficient * (2 / (1 + exp(-gamma p)) - 1)`` with ``p`` the
    training progress (schedule ``dann``).

    Args:
        dim (int): Feature width D.
        coefficient (float): lambda, or its maximum under the ``dann`` schedule. Defaults to 1.
        schedule (str): ``fixed`` or ``dann``. Defaults to ``fixed``.
        gamma (float): Steepness of the ``dann`` schedule. Defaults to 10.
        hidden_features (int): Width of the classifier's hidden layers. Defaults to 1024.
        hidden_layers (int): Number of hidden layers. Defaults to 2.
        dropout (float): Dropout after each hidden layer. Defaults to 0.5.

    Inputs:
        - **source** (Tensor): source features.
        - **target** (Tensor): target features.
        - **context** (AlignContext): training progress, for the ``dann`` schedule.

    Shape:
        - source: :math:`(N_s, D)`; target: :math:`(N_t, D)`.
        - Output: ``AlignerOutput`` with a scalar loss and the scalars ``loss_source``,
          ``loss_target``, ``domain_accuracy`` (over both batches) and ``lambda``.
    """

    def __init__(
        self,
        dim: int,
        coefficient: float = 1.0,
        schedule: Literal["fixed", "dann"] = "fixed",
        gamma: float = 10.0,
        hidden_features: int = 1024,
        hidden_layers: int = 2,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.coefficient = coefficient
        self.schedule = schedule
        self.gamma = gamma
        self.reversal = GradientReversal(coefficient)
        self.classifier = domain_classifier(dim, hidden_features, hidden_layers, dropout)

    def current_lambda(self, context: AlignContext) -> float:
        """Return lambda at ``context.progress`` under the configured schedule."""
        if self.schedule == "dann":
            return dann_lambda(context.progress, self.coefficient, self.gamma)
        return self.coefficient

    def forward(
        self, source: torch.Tensor, target: torch.Tensor, context: AlignContext
    ) -> AlignerOutput:
        """Return the domain classification loss of ``source`` and ``target`` features."""
        check_domain_features(source, target, self.dim)
        self.reversal.coefficient = self.current_lambda(context)

        source_logits = self.classifier(self.reversal(source)).squeeze(1)
        target_logits = self.classifier(self.reversal(target)).squeeze(1)
        loss_source = F.binary_cross_entropy_with_logits(
            source_logits, torch.full_like(source_logits, SOURCE_LABEL)
        )
        loss_target = F.binary_cross_entropy_with_logits(
            target_logits, torch.full_like(target_logits, TARGET_LABEL)
        )

        with torch.no_grad():
            correct = (source_logits <= 0).sum() + (target_logits > 0).sum()
            accuracy = correct.item() / (source_logits.numel() + target_logits.numel())
        scalars = {
            "loss_source": loss_source.item(),
            "loss_target": loss_target.item(),
            "domain_accuracy": accuracy,
            "lambda": self.reversal.coefficient,
        }
        return AlignerOutput(loss=loss_source + loss_target, scalars=scalars)


def build_domain_adversarial(params: DomainAdversarialParams, dim: int) -> DomainAdversarialAligner:
    """Build ``grl`` for features of width ``dim``."""
    return DomainAdversarialAligner(dim, **params.model_dump())
