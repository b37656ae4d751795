"""Handwritten digits bundled with scikit-learn, with an optional synthetic domain shift."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image, ImageFilter
from pydantic import Field

from dafw.data import ArraySource, ListedReader, Sample
from dafw.data.layout import stratified_split
from dafw_plugins.datasets.common import StrictParams

NAME = "digits"
SUMMARY = "scikit-learn's bundled 8x8 digits (1,797 images, no download), optionally shifted"

DIGIT_CLASSES: tuple[str, ...] = tuple(str(digit) for digit in range(10))
# Fixed, so that subsets "a" and "b" are complementary whatever the split seed is.
SUBSET_SEED = 20240607
SOURCE_VALUE_MAX = 16  # load_digits stores pixel values 0..16


class DigitsParams(StrictParams):
    """Parameters of the ``digits`` dataset."""

    shift: Literal["none", "rotate", "invert", "noise", "blur"] = Field(
        "none",
        description="domain shift applied to every image: rotate by 'angle', invert the "
        "grey levels, add Gaussian noise of 'noise_std', or blur with 'blur_radius'",
    )
    angle: float = Field(
        30.0, ge=-180.0, le=180.0, description="rotation of 'rotate', in degrees counter-clockwise"
    )
    noise_std: float = Field(
        0.25, gt=0.0, le=1.0, description="standard deviation of 'noise', as a fraction of 255"
    )
    blur_radius: float = Field(
        1.5, gt=0.0, le=10.0, description="Gaussian blur radius of 'blur', in output pixels"
    )
    image_size: int = Field(
        32,
        ge=8,
        le=256,
        description="side of the images in pixels (upscaled from 8x8 before the shift)",
    )
    subset: Literal["all", "a", "b"] = Field(
        "all",
        description="'a' and 'b' are complementary class-stratified halves of the 1,797 "
        "images; give the source one and the target the other so no image is in both",
    )
    test_fraction: float = Field(
        0.25, gt=0.0, lt=1.0, description="fraction of each class in the test split"
    )
    seed: int = Field(0, ge=0, description="seed of the train/test split and of the noise")


class DigitsReader(ListedReader):
    """Digits 0-9 with seeded stratified splits ``train`` and ``test``.

    The data root is ignored: the images ship inside scikit-learn.
    """

    name = NAME
    classes = DIGIT_CLASSES

    def __init__(self, params: DigitsParams, root: Path | None = None) -> None:
        super().__init__(None)
        from sklearn import __version__ as sklearn_version
        from sklearn.datasets import load_digits

        digits = load_digits()
        labels = digits.target.astype(int)
        positions = subset_positions(labels, params.subset)
        pixels = make_images(digits.images[positions], params)

        identity = (
            f"sklearn {sklearn_version} load_digits: subset={params.subset} "
            f"size={params.image_size} shift={shift_description(params)}"
        )
        prefix = f"load_digits[{params.subset}]"
        self.source = ArraySource(identity, pixels)
        subset_labels = labels[positions].tolist()
        train, test = stratified_split(subset_labels, params.test_fraction, params.seed)
        self.split_samples = {
            split: [Sample(ArraySource.row_key(prefix, i), subset_labels[i]) for i in rows]
            for split, rows in (("train", train), ("test", test))
        }
        self.notes.append(
            f"scikit-learn load_digits, subset {params.subset!r} ({len(positions)} images), "
            f"shift {shift_description(params)}; stratified split with "
            f"test_fraction={params.test_fraction}, seed={params.seed}. The data root is not used"
        )


def subset_positions(labels: np.ndarray, subset: str) -> np.ndarray:
    """Return the positions of ``subset``: everything, or one of two stratified halves."""
    if subset == "all":
        return np.arange(len(labels))
    first, second = stratified_split(labels.tolist(), 0.5, SUBSET_SEED)
    return np.asarray(first if subset == "a" else second)


def shift_description(params: DigitsParams) -> str:
    """Describe the shift and its parameter, such as ``rotate(angle=30.0)``."""
    detail = {
        "rotate": f"(angle={params.angle})",
        "noise": f"(noise_std={params.noise_std}, seed={params.seed})",
        "blur": f"(blur_radius={params.blur_radius})",
    }
    return params.shift + detail.get(params.shift, "")


def make_images(values: np.ndarray, params: DigitsParams) -> np.ndarray:
    """Scale 8x8 values 0..16 to uint8, upscale, and apply the shift.

    Returns:
        np.ndarray: uint8 images of shape ``(N, image_size, image_size, 1)``.
    """
    grey = np.round(values * (255.0 / SOURCE_VALUE_MAX)).astype(np.uint8)
    size = params.image_size
    rng = np.random.default_rng(params.seed)
    images = np.empty((len(grey), size, size, 1), dtype=np.uint8)
    for position, image in enumerate(grey):
        picture = Image.fromarray(image, mode="L").resize((size, size), Image.Resampling.BICUBIC)
        if params.shift == "rotate":
            picture = picture.rotate(params.angle, resample=Image.Resampling.BILINEAR)
        elif params.shift == "blur":
            picture = picture.filter(ImageFilter.GaussianBlur(params.blur_radius))
        pixels = np.asarray(picture, dtype=np.float64)
        if params.shift == "invert":
            pixels = 255.0 - pixels
        elif params.shift == "noise":
            pixels = pixels + rng.normal(0.0, params.noise_std * 255.0, pixels.shape)
        images[position, :, :, 0] = np.clip(np.round(pixels), 0, 255).astype(np.uint8)
    return images


PARAMS = DigitsParams


def build(params: DigitsParams, root: Path | None = None) -> DigitsReader:
    """Build the digits reader; ``root`` is accepted for the common signature and ignored."""
    return DigitsReader(params, root)
