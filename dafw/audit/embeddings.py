"""Scoring many arrangements from embeddings computed once, so the backbone runs once per image."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from dafw.audit.arrangements import Arrangement
from dafw.engine.device import Precision
from dafw.engine.loaders import build_eval_loader
from dafw.model import DAModel

# Largest relative difference between an embedding computed in two batches that still
# counts as the same, in float32 and under autocast (bfloat16 or float16).
FLOAT32_TOLERANCE = 1e-4
# NOTE: an estimate, not yet measured on a GPU: bfloat16 keeps 8 significant bits (a
# relative step of 2^-8), and rounding differences grow over the backbone's layers.
AUTOCAST_TOLERANCE = 5e-2


def embedding_tolerance(precision: Precision) -> float:
    """Return the tolerance of ``embedding_drift`` for the precision the model runs in."""
    return AUTOCAST_TOLERANCE if precision.amp_dtype is not None else FLOAT32_TOLERANCE


def _softmax(logits: torch.Tensor) -> np.ndarray:
    return torch.softmax(logits.float(), dim=1).cpu().numpy()


@torch.no_grad()
def embed_arrangement(
    model: DAModel,
    dataset: Dataset,
    arrangement: Arrangement,
    precision: Precision,
    workers: int = 0,
) -> tuple[torch.Tensor, np.ndarray]:
    """Score a batch-mode arrangement with full forward passes and keep every embedding.

    ``model.forward`` is ``head(embed(images))``, so calling the two parts here gives the
    same logits as ``predict_arrangement`` while keeping ``h``.

    Args:
        model (DAModel): The trained model, in eval mode.
        dataset (Dataset): ``(image, label)`` items without augmentation.
        arrangement (Arrangement): A batch-mode arrangement that covers every image once.
        precision (Precision): Device, autocast and memory format.
        workers (int): Data-loader worker processes. Defaults to 0.

    Returns:
        tuple[Tensor, np.ndarray]: Embeddings ``h`` ``(N, D)`` on the device, in the dtype
        the projection produced, and the ``(N, C)`` float32 probabilities.

    Raises:
        ValueError: ``arrangement`` is in single mode.
    """
    if arrangement.mode != "batch":
        raise ValueError(
            f"embeddings are taken from a batch-mode arrangement, not {arrangement.name!r}"
        )
    size = len(dataset)  # type: ignore[arg-type]
    probabilities = np.zeros((size, model.num_classes), dtype=np.float32)
    embeddings: torch.Tensor | None = None
    loader = build_eval_loader(
        dataset, arrangement.batches, workers, pin_memory=precision.device.type == "cuda"
    )
    for indices, (images, _) in zip(arrangement.batches, loader, strict=True):
        with precision.autocast():
            h = model.embed(precision.to_device(images))
            logits = model.head(h).logits
        if embeddings is None:
            embeddings = torch.zeros(size, h.shape[1], dtype=h.dtype, device=h.device)
        embeddings[torch.as_tensor(indices, device=h.device)] = h
        probabilities[indices] = _softmax(logits)
    assert embeddings is not None, "an arrangement has at least one batch"
    return embeddings, probabilities


@torch.no_grad()
def predict_from_embeddings(
    model: DAModel, embeddings: torch.Tensor, arrangement: Arrangement, precision: Precision
) -> np.ndarray:
    """Score ``arrangement`` from stored embeddings, running only the layers after ``embed``.

    Batch mode runs ``model.head`` over each batch in ring order. Single mode joins each
    embedding to its nearest prototypes and runs the relational module's star update and
    the classifier.

    Returns:
        np.ndarray: ``(N, C)`` float32 softmax probabilities in dataset order.

    Raises:
        EmptyPrototypeBankError: Single mode with a model that recorded no prototype.
    """
    probabilities = np.zeros((embeddings.shape[0], model.num_classes), dtype=np.float32)
    for indices in arrangement.batches:
        h = embeddings[torch.as_tensor(indices, device=embeddings.device)]
        with precision.autocast():
            if arrangement.mode == "batch":
                logits = model.head(h).logits
            else:
                # NOTE: these lines repeat DAModel.predict_single after its embed step; keep
                # the two in step when the model changes.
                neighbours, _ = model.prototypes.nearest(h, model.top_k)
                logits = model.classifier(model.relational.forward_star(h, neighbours))
        probabilities[indices] = _softmax(logits)
    return probabilities


@torch.no_grad()
def embedding_drift(
    model: DAModel,
    dataset: Dataset,
    embeddings: torch.Tensor,
    batches: list[list[int]],
    precision: Precision,
) -> float:
    """Embed ``batches`` again and return the largest relative change from ``embeddings``.

    A backbone in eval mode embeds each image on its own, so its embeddings do not depend
    on the batch beyond float rounding. A backbone that reads batch statistics at test
    time gives a large drift, and the stored embeddings must not be reused.

    Args:
        model (DAModel): The trained model, in eval mode.
        dataset (Dataset): ``(image, label)`` items without augmentation.
        embeddings (Tensor): ``(N, D)`` from ``embed_arrangement``.
        batches (list[list[int]]): Batches of other sizes and members than those embedded.
        precision (Precision): Device, autocast and memory format.

    Returns:
        float: ``max |h_new - h_stored|`` divided by ``max |h_stored|`` over the batches.
    """
    loader = build_eval_loader(dataset, batches, workers=0)
    largest_change = 0.0
    scale = float(embeddings.float().abs().max()) or 1.0
    for indices, (images, _) in zip(batches, loader, strict=True):
        with precision.autocast():
            again = model.embed(precision.to_device(images))
        stored = embeddings[torch.as_tensor(indices, device=embeddings.device)]
        change = float((again.float() - stored.float()).abs().max())
        largest_change = max(largest_change, change / scale)
    return largest_change
