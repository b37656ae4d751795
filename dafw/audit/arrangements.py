"""Test batch arrangements: orders, batch sizes and modes, and scoring a model under one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from dafw.engine.device import Precision
from dafw.engine.loaders import build_eval_loader, in_order_batches, shuffled_batches
from dafw.model import DAModel

ArrangementKind = Literal["shuffled", "class_sorted", "single", "batch_size"]


@dataclass(frozen=True)
class Arrangement:
    """One way to cut a test split into batches, and how each batch is scored.

    Attributes:
        name (str): Label in reports, such as ``shuffled, seed 1``.
        kind (str): ``shuffled``, ``class_sorted``, ``single`` or ``batch_size``.
        mode (str): ``batch``: each batch is one ring graph in the listed order.
            ``single``: each image on its own, through the prototype bank.
        batch_size (int): Images per batch; the last batch keeps the remainder.
        batches (list[list[int]]): Dataset indices of every batch, in ring order.
        seed (int | None): Seed of the shuffle, None for an unshuffled order.
    """

    name: str
    kind: ArrangementKind
    mode: Literal["batch", "single"]
    batch_size: int
    batches: list[list[int]]
    seed: int | None = None

    @property
    def last_batch_size(self) -> int:
        """Images in the last batch, which is short when the split size is not a multiple."""
        return len(self.batches[-1]) if self.batches else 0


def shuffled_arrangement(
    size: int, batch_size: int, seed: int, kind: ArrangementKind = "shuffled"
) -> Arrangement:
    """Cut a permutation drawn from ``seed`` into batches, as ``dafw run`` scores batch mode."""
    name = f"shuffled, seed {seed}" if kind == "shuffled" else f"batch size {batch_size}"
    return Arrangement(
        name, kind, "batch", batch_size, shuffled_batches(size, batch_size, seed), seed
    )


def class_sorted_arrangement(labels: np.ndarray, batch_size: int) -> Arrangement:
    """Sort the images by true class, keeping dataset order within a class, and cut into batches.

    A folder-per-class loader without shuffling gives this order, so most batches contain a
    single class.
    """
    order = np.argsort(np.asarray(labels), kind="stable").tolist()
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return Arrangement("sorted by class", "class_sorted", "batch", batch_size, batches)


def single_arrangement(size: int, batch_size: int) -> Arrangement:
    """Score every image alone through the prototype bank; the batch size affects only speed."""
    return Arrangement(
        "single image (prototypes)",
        "single",
        "single",
        batch_size,
        in_order_batches(size, batch_size),
    )


def audit_arrangements(
    labels: np.ndarray, batch_size: int, seed: int, seeds: int, batch_sizes: list[int]
) -> list[Arrangement]:
    """Build the arrangements of the batch-composition check.

    Args:
        labels (np.ndarray): ``(N,)`` true classes, used only to sort by class.
        batch_size (int): The recipe's ``eval.batch_size``.
        seed (int): The recipe's ``eval.seed``; the shuffles use seeds ``seed`` to
            ``seed + seeds - 1``, so the first one is the order ``dafw run`` scored.
        seeds (int): Number of shuffled orders.
        batch_sizes (list[int]): Batch sizes scored in the order of ``seed``.

    Returns:
        list[Arrangement]: Shuffled orders, the class-sorted order, single-image mode, then
        one shuffled order per batch size.
    """
    size = len(labels)
    arrangements = [
        shuffled_arrangement(size, batch_size, seed + offset) for offset in range(seeds)
    ]
    arrangements.append(class_sorted_arrangement(labels, batch_size))
    arrangements.append(single_arrangement(size, batch_size))
    arrangements += [
        shuffled_arrangement(size, size_of_batch, seed, kind="batch_size")
        for size_of_batch in batch_sizes
    ]
    return arrangements


@torch.no_grad()
def predict_arrangement(
    model: DAModel,
    dataset: Dataset,
    arrangement: Arrangement,
    precision: Precision,
    workers: int = 0,
) -> np.ndarray:
    """Score every image of ``dataset`` in eval mode, in the batches of ``arrangement``.

    Args:
        model (DAModel): The trained model; its train/eval mode is restored afterwards.
        dataset (Dataset): ``(image, label)`` items without augmentation; labels are ignored.
        arrangement (Arrangement): The batches and the mode.
        precision (Precision): Device, autocast and memory format.
        workers (int): Data-loader worker processes. Defaults to 0.

    Returns:
        np.ndarray: ``(N, C)`` float32 softmax probabilities in dataset order.

    Raises:
        EmptyPrototypeBankError: Single mode with a model that recorded no prototype.
    """
    was_training = model.training
    model.eval()
    probabilities = np.zeros((len(dataset), model.num_classes), dtype=np.float32)  # type: ignore[arg-type]
    loader = build_eval_loader(
        dataset, arrangement.batches, workers, pin_memory=precision.device.type == "cuda"
    )
    try:
        for indices, (images, _) in zip(arrangement.batches, loader, strict=True):
            images = precision.to_device(images)
            with precision.autocast():
                if arrangement.mode == "batch":
                    logits = model(images).logits
                else:
                    logits = model.predict_single(images)
            probabilities[indices] = torch.softmax(logits.float(), dim=1).cpu().numpy()
    finally:
        model.train(was_training)
    return probabilities
