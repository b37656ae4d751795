"""Deep CORAL: distance between the feature covariances of the two domains."""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict

from dafw.components import AlignContext, Aligner, AlignerOutput
from dafw_plugins.aligners.features import check_domain_features


class CoralParams(BaseModel):
    """``coral`` takes no parameters; its weight is set in the recipe's loss section."""

    model_config = ConfigDict(extra="forbid", strict=True)


def covariance(features: torch.Tensor) -> torch.Tensor:
    """Return the unbiased ``(D, D)`` covariance of the rows of ``features`` ``(N, D)``."""
    centred = features - features.mean(dim=0, keepdim=True)
    return centred.T @ centred / (features.shape[0] - 1)


def coral_loss(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Return :math:`\|C_s - C_t\|_F^2 / (4 d^2)`, computed in float32.

    Raises:
        ValueError: A domain has fewer than 2 samples, so its covariance is undefined.
    """
    if source.shape[0] < 2 or target.shape[0] < 2:
        raise ValueError(
            "CORAL needs at least 2 samples per domain to estimate a covariance, got "
            f"{source.shape[0]} source and {target.shape[0]} target samples"
        )
    with torch.autocast(device_type=source.device.type, enabled=False):
        dim = source.shape[1]
        difference = covariance(source.float()) - covariance(target.float())
        return (difference * difference).sum() / (4 * dim * dim)


class CoralAligner(Aligner):
    r"""Deep CORAL loss (Sun & Saenko, 2016, "Deep CORAL: Correlation Alignment for Deep
    Domain Adaptation").

    .. math::

        \mathcal{L}_{CORAL} = \frac{1}{4 d^2} \, \| C_s - C_t \|_F^2, \qquad
        C = \frac{1}{n - 1} (X - \bar X)^\top (X - \bar X),

    with :math:`C_s`, :math:`C_t` the unbiased covariances of the source and target
    features and :math:`d` the feature width. The loss is computed in float32, also under
    autocast.

    Args:
        dim (int): Feature width d.

    Inputs:
        - **source** (Tensor): source features.
        - **target** (Tensor): target features.
        - **context** (AlignContext): unused.

    Shape:
        - source: :math:`(N_s, d)`, target: :math:`(N_t, d)`, with :math:`N_s, N_t \geq 2`.
        - Output: ``AlignerOutput`` with a scalar loss and no scalars.

    Raises:
        ValueError: Fewer than 2 samples in a domain, or features of the wrong shape.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(
        self, source: torch.Tensor, target: torch.Tensor, context: AlignContext
    ) -> AlignerOutput:
        """Return the CORAL loss between ``source`` and ``target`` features."""
        check_domain_features(source, target, self.dim)
        return AlignerOutput(loss=coral_loss(source, target))


def build_coral(params: CoralParams, dim: int) -> CoralAligner:
    """Build ``coral`` for features of width ``dim``."""
    return CoralAligner(dim)
