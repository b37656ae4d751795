"""One graph convolution over the ring graph of a batch, with symmetric normalisation."""

from __future__ import annotations

import math

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from dafw.components import Relational
from dafw_plugins.relational.ring import (
    Activation,
    check_features,
    check_star,
    make_activation,
    ring_index,
)


class RingGCNParams(BaseModel):
    """Parameters of ``gcn``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    activation: Activation = Field(
        "leaky_relu", description="Output activation sigma: leaky_relu, relu, elu or none."
    )
    negative_slope: float = Field(
        0.2, ge=0.0, lt=1.0, description="Negative slope when activation='leaky_relu'."
    )
    bias: bool = Field(True, description="Add a learnable bias after the aggregation.")


class RingGCN(Relational):
    r"""Graph convolution (Kipf & Welling, 2017) over the ring graph of a mini-batch.

    With :math:`A` the adjacency of the ring (row ``i`` linked to ``(i +- 1) mod n``),
    :math:`\hat A = A + I` and :math:`\hat D` its degree matrix:

    .. math::

        H' = \sigma\big(\hat D^{-1/2} \hat A \hat D^{-1/2} H W^\top + b\big).

    Every node of a ring has the same degree, so each nonzero weight is ``1/3`` for
    ``n >= 3``, ``1/2`` for ``n = 2`` (the two neighbours are one node, counted once) and
    ``1`` for ``n = 1``. The weights are computed per edge, in O(n); no ``n x n`` matrix is
    formed.

    ``forward_star`` applies the same normalisation to the star graph of a query ``q`` and
    its ``K`` neighbours, all with self-loops: ``q`` has degree ``K + 1`` and each neighbour
    degree 2, so
    :math:`q' = \sigma\big(W (\frac{q}{K+1} + \sum_k \frac{n_k}{\sqrt{2(K+1)}}) + b\big)`.

    Args:
        dim (int): Feature width D of the input and the output.
        activation (str): sigma: ``leaky_relu``, ``relu``, ``elu`` or ``none``.
            Defaults to ``leaky_relu``.
        negative_slope (float): Slope of a ``leaky_relu`` activation. Defaults to 0.2.
        bias (bool): Learn the bias ``b``. Defaults to True.

    Inputs:
        - **h** (Tensor): node features, one row per sample, in ring order.

    Shape:
        - h: :math:`(N, D)`, :math:`N \geq 1`.
        - Output: :math:`(N, D)`.
    """

    def __init__(
        self,
        dim: int,
        activation: Activation = "leaky_relu",
        negative_slope: float = 0.2,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.linear = nn.Linear(dim, dim, bias=False)
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None
        self.activation = make_activation(activation, negative_slope)

    @staticmethod
    def normalised_adjacency(
        n: int, device: torch.device | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the nonzeros of ``D^-1/2 (A + I) D^-1/2`` for a ring of ``n`` nodes.

        Returns:
            tuple[Tensor, Tensor]: ``index`` ``(n, m)`` and ``weight`` ``(n, m)``: row ``i``
            of the normalised adjacency is ``weight[i, s]`` at column ``index[i, s]``.
        """
        index = ring_index(n, self_loop=True, device=device)
        degree = torch.bincount(index.flatten(), minlength=n).to(torch.float32)
        inverse_sqrt = degree.rsqrt()
        return index, inverse_sqrt[:, None] * inverse_sqrt[index]

    @staticmethod
    def star_weights(neighbour_count: int) -> tuple[float, float]:
        """Return the normalised weights of the query and of each neighbour in a star graph."""
        query_degree = neighbour_count + 1
        return 1.0 / query_degree, 1.0 / math.sqrt(2.0 * query_degree)

    def finish(self, aggregated: torch.Tensor) -> torch.Tensor:
        """Add the bias and apply the activation."""
        if self.bias is not None:
            aggregated = aggregated + self.bias
        return self.activation(aggregated)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Convolve ``h`` ``(N, D)`` over the ring graph; returns ``(N, D)``."""
        check_features(h, self.dim)
        transformed = self.linear(h)
        index, weight = self.normalised_adjacency(h.shape[0], device=h.device)
        weight = weight.to(transformed.dtype)
        aggregated = (weight.unsqueeze(-1) * transformed[index]).sum(1)
        return self.finish(aggregated)

    def forward_star(self, query: torch.Tensor, neighbours: torch.Tensor) -> torch.Tensor:
        """Convolve each query ``(B, D)`` with its neighbours ``(B, K, D)``; returns ``(B, D)``."""
        check_star(query, neighbours, self.dim)
        query_weight, neighbour_weight = self.star_weights(neighbours.shape[1])
        mixed = query_weight * query + neighbour_weight * neighbours.sum(1)
        return self.finish(self.linear(mixed))


def build_ring_gcn(params: RingGCNParams, dim: int) -> RingGCN:
    """Build ``gcn`` for features of width ``dim``."""
    return RingGCN(dim, **params.model_dump())
