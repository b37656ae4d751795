"""Classifying image files one at a time with the model of a finished run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from dafw.data import decode_image_file
from dafw.engine.checkpoint import load_checkpoint
from dafw.engine.device import resolve_precision
from dafw.engine.domains import recipe_transforms
from dafw.engine.errors import ResumeError
from dafw.engine.run_dir import RunFolder
from dafw.engine.runner import load_run_recipe, pairs_of
from dafw.model import DAModel, build_model
from dafw.plugins import PluginSet


@dataclass
class ImagePrediction:
    """The class scores of one image.

    Attributes:
        path (Path): The image file.
        probabilities (dict[str, float]): Softmax probability of every class.
    """

    path: Path
    probabilities: dict[str, float]

    @property
    def predicted(self) -> str:
        """The class with the highest probability."""
        return max(self.probabilities, key=self.probabilities.__getitem__)


def predict_images(
    run_dir: Path, images: Sequence[Path], plugins: PluginSet, target: str | None = None
) -> tuple[str, list[ImagePrediction]]:
    """Classify each image on its own (single mode) with the last checkpoint of one pair.

    Each file is decoded with PIL, converted with the recipe's eval transforms (resize,
    channels, normalisation) and classified through the prototype bank, so an image's
    result does not depend on the other images.

    Args:
        run_dir (Path): Folder written by ``dafw run``.
        images (Sequence[Path]): Image files.
        plugins (PluginSet): Loaded plugins.
        target (str | None): Target whose pair's model to use; may be omitted when the run
            has a single target.

    Returns:
        tuple[str, list[ImagePrediction]]: The pair used and one prediction per image.

    Raises:
        ResumeError: ``target`` is missing or unknown, or the checkpoint is missing.
        DataError: An image file does not exist or cannot be decoded.
    """
    recipe = load_run_recipe(run_dir, plugins)
    pairs = {pair.target: pair for pair in pairs_of(recipe)}
    if target is None:
        if len(pairs) > 1:
            raise ResumeError(
                f"the run has {len(pairs)} targets, each with its own model; choose one with "
                f"--target ({', '.join(pairs)})"
            )
        target = next(iter(pairs))
    if target not in pairs:
        raise ResumeError(f"unknown target {target!r}; the run's targets are: {', '.join(pairs)}")
    pair = pairs[target]

    precision = resolve_precision(recipe.train)
    payload = load_checkpoint(RunFolder(run_dir.resolve()).last_checkpoint(pair.name))
    classes = tuple(payload["classes"])
    model: DAModel = build_model(recipe.model, plugins.registries, len(classes))
    model.load_state_dict(payload["model"])
    model.to(precision.device).eval()

    transform = recipe_transforms(recipe.data.transforms, train=False)
    predictions = []
    with torch.no_grad():
        for path in images:
            tensor = transform(decode_image_file(Path(path)))
            batch = precision.to_device(tensor.unsqueeze(0))
            with precision.autocast():
                logits = model.predict_single(batch)
            probabilities = torch.softmax(logits.float(), dim=1)[0].tolist()
            scores = dict(zip(classes, probabilities, strict=True))
            predictions.append(ImagePrediction(Path(path), scores))
    return pair.name, predictions
