"""Parameters and behaviour shared by every first-party backbone."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from dafw.components import Backbone


class BackboneParams(BaseModel):
    """Parameters that every first-party backbone accepts."""

    model_config = ConfigDict(extra="forbid", strict=True)

    pretrained: str = Field(
        "none",
        min_length=1,
        description=(
            "Initial weights: 'none' for random initialisation, a torchvision weights name "
            "such as 'IMAGENET1K_V1' or 'DEFAULT' (read from the torch hub cache, never "
            "downloaded), or the path of a local .pth state dict."
        ),
    )
    freeze_bn: bool = Field(
        False,
        description=(
            "Keep every BatchNorm layer in eval mode, so its running mean and variance stay "
            "fixed while the rest of the model trains. Its affine weights still train."
        ),
    )


class FreezableBatchNormBackbone(Backbone):
    """Backbone whose BatchNorm layers can stay in eval mode while the model trains.

    Args:
        out_features (int): Width of the embedding that ``forward`` returns.
        freeze_bn (bool): Keep BatchNorm running statistics fixed in train mode.
    """

    def __init__(self, out_features: int, freeze_bn: bool) -> None:
        super().__init__()
        self.out_features = out_features
        self.freeze_bn = freeze_bn

    def train(self, mode: bool = True) -> FreezableBatchNormBackbone:
        """Set train or eval mode; with ``freeze_bn``, BatchNorm layers stay in eval mode."""
        super().train(mode)
        if self.freeze_bn:
            for module in self.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self
