"""Neighbour lists of the ring graph over a batch, and the activations the modules share."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

Activation = Literal["leaky_relu", "relu", "elu", "none"]


def ring_offsets(n: int, self_loop: bool) -> list[int]:
    """Return the offsets ``o`` such that node ``i`` reads node ``(i + o) mod n``.

    Offsets ``+1`` and ``-1`` are the two ring neighbours. In a ring of 2 they are the same
    node, which is kept once. In a ring of 1 the only neighbour is the node itself, regardless
    of ``self_loop``. Offset 0, the self-loop, comes first when present.

    Args:
        n (int): Number of nodes, at least 1.
        self_loop (bool): Include offset 0.
    """
    if n < 1:
        raise ValueError(f"a ring needs at least one node, got n={n}")
    if n == 1:
        return [0]
    neighbours = [1, -1] if n >= 3 else [1]
    return [0, *neighbours] if self_loop else neighbours


def ring_index(n: int, self_loop: bool, device: torch.device | None = None) -> torch.Tensor:
    """Return the ``(n, m)`` node indices that each node reads, in ``ring_offsets`` order."""
    offsets = torch.tensor(ring_offsets(n, self_loop), device=device)
    nodes = torch.arange(n, device=device)
    return (nodes[:, None] + offsets[None, :]) % n


def gather_ring(x: torch.Tensor, offsets: list[int]) -> torch.Tensor:
    """Stack the ring neighbours of every row: ``(n, ...)`` to ``(n, m, ...)``.

    Row ``i`` of the result contains ``x[(i + o) mod n]`` for each offset ``o``. ``torch.roll``
    keeps this at ``m`` copies of ``x``, never an ``n x n`` tensor.
    """
    return torch.stack([torch.roll(x, shifts=-offset, dims=0) for offset in offsets], dim=1)


def check_features(h: torch.Tensor, dim: int) -> None:
    """Raise ValueError unless ``h`` has shape ``(N, dim)`` with ``N >= 1``."""
    if h.dim() != 2 or h.shape[1] != dim or h.shape[0] < 1:
        raise ValueError(f"expected features of shape (N >= 1, {dim}), got {tuple(h.shape)}")


def check_star(query: torch.Tensor, neighbours: torch.Tensor, dim: int) -> None:
    """Raise ValueError unless ``query`` is ``(B, dim)`` and ``neighbours`` ``(B, K, dim)``."""
    check_features(query, dim)
    if neighbours.dim() != 3 or neighbours.shape[0] != query.shape[0] or neighbours.shape[2] != dim:
        raise ValueError(
            f"neighbours must have shape (B, K, D) = ({query.shape[0]}, K, {dim}), "
            f"got {tuple(neighbours.shape)}"
        )


def make_activation(name: Activation, negative_slope: float) -> nn.Module:
    """Return the activation module called ``name``; ``negative_slope`` is for LeakyReLU."""
    if name == "leaky_relu":
        return nn.LeakyReLU(negative_slope)
    if name == "relu":
        return nn.ReLU()
    if name == "elu":
        return nn.ELU()
    if name == "none":
        return nn.Identity()
    raise ValueError(f"unknown activation {name!r}; expected leaky_relu, relu, elu or none")
