"""Scoring a trained model on a test split in batch mode and in single-image mode."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dafw.data import LabelledDataset
from dafw.engine.device import Precision
from dafw.engine.loaders import build_eval_loader, in_order_batches, shuffled_batches
from dafw.engine.metrics import classification_metrics, row_normalised
from dafw.engine.plots import plot_confusion
from dafw.model import DAModel
from dafw.recipe.schema import EvalSection

EVAL_MODES: tuple[str, ...] = ("batch", "single")


@dataclass
class Predictions:
    """Per-image outputs of one mode on one test split, in dataset order.

    Attributes:
        mode (str): ``batch`` or ``single``.
        probabilities (np.ndarray): ``(N, C)`` float32 softmax outputs.
        labels (np.ndarray): ``(N,)`` int64 true classes.
        keys (list[str]): Sample key of every image.
        batch_index (np.ndarray): ``(N,)`` test batch each image was scored in; in batch
            mode the batches are ring graphs, so this records which images shared one.
    """

    mode: str
    probabilities: np.ndarray
    labels: np.ndarray
    keys: list[str]
    batch_index: np.ndarray

    def save(self, path: Path, classes: tuple[str, ...]) -> None:
        """Write the predictions as a compressed ``.npz`` file (no pickled objects)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path,
            probabilities=self.probabilities,
            labels=self.labels,
            keys=np.asarray(self.keys, dtype=np.str_),
            batch_index=self.batch_index,
            classes=np.asarray(classes, dtype=np.str_),
            mode=np.asarray(self.mode),
        )

    @classmethod
    def load(cls, path: Path) -> Predictions:
        """Read predictions written by ``save``."""
        with np.load(path, allow_pickle=False) as data:
            return cls(
                mode=str(data["mode"]),
                probabilities=data["probabilities"],
                labels=data["labels"],
                keys=data["keys"].tolist(),
                batch_index=data["batch_index"],
            )


@torch.no_grad()
def predict(
    model: DAModel,
    dataset: LabelledDataset,
    mode: str,
    settings: EvalSection,
    precision: Precision,
    workers: int = 0,
) -> Predictions:
    """Score every image of ``dataset`` with ``model`` in eval mode.

    ``batch``: the images are shuffled with ``settings.seed`` and cut into consecutive
    batches of ``settings.batch_size``, the last one keeping the remainder. Each batch is
    one ring graph. ``single``: each image is classified on its own through the prototype
    bank, so batching only sets the speed.

    Raises:
        ValueError: ``mode`` is not ``batch`` or ``single``.
    """
    size = len(dataset)
    if mode == "batch":
        batches = shuffled_batches(size, settings.batch_size, settings.seed)
    elif mode == "single":
        batches = in_order_batches(size, settings.batch_size)
    else:
        raise ValueError(f"unknown eval mode {mode!r}; expected one of: {', '.join(EVAL_MODES)}")

    was_training = model.training
    model.eval()
    probabilities = np.zeros((size, model.num_classes), dtype=np.float32)
    batch_index = np.zeros(size, dtype=np.int64)
    loader = build_eval_loader(
        dataset, batches, workers, pin_memory=precision.device.type == "cuda"
    )
    try:
        for number, (indices, (images, _)) in enumerate(zip(batches, loader, strict=True)):
            images = precision.to_device(images)
            with precision.autocast():
                logits = model(images).logits if mode == "batch" else model.predict_single(images)
            probabilities[indices] = torch.softmax(logits.float(), dim=1).cpu().numpy()
            batch_index[indices] = number
    finally:
        model.train(was_training)

    return Predictions(
        mode=mode,
        probabilities=probabilities,
        labels=np.asarray(dataset.labels, dtype=np.int64),
        keys=list(dataset.keys),
        batch_index=batch_index,
    )


def score(
    predictions: Predictions, classes: tuple[str, ...], context: str, warn: bool = True
) -> dict[str, Any]:
    """Return ``classification_metrics`` of ``predictions``; ``warn`` about absent classes."""
    return classification_metrics(
        predictions.probabilities, predictions.labels, classes, context=context, warn=warn
    )


def write_mode_outputs(
    folder: Path,
    predictions: Predictions,
    metrics: dict[str, Any],
    classes: tuple[str, ...],
    title: str,
) -> dict[str, str]:
    """Write the predictions, both confusion matrices (CSV) and their figure (PNG) of a mode.

    Returns:
        dict[str, str]: File kind to file name inside ``folder``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    counts = np.asarray(metrics["confusion"], dtype=np.int64)
    normalised = row_normalised(counts)
    files = {
        "predictions": "predictions.npz",
        "confusion_counts": "confusion_counts.csv",
        "confusion_normalised": "confusion_normalised.csv",
        "confusion_figure": "confusion.png",
    }
    predictions.save(folder / files["predictions"], classes)
    write_confusion_csv(folder / files["confusion_counts"], counts, classes, "{:d}")
    write_confusion_csv(folder / files["confusion_normalised"], normalised, classes, "{:.6f}")
    plot_confusion(counts, normalised, classes, title, folder / files["confusion_figure"])
    return files


def write_confusion_csv(
    path: Path, matrix: np.ndarray, classes: tuple[str, ...], number_format: str
) -> None:
    """Write a confusion matrix with a header row of predicted classes and a first column of
    true classes; undefined cells (absent classes) are left empty."""
    lines = ["true\\predicted," + ",".join(classes)]
    for name, row in zip(classes, matrix, strict=True):
        cells = [
            number_format.format(value.item()) if np.isfinite(value) else "" for value in row
        ]
        lines.append(",".join([name, *cells]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
