"""Registers the first-party backbones."""

from __future__ import annotations

from functools import partial

from dafw import hookimpl
from dafw.registry import Registrar
from dafw_plugins.backbones.base import BackboneParams
from dafw_plugins.backbones.small_cnn import SmallCNN, SmallCNNParams
from dafw_plugins.backbones.torchvision_backbones import build_torchvision_backbone

SUMMARIES = {
    "resnet18": "ResNet-18 from torchvision, pooled 512-d embedding",
    "resnet50": "ResNet-50 from torchvision, pooled 2048-d embedding",
    "convnext_tiny": "ConvNeXt-Tiny from torchvision, pooled and normalised 768-d embedding",
}


@hookimpl
def dafw_register(registrar: Registrar) -> None:
    """Add ``resnet18``, ``resnet50``, ``convnext_tiny`` and ``small_cnn``."""
    for name, summary in SUMMARIES.items():
        registrar.add(
            "backbone",
            name,
            summary=summary,
            params=BackboneParams,
            factory=partial(build_torchvision_backbone, name),
        )
    registrar.add(
        "backbone",
        "small_cnn",
        summary="Small CNN (conv-BN-ReLU blocks) for tests and CPU runs",
        params=SmallCNNParams,
        factory=SmallCNN,
    )
