"""The ``none`` relational module: each sample keeps its own features."""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict

from dafw.components import Relational


class IdentityParams(BaseModel):
    """``none`` takes no parameters."""

    model_config = ConfigDict(extra="forbid", strict=True)


class IdentityRelational(Relational):
    """No message passing: ``forward(h)`` returns ``h`` and ``forward_star`` the query.

    Args:
        dim (int): Feature width D, kept for the common factory signature.

    Shape:
        - h: :math:`(N, D)`. Output: :math:`(N, D)`, the same tensor.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Return ``h`` unchanged."""
        return h

    def forward_star(self, query: torch.Tensor, neighbours: torch.Tensor) -> torch.Tensor:
        """Return ``query`` unchanged; ``neighbours`` are ignored."""
        return query


def build_identity(params: IdentityParams, dim: int) -> IdentityRelational:
    """Build ``none`` for features of width ``dim``."""
    return IdentityRelational(dim)
