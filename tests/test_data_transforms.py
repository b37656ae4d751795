"""Preprocessing pipelines: resize, channels, normalisation and training augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dafw.data import TransformConfig, build_transforms, transforms_from_config


def grey_image() -> np.ndarray:
    values = np.zeros((20, 20, 1), dtype=np.uint8)
    values[:, :10] = 255
    return values


def test_eval_output_shape_and_range() -> None:
    output = build_transforms(size=32)(grey_image())
    assert output.shape == (3, 32, 32)
    assert output.dtype == torch.float32
    assert type(output) is torch.Tensor
    assert output.min().item() == pytest.approx(-1.0)
    assert output.max().item() == pytest.approx(1.0)


def test_grey_is_repeated_to_three_equal_channels() -> None:
    output = build_transforms(size=20)(grey_image())
    assert torch.equal(output[0], output[1])
    assert torch.equal(output[1], output[2])


def test_normalisation_values_are_exact() -> None:
    output = build_transforms(size=20)(grey_image())
    assert output[0, 0, 0].item() == pytest.approx(1.0)  # white: (1 - 0.5) / 0.5
    assert output[0, 0, 19].item() == pytest.approx(-1.0)  # black: (0 - 0.5) / 0.5


def test_per_channel_mean_and_std() -> None:
    image = np.full((4, 4, 3), 255, dtype=np.uint8)
    output = build_transforms(size=4, mean=(0.0, 0.5, 1.0), std=(1.0, 0.5, 0.25))(image)
    assert output[:, 0, 0].tolist() == pytest.approx([1.0, 1.0, 0.0])


def test_one_channel_output_from_rgb() -> None:
    image = np.full((8, 8, 3), 128, dtype=np.uint8)
    output = build_transforms(size=8, channels=1)(image)
    assert output.shape == (1, 8, 8)


def test_eval_is_deterministic_and_unflipped() -> None:
    transform = build_transforms(size=20)
    outputs = [transform(grey_image()) for _ in range(5)]
    assert all(torch.equal(outputs[0], output) for output in outputs)
    assert outputs[0][0, 0, 0].item() == pytest.approx(1.0)


def test_train_flip_with_probability_one() -> None:
    flipped = build_transforms(size=20, hflip=1.0, brightness=0.0, train=True)(grey_image())
    plain = build_transforms(size=20)(grey_image())
    assert torch.equal(flipped, torch.flip(plain, dims=[2]))


def test_train_without_augmentation_equals_eval() -> None:
    train = build_transforms(size=20, hflip=0.0, brightness=0.0, train=True)
    assert torch.equal(train(grey_image()), build_transforms(size=20)(grey_image()))


def test_brightness_jitter_stays_within_bounds() -> None:
    image = np.full((8, 8, 1), 100, dtype=np.uint8)
    transform = build_transforms(size=8, hflip=0.0, brightness=0.1, train=True)
    torch.manual_seed(0)
    values = {round(transform(image)[0, 0, 0].item(), 5) for _ in range(40)}
    base = 100 / 255
    low, high = (base * 0.9 - 0.5) / 0.5, (base * 1.1 - 0.5) / 0.5
    assert len(values) > 10
    assert all(low - 1e-5 <= value <= high + 1e-5 for value in values)


def test_config_from_mapping_builds_same_pipeline() -> None:
    config = TransformConfig.from_mapping({"size": 16, "mean": [0.5, 0.5, 0.5], "std": 0.5})
    assert config.mean == (0.5, 0.5, 0.5)
    output = transforms_from_config(config)(grey_image())
    assert torch.equal(output, build_transforms(size=16)(grey_image()))


def test_config_rejects_unknown_keys() -> None:
    with pytest.raises(ValueError, match="unknown transform setting.*sizes"):
        TransformConfig.from_mapping({"sizes": 16})


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"mean": (0.5, 0.5)}, "mean needs 1 or 3 values"),
        ({"std": (0.0,)}, "std values must be positive"),
        ({"hflip": 1.5}, "hflip is a probability"),
        ({"size": 0}, "size must be at least 1"),
        ({"channels": 2}, "channels must be 1 or 3"),
    ],
)
def test_invalid_settings_are_rejected(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_transforms(**settings)
