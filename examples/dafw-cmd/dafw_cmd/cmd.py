"""Central moment discrepancy between source and target features."""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field

from dafw.components import AlignContext, Aligner, AlignerOutput


class CmdParams(BaseModel):
    """Parameters of the CMD aligner."""

    model_config = ConfigDict(extra="forbid", strict=True)

    moments: int = Field(5, ge=1, le=10, description="highest central moment compared (K)")
    bound_width: float = Field(
        1.0, gt=0, description="width b - a of the interval the features lie in"
    )


class CentralMomentDiscrepancy(Aligner):
    r"""Central moment discrepancy (Zellinger et al., ICLR 2017).

    .. math::
        \mathrm{CMD}_K(X, Y) = \frac{\lVert E[X] - E[Y] \rVert_2}{|b - a|}
            + \sum_{k=2}^{K} \frac{\lVert c_k(X) - c_k(Y) \rVert_2}{|b - a|^k},
        \qquad c_k(X) = E\big[(X - E[X])^k\big]

    where the expectations are means over the batch, taken per feature dimension.

    Args:
        moments (int): Highest moment K. Defaults to 5.
        bound_width (float): Width of the interval [a, b] that bounds the features.
            Defaults to 1.0.

    Inputs:
        source: Source features, shape ``(Ns, D)``.
        target: Target features, shape ``(Nt, D)``; Nt may differ from Ns.

    Examples:
        >>> cmd = CentralMomentDiscrepancy(moments=3)
        >>> out = cmd(torch.zeros(4, 2), torch.zeros(5, 2), AlignContext(0, 10))
        >>> float(out.loss)
        0.0
    """

    def __init__(self, moments: int = 5, bound_width: float = 1.0) -> None:
        super().__init__()
        self.moments = moments
        self.bound_width = bound_width

    def forward(
        self, source: torch.Tensor, target: torch.Tensor, context: AlignContext
    ) -> AlignerOutput:
        source = source.float()
        target = target.float()
        source_mean = source.mean(dim=0)
        target_mean = target.mean(dim=0)
        loss = torch.linalg.vector_norm(source_mean - target_mean) / self.bound_width

        source_centred = source - source_mean
        target_centred = target - target_mean
        for order in range(2, self.moments + 1):
            source_moment = source_centred.pow(order).mean(dim=0)
            target_moment = target_centred.pow(order).mean(dim=0)
            difference = torch.linalg.vector_norm(source_moment - target_moment)
            loss = loss + difference / self.bound_width**order

        return AlignerOutput(loss=loss)


def build(params: CmdParams, dim: int) -> CentralMomentDiscrepancy:
    """Build the aligner from validated parameters; ``dim`` is not needed by CMD."""
    return CentralMomentDiscrepancy(moments=params.moments, bound_width=params.bound_width)
