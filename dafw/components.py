"""Interfaces that every component of a given kind implements.

A factory registered under a kind builds an object with the interface below:

- ``backbone``: ``factory(params) -> Backbone``.
- ``relational``: ``factory(params, dim) -> Relational``.
- ``aligner``: ``factory(params, dim) -> Aligner``.
- ``dataset``: ``factory(params, root) -> dafw.data.DatasetReader``.

``params`` is an instance of the entry's own pydantic parameter model, already validated.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

import torch
from torch import nn

KINDS: tuple[str, ...] = ("backbone", "relational", "aligner", "dataset")


class Backbone(nn.Module, abc.ABC):
    """Image encoder: ``(N, 3, H, W)`` float images to ``(N, out_features)`` embeddings."""

    out_features: int


class Relational(nn.Module, abc.ABC):
    """Message passing between the samples of a mini-batch.

    ``forward(h)`` treats the rows of ``h`` (shape ``(N, D)``) as the nodes of a ring graph
    in batch order and returns updated rows of the same shape. ``forward_star`` updates
    each query from its own neighbour set, which single-image inference uses with the
    nearest class prototypes as neighbours.
    """

    @abc.abstractmethod
    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Update ``h`` of shape ``(N, D)`` over the ring graph of the batch."""

    @abc.abstractmethod
    def forward_star(self, query: torch.Tensor, neighbours: torch.Tensor) -> torch.Tensor:
        """Update ``query`` ``(B, D)`` from ``neighbours`` ``(B, K, D)``; returns ``(B, D)``."""


@dataclass(frozen=True)
class AlignContext:
    """Training position passed to every aligner call.

    Attributes:
        step (int): Zero-based optimiser step of the current (source, target) pair.
        total_steps (int): Number of optimiser steps the pair trains for.
    """

    step: int
    total_steps: int

    @property
    def progress(self) -> float:
        """Fraction of training done, in ``[0, 1]``."""
        if self.total_steps <= 1:
            return 1.0
        return min(1.0, self.step / (self.total_steps - 1))


@dataclass
class AlignerOutput:
    """Loss of one aligner and the scalars it wants logged.

    Attributes:
        loss (torch.Tensor): Scalar loss, before the recipe's weight is applied.
        scalars (dict[str, float]): Values to log, such as a domain accuracy or lambda.
    """

    loss: torch.Tensor
    scalars: dict[str, float] = field(default_factory=dict)


class Aligner(nn.Module, abc.ABC):
    """Domain alignment loss between source and target features of width ``dim``."""

    @abc.abstractmethod
    def forward(
        self, source: torch.Tensor, target: torch.Tensor, context: AlignContext
    ) -> AlignerOutput:
        """Compute the loss for ``source`` ``(Ns, D)`` and ``target`` ``(Nt, D)`` features."""
