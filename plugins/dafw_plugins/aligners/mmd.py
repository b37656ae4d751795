"""Multi-kernel maximum mean discrepancy between source and target features."""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field

from dafw.components import AlignContext, Aligner, AlignerOutput
from dafw_plugins.aligners.features import check_domain_features


class MMDParams(BaseModel):
    """Parameters of ``mmd``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kernels: int = Field(5, ge=1, le=32, description="Number of Gaussian kernels summed.")
    kernel_mul: float = Field(
        2.0,
        gt=1.0,
        description=(
            "Ratio between neighbouring bandwidths: the bandwidths are the base bandwidth "
            "times kernel_mul ** (i - kernels // 2), i = 0 .. kernels - 1."
        ),
    )
    bandwidth_floor: float = Field(
        1e-12,
        gt=0.0,
        description=(
            "Lower bound of the base bandwidth (squared distance units), so a batch of "
            "identical points gives an MMD of 0 instead of NaN."
        ),
    )


def squared_distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Return the ``(N, M)`` squared Euclidean distances between rows, clamped at 0."""
    products = x @ y.T
    distances = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2 * products
    return distances.clamp_min(0.0)


def mmd_loss(
    source: torch.Tensor,
    target: torch.Tensor,
    kernels: int = 5,
    kernel_mul: float = 2.0,
    bandwidth_floor: float = 1e-12,
) -> torch.Tensor:
    """Return the biased multi-kernel squared MMD, computed in float32.

    See ``MMDAligner`` for the formula.
    """
    with torch.autocast(device_type=source.device.type, enabled=False):
        source = source.float()
        target = target.float()
        # Each block comes from its own call, so identical source and target give
        # bit-identical blocks and the estimate is exactly 0.
        source_source = squared_distances(source, source)
        target_target = squared_distances(target, target)
        source_target = squared_distances(source, target)

        total = source.shape[0] + target.shape[0]
        pair_sum = source_source.sum() + target_target.sum() + 2 * source_target.sum()
        pairs = max(total * (total - 1), 1)
        base = (pair_sum / pairs).detach().clamp_min(bandwidth_floor)
        bandwidths = [base * kernel_mul ** (i - kernels // 2) for i in range(kernels)]

        def kernel_mean(distances: torch.Tensor) -> torch.Tensor:
            return sum(torch.exp(-distances / bandwidth) for bandwidth in bandwidths).mean()

        return (
            kernel_mean(source_source) + kernel_mean(target_target) - 2 * kernel_mean(source_target)
        )


class MMDAligner(Aligner):
    r"""Multi-kernel maximum mean discrepancy (Gretton et al., 2012, "A Kernel Two-Sample
    Test"; multi-kernel form of Long et al., 2015, "Learning Transferable Features with Deep
    Adaptation Networks").

    The biased estimate over all pairs, with :math:`k = \sum_{u} k_u`:

    .. math::

        \widehat{\mathrm{MMD}}^2 = \frac{1}{N_s^2} \sum_{i, i'} k(s_i, s_{i'})
            + \frac{1}{N_t^2} \sum_{j, j'} k(t_j, t_{j'})
            - \frac{2}{N_s N_t} \sum_{i, j} k(s_i, t_j),
        \qquad k_u(x, y) = \exp\big(-\|x - y\|^2 / \sigma_u^2\big).

    The bandwidths are :math:`\sigma_u^2 = \beta \cdot m^{u - \lfloor U/2 \rfloor}`,
    :math:`u = 0 .. U-1` (``U = kernels``, ``m = kernel_mul``; by default
    :math:`2^{-2} .. 2^{2}`), where :math:`\beta` is the mean squared distance over the
    :math:`N(N-1)` ordered pairs of distinct rows of the joint batch (:math:`N = N_s + N_t`),
    floored at ``bandwidth_floor`` and treated as a constant in backpropagation. Identical
    source and target batches give exactly 0. The loss is computed in float32, also under
    autocast, and is not clamped, so rounding can make it slightly negative.

    Args:
        dim (int): Feature width D.
        kernels (int): Number of kernels U. Defaults to 5.
        kernel_mul (float): Ratio m between neighbouring bandwidths. Defaults to 2.
        bandwidth_floor (float): Lower bound of :math:`\beta`. Defaults to 1e-12.

    Inputs:
        - **source** (Tensor): source features.
        - **target** (Tensor): target features; the batch size may differ from the source.
        - **context** (AlignContext): unused.

    Shape:
        - source: :math:`(N_s, D)`, target: :math:`(N_t, D)`.
        - Output: ``AlignerOutput`` with a scalar loss and no scalars.
    """

    def __init__(
        self, dim: int, kernels: int = 5, kernel_mul: float = 2.0, bandwidth_floor: float = 1e-12
    ) -> None:
        super().__init__()
        self.dim = dim
        self.kernels = kernels
        self.kernel_mul = kernel_mul
        self.bandwidth_floor = bandwidth_floor

    def forward(
        self, source: torch.Tensor, target: torch.Tensor, context: AlignContext
    ) -> AlignerOutput:
        """Return the squared MMD between ``source`` and ``target`` features."""
        check_domain_features(source, target, self.dim)
        loss = mmd_loss(source, target, self.kernels, self.kernel_mul, self.bandwidth_floor)
        return AlignerOutput(loss=loss)


def build_mmd(params: MMDParams, dim: int) -> MMDAligner:
    """Build ``mmd`` for features of width ``dim``."""
    return MMDAligner(dim, **params.model_dump())
