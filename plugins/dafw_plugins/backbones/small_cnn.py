"""A small convolutional backbone for tests and CPU runs."""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from dafw_plugins.backbones.base import BackboneParams, FreezableBatchNormBackbone
from dafw_plugins.backbones.weights import load_backbone_weights, resolve_weights_file


class SmallCNNParams(BackboneParams):
    """Parameters of ``small_cnn``; ``pretrained`` accepts only 'none' or a local path."""

    width: int = Field(16, ge=1, le=1024, description="Channels of the first convolution.")
    depth: int = Field(
        3,
        ge=1,
        le=8,
        description="Number of convolution blocks; each doubles the channels and halves H, W.",
    )
    out_features: int = Field(128, ge=1, le=65536, description="Width of the embedding.")


class SmallCNN(FreezableBatchNormBackbone):
    """Stacked 3x3 convolution blocks, global average pooling and a linear layer.

    Each block is Conv(3x3, stride 2, padding 1), BatchNorm, ReLU; channels go
    ``width, 2*width, 4*width, ...``. A stride-2 convolution with padding 1 maps a 1x1 map
    to 1x1, so any input of at least 1x1 pixel works, including 8x8.

    Args:
        params (SmallCNNParams): Width, depth, output width, ``pretrained``, ``freeze_bn``.

    Raises:
        BackboneWeightsError: ``params.pretrained`` is a weights name, or a file that does
            not fit.
    """

    def __init__(self, params: SmallCNNParams) -> None:
        super().__init__(params.out_features, params.freeze_bn)
        weights_file = resolve_weights_file(None, params.pretrained)

        blocks: list[nn.Module] = []
        in_channels = 3
        for index in range(params.depth):
            channels = params.width * 2**index
            blocks += [
                nn.Conv2d(in_channels, channels, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(channels),
                nn.ReLU(inplace=True),
            ]
            in_channels = channels
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_channels, params.out_features)

        if weights_file is not None:
            load_backbone_weights(self, weights_file)
        self.train(self.training)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Embed ``images`` ``(N, 3, H, W)`` into ``(N, out_features)``."""
        pooled = self.pool(self.features(images)).flatten(1)
        return self.fc(pooled)
