"""Image transforms: resize, augmentation, channel matching and normalisation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import nn
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F


@dataclass(frozen=True)
class TransformConfig:
    """Settings of the preprocessing pipeline, without any validation library.

    Attributes:
        size (int): Output height and width in pixels. Defaults to 100.
        hflip (float): Probability of a horizontal flip when training. Defaults to 0.5.
        brightness (float): Brightness jitter when training: the factor is drawn
            uniformly from ``[1 - brightness, 1 + brightness]``. Defaults to 0.1.
        mean (tuple[float, ...]): Per-channel mean subtracted after scaling to ``[0, 1]``;
            one value is used for every channel. Defaults to ``(0.5,)``.
        std (tuple[float, ...]): Per-channel standard deviation, as ``mean``.
            Defaults to ``(0.5,)``.
        channels (int): Output channels, 1 or 3; grey images are repeated to 3 and colour
            images are converted to grey for 1. Defaults to 3.
    """

    size: int = 100
    hflip: float = 0.5
    brightness: float = 0.1
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)
    channels: int = 3

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> TransformConfig:
        """Build a config from a mapping such as a recipe table; unknown keys raise.

        Raises:
            ValueError: A key is not a field of ``TransformConfig``.
        """
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown transform setting(s) {', '.join(unknown)}; "
                f"expected some of: {', '.join(sorted(known))}"
            )
        converted = dict(values)
        for name in ("mean", "std"):
            if name in converted:
                converted[name] = _as_tuple(converted[name])
        return cls(**converted)


class MatchChannels(nn.Module):
    """Repeat a grey ``(1, H, W)`` image to ``(3, H, W)``, or convert RGB to grey.

    Args:
        channels (int): Output channels, 1 or 3.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        self.channels = channels

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Return ``image`` with ``channels`` channels."""
        current = image.shape[-3]
        if current == self.channels:
            return image
        if current == 1 and self.channels == 3:
            return image.repeat(3, 1, 1)
        if current == 3 and self.channels == 1:
            return F.rgb_to_grayscale(image, num_output_channels=1)
        raise ValueError(f"cannot convert an image with {current} channels to {self.channels}")

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


def build_transforms(
    size: int = 100,
    hflip: float = 0.5,
    brightness: float = 0.1,
    mean: float | Sequence[float] = (0.5,),
    std: float | Sequence[float] = (0.5,),
    channels: int = 3,
    train: bool = False,
) -> v2.Compose:
    """Build the transform from uint8 ``(H, W, C)`` pixels to a normalised float tensor.

    Both pipelines resize to ``size x size`` (antialiased), match the channel count, scale
    to ``[0, 1]`` and normalise. The training pipeline also flips horizontally with
    probability ``hflip`` and jitters the brightness by up to ``brightness``; the eval
    pipeline is deterministic.

    Args:
        size (int): Output height and width in pixels. Defaults to 100.
        hflip (float): Flip probability, used when ``train``. Defaults to 0.5.
        brightness (float): Brightness jitter, used when ``train``. Defaults to 0.1.
        mean (float | Sequence[float]): Mean per channel, or one for all. Defaults to 0.5.
        std (float | Sequence[float]): Standard deviation per channel, or one for all.
            Defaults to 0.5.
        channels (int): Output channels, 1 or 3. Defaults to 3.
        train (bool): Build the augmenting training pipeline. Defaults to False.

    Returns:
        v2.Compose: Maps a numpy array, PIL image or uint8 ``(C, H, W)`` tensor to a float32
        tensor of shape ``(channels, size, size)``.

    Raises:
        ValueError: A setting is out of range, or ``mean``/``std`` have neither 1 nor
            ``channels`` values.
    """
    means = _per_channel("mean", mean, channels)
    stds = _per_channel("std", std, channels)
    if size < 1:
        raise ValueError(f"size must be at least 1 pixel, got {size}")
    if not 0.0 <= hflip <= 1.0:
        raise ValueError(f"hflip is a probability in [0, 1], got {hflip}")
    if not 0.0 <= brightness < 1.0:
        raise ValueError(f"brightness must be in [0, 1), got {brightness}")
    if any(value <= 0 for value in stds):
        raise ValueError(f"std values must be positive, got {stds}")

    steps: list[Any] = [
        v2.ToImage(),
        v2.Resize((size, size), antialias=True),
        MatchChannels(channels),
    ]
    if train and hflip > 0:
        steps.append(v2.RandomHorizontalFlip(p=hflip))
    steps.append(v2.ToDtype(torch.float32, scale=True))
    if train and brightness > 0:
        steps.append(v2.ColorJitter(brightness=brightness))
    steps.extend([v2.Normalize(mean=means, std=stds), v2.ToPureTensor()])
    return v2.Compose(steps)


def transforms_from_config(
    config: TransformConfig | Mapping[str, Any] | None = None, train: bool = False
) -> v2.Compose:
    """Build the transform described by ``config``; see ``build_transforms``.

    Args:
        config (TransformConfig | Mapping[str, Any] | None): Settings; None uses the
            defaults. Defaults to None.
        train (bool): Build the augmenting training pipeline. Defaults to False.
    """
    if config is None:
        config = TransformConfig()
    elif not isinstance(config, TransformConfig):
        config = TransformConfig.from_mapping(config)
    return build_transforms(
        size=config.size,
        hflip=config.hflip,
        brightness=config.brightness,
        mean=config.mean,
        std=config.std,
        channels=config.channels,
        train=train,
    )


def _as_tuple(value: float | Sequence[float]) -> tuple[float, ...]:
    if isinstance(value, (int, float)):
        return (float(value),)
    return tuple(float(item) for item in value)


def _per_channel(name: str, value: float | Sequence[float], channels: int) -> list[float]:
    values = list(_as_tuple(value))
    if len(values) == 1:
        return values * channels
    if len(values) != channels:
        raise ValueError(f"{name} needs 1 or {channels} values, got {len(values)}: {values}")
    return values
