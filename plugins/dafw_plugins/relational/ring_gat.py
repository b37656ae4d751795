"""Multi-head graph attention over the ring graph of a batch, in O(n) time and memory."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from dafw.components import Relational
from dafw_plugins.relational.ring import (
    Activation,
    check_features,
    check_star,
    gather_ring,
    make_activation,
    ring_index,
    ring_offsets,
)


class RingGATParams(BaseModel):
    """Parameters of ``ring_gat``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    heads: int = Field(4, ge=1, le=64, description="Number of attention heads K.")
    negative_slope: float = Field(
        0.2,
        ge=0.0,
        lt=1.0,
        description=(
            "Negative slope of the LeakyReLU in the attention score, and of the output "
            "activation when activation='leaky_relu'."
        ),
    )
    self_loop: bool = Field(
        True, description="Let each node attend to itself as well as to its two ring neighbours."
    )
    residual: bool = Field(False, description="Add the input h_i to the activated output.")
    activation: Activation = Field(
        "leaky_relu", description="Output activation sigma: leaky_relu, relu, elu or none."
    )
    dropout: float = Field(
        0.0, ge=0.0, lt=1.0, description="Dropout probability on the attention weights."
    )


class RingGAT(Relational):
    r"""Graph attention (Velickovic et al., 2018) over the ring graph of a mini-batch.

    Row ``i`` of the batch is a node linked to rows ``(i + 1) mod n`` and ``(i - 1) mod n``.
    Each head ``k`` has a projection :math:`W_k \in \mathbb{R}^{D \times D}` and an attention
    vector :math:`a_k \in \mathbb{R}^{2D}`:

    .. math::

        e_{ij}^k = \mathrm{LeakyReLU}\big(a_k^\top [W_k h_i \,\|\, W_k h_j]\big), \qquad
        \alpha_{ij}^k = \frac{\exp e_{ij}^k}{\sum_{l \in N(i)} \exp e_{il}^k},

        h'_i = \sigma\Big(\frac{1}{K} \sum_{k=1}^{K} \sum_{j \in N(i)} \alpha_{ij}^k W_k h_j\Big)
               \; [+\, h_i \text{ if residual}].

    :math:`N(i)` is the two ring neighbours, plus ``i`` itself when ``self_loop`` is set. In a
    ring of 2 both neighbours are the same node, which is counted once. In a ring of 1 the
    node's only neighbour is itself, with or without ``self_loop``, so its output is
    :math:`\sigma(\frac{1}{K}\sum_k W_k h_i)`. The neighbours are gathered with ``torch.roll``
    into an ``(n, m, K, D)`` tensor, ``m <= 3``, so time and memory are O(n); no ``n x n``
    matrix is formed. Scores and the softmax run in float32, with the row maximum
    subtracted by ``torch.softmax``, so half-precision inputs give finite weights.

    Args:
        dim (int): Feature width D of the input and the output.
        heads (int): Number of heads K. Defaults to 4.
        negative_slope (float): LeakyReLU slope of the score and of a ``leaky_relu``
            output activation. Defaults to 0.2.
        self_loop (bool): Include ``i`` in ``N(i)``. Defaults to True.
        residual (bool): Add ``h_i`` to the output. Defaults to False.
        activation (str): sigma: ``leaky_relu``, ``relu``, ``elu`` or ``none``.
            Defaults to ``leaky_relu``.
        dropout (float): Dropout probability on alpha in train mode. Defaults to 0.

    Inputs:
        - **h** (Tensor): node features, one row per sample, in ring order.

    Shape:
        - h: :math:`(N, D)`, :math:`N \geq 1`.
        - Output: :math:`(N, D)`.

    Examples:
        >>> layer = RingGAT(dim=16, heads=4)
        >>> layer(torch.randn(10, 16)).shape
        torch.Size([10, 16])
    """

    def __init__(
        self,
        dim: int,
        heads: int = 4,
        negative_slope: float = 0.2,
        self_loop: bool = True,
        residual: bool = False,
        activation: Activation = "leaky_relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.heads = heads
        self.negative_slope = negative_slope
        self.self_loop = self_loop
        self.residual = residual
        # weight[k] is W_k (applied as W_k h). attention_vector[k] is a_k: its first D entries
        # score node i, its last D entries score neighbour j.
        self.weight = nn.Parameter(torch.empty(heads, dim, dim))
        self.attention_vector = nn.Parameter(torch.empty(heads, 2 * dim))
        self.activation = make_activation(activation, negative_slope)
        self.dropout = nn.Dropout(dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw W_k and a_k from the Glorot uniform distribution."""
        for head in range(self.heads):
            nn.init.xavier_uniform_(self.weight[head])
        bound = math.sqrt(6.0 / (2 * self.dim + 1))
        nn.init.uniform_(self.attention_vector, -bound, bound)

    def project(self, h: torch.Tensor) -> torch.Tensor:
        """Return ``W_k h`` for every head: ``(..., D)`` to ``(..., K, D)``."""
        flat = F.linear(h, self.weight.reshape(self.heads * self.dim, self.dim))
        return flat.unflatten(-1, (self.heads, self.dim))

    def head_scores(self, projected: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Split ``a_k . [W_k h_i || W_k h_j]`` into its two float32 halves.

        Returns:
            tuple[Tensor, Tensor]: ``a_k[:D] . W_k h`` (as node i) and ``a_k[D:] . W_k h``
            (as neighbour j), each of shape ``(..., K)``.
        """
        with torch.autocast(device_type=projected.device.type, enabled=False):
            vector = self.attention_vector.float()
            values = projected.float()
            as_node = (values * vector[:, : self.dim]).sum(-1)
            as_neighbour = (values * vector[:, self.dim :]).sum(-1)
        return as_node, as_neighbour

    def normalise(self, as_node: torch.Tensor, as_neighbour: torch.Tensor) -> torch.Tensor:
        """Return alpha from ``(..., K)`` node scores and ``(..., m, K)`` neighbour scores."""
        scores = F.leaky_relu(as_node.unsqueeze(-2) + as_neighbour, self.negative_slope)
        return torch.softmax(scores, dim=-2)

    def aggregate(self, alpha: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """Return ``mean_k sum_j alpha_jk v_jk`` for alpha ``(.., m, K)``, v ``(.., m, K, D)``."""
        alpha = self.dropout(alpha).to(values.dtype)
        return (alpha.unsqueeze(-1) * values).sum(-3).mean(-2)

    def ring_alpha(self, projected: torch.Tensor, offsets: list[int]) -> torch.Tensor:
        """Return the ``(n, m, K)`` attention weights of the ring from ``(n, K, D)`` projections."""
        as_node, as_neighbour = self.head_scores(projected)
        return self.normalise(as_node, gather_ring(as_neighbour, offsets))

    def attention(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the ring attention weights and the neighbour each weight belongs to.

        Args:
            h (Tensor): ``(N, D)`` node features.

        Returns:
            tuple[Tensor, Tensor]: ``alpha`` of shape ``(N, m, K)`` in float32, before
            dropout, and ``index`` of shape ``(N, m)``: ``alpha[i, s, k]`` is the weight of
            node ``index[i, s]`` for node ``i`` and head ``k``.
        """
        offsets = ring_offsets(h.shape[0], self.self_loop)
        alpha = self.ring_alpha(self.project(h), offsets)
        return alpha, ring_index(h.shape[0], self.self_loop, device=h.device)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Update each row of ``h`` ``(N, D)`` from its ring neighbours; returns ``(N, D)``."""
        check_features(h, self.dim)
        offsets = ring_offsets(h.shape[0], self.self_loop)
        projected = self.project(h)
        alpha = self.ring_alpha(projected, offsets)
        updated = self.activation(self.aggregate(alpha, gather_ring(projected, offsets)))
        return updated + h if self.residual else updated

    def star_alpha(
        self, query: torch.Tensor, neighbours: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the star-graph weights ``(B, m, K)`` and the ``(B, m, K, D)`` projected nodes.

        The nodes are the query itself (first, when ``self_loop`` is set or there are no
        neighbours) followed by its ``P`` neighbours; ``K`` is the number of heads.
        """
        check_star(query, neighbours, self.dim)
        if self.self_loop or neighbours.shape[1] == 0:
            nodes = torch.cat([query.unsqueeze(1), neighbours], dim=1)
        else:
            nodes = neighbours

        projected_query = self.project(query)
        projected_nodes = self.project(nodes)
        as_node, _ = self.head_scores(projected_query)
        _, as_neighbour = self.head_scores(projected_nodes)
        return self.normalise(as_node, as_neighbour), projected_nodes

    def forward_star(self, query: torch.Tensor, neighbours: torch.Tensor) -> torch.Tensor:
        """Update each query ``(B, D)`` from its neighbours ``(B, P, D)``; returns ``(B, D)``.

        The same W_k and a_k are used as on the ring. ``N(q)`` is the ``P`` neighbours, plus
        ``q`` when ``self_loop`` is set. With no neighbours the query attends to itself.
        """
        alpha, projected_nodes = self.star_alpha(query, neighbours)
        updated = self.activation(self.aggregate(alpha, projected_nodes))
        return updated + query if self.residual else updated

    def extra_repr(self) -> str:
        return (
            f"dim={self.dim}, heads={self.heads}, negative_slope={self.negative_slope}, "
            f"self_loop={self.self_loop}, residual={self.residual}"
        )


def build_ring_gat(params: RingGATParams, dim: int) -> RingGAT:
    """Build ``ring_gat`` for features of width ``dim``."""
    return RingGAT(dim, **params.model_dump())
