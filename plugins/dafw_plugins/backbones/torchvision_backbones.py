"""ResNet-18, ResNet-50 and ConvNeXt-Tiny from torchvision, without their final linear layer."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torchvision
from torch import nn

from dafw_plugins.backbones.base import BackboneParams, FreezableBatchNormBackbone
from dafw_plugins.backbones.weights import load_backbone_weights, resolve_weights_file


@dataclass(frozen=True)
class Architecture:
    """How to turn one torchvision classifier into a backbone.

    Attributes:
        name (str): Torchvision model name, also the key of its weights enum.
        out_features (int): Width of the pooled embedding.
        head (str): Dotted path of the final linear layer, replaced by ``nn.Identity``.
    """

    name: str
    out_features: int
    head: str


ARCHITECTURES: dict[str, Architecture] = {
    "resnet18": Architecture("resnet18", 512, "fc"),
    "resnet50": Architecture("resnet50", 2048, "fc"),
    # ConvNeXt's head is LayerNorm2d, Flatten, Linear. The LayerNorm belongs to the pretrained
    # features, so only the Linear at index 2 is removed.
    "convnext_tiny": Architecture("convnext_tiny", 768, "classifier.2"),
}


class TorchvisionBackbone(FreezableBatchNormBackbone):
    """A torchvision classifier whose final linear layer is replaced by the identity.

    The network keeps its own global average pooling, so ``forward`` maps ``(N, 3, H, W)``
    images to ``(N, out_features)`` embeddings.

    Args:
        architecture (Architecture): Which torchvision model to build.
        params (BackboneParams): ``pretrained`` and ``freeze_bn``.

    Raises:
        BackboneWeightsError: ``params.pretrained`` names weights that cannot be loaded.
    """

    def __init__(self, architecture: Architecture, params: BackboneParams) -> None:
        super().__init__(architecture.out_features, params.freeze_bn)
        self.architecture = architecture.name
        # Resolved first, so a missing file fails before the network is built.
        weights_file = resolve_weights_file(architecture.name, params.pretrained)

        self.body = torchvision.models.get_model(architecture.name, weights=None)
        self.body.set_submodule(architecture.head, nn.Identity())
        if weights_file is not None:
            # Torchvision checkpoints include the classifier, whose keys the body no longer
            # has. They are dropped by prefix.
            head_prefix = architecture.head.split(".")[0] + "."
            load_backbone_weights(self.body, weights_file, head_prefixes=(head_prefix,))
        self.train(self.training)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Embed ``images`` ``(N, 3, H, W)`` into ``(N, out_features)``."""
        return self.body(images)


def build_torchvision_backbone(name: str, params: BackboneParams) -> TorchvisionBackbone:
    """Build the backbone registered as ``name``."""
    return TorchvisionBackbone(ARCHITECTURES[name], params)
