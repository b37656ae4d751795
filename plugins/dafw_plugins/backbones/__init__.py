"""Image backbones: torchvision ResNet-18/50 and ConvNeXt-Tiny, and a small CNN for fast runs."""
