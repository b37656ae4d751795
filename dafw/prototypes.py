"""Per-class prototypes of source embeddings, kept as an exponential moving average."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dafw.errors import DafwError


class EmptyPrototypeBankError(DafwError):
    """Single-image inference was requested before any prototype was recorded."""


class PrototypeBank(nn.Module):
    r"""Class prototypes :math:`p_c`, one per class, updated from labelled source embeddings.

    For each class :math:`c` present in a batch, with :math:`\bar h_c` the mean of the
    batch's embeddings of class :math:`c`:

    .. math::

        p_c \leftarrow \begin{cases}
            \bar h_c & \text{at the first batch that contains } c, \\
            \mu \, p_c + (1 - \mu) \, \bar h_c & \text{afterwards,}
        \end{cases}

    with :math:`\mu` the ``momentum``. ``prototypes`` and ``counts`` are buffers, so they
    are saved in the state dict. ``counts[c]`` is the number of embeddings of class ``c``
    seen so far. A class with count 0 has no prototype, so it is never returned as a neighbour.

    Args:
        num_classes (int): Number of classes C.
        dim (int): Embedding width D.
        momentum (float): mu, the weight of the old prototype, in ``[0, 1)``. Defaults to 0.9.
    """

    prototypes: torch.Tensor
    counts: torch.Tensor

    def __init__(self, num_classes: int, dim: int, momentum: float = 0.9) -> None:
        super().__init__()
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"prototype momentum must be in [0, 1), got {momentum}")
        self.num_classes = num_classes
        self.dim = dim
        self.momentum = momentum
        self.register_buffer("prototypes", torch.zeros(num_classes, dim))
        self.register_buffer("counts", torch.zeros(num_classes, dtype=torch.long))

    @torch.no_grad()
    def update(self, embeddings: torch.Tensor, labels: torch.Tensor) -> None:
        """Fold a labelled batch into the prototypes.

        Args:
            embeddings (Tensor): ``(N, D)`` source embeddings; they are detached here.
            labels (Tensor): ``(N,)`` class indices in ``[0, C)``.

        Raises:
            ValueError: Shapes disagree or a label is out of range.
        """
        if embeddings.dim() != 2 or embeddings.shape[1] != self.dim:
            raise ValueError(
                f"embeddings must have shape (N, {self.dim}), got {tuple(embeddings.shape)}"
            )
        if labels.shape != (embeddings.shape[0],):
            raise ValueError(
                f"labels must have shape ({embeddings.shape[0]},), got {tuple(labels.shape)}"
            )
        if labels.numel() == 0:
            return
        if labels.min() < 0 or labels.max() >= self.num_classes:
            raise ValueError(
                f"labels must be in [0, {self.num_classes}), got values from "
                f"{labels.min().item()} to {labels.max().item()}"
            )

        embeddings = embeddings.detach().to(self.prototypes.dtype)
        batch_counts = torch.bincount(labels, minlength=self.num_classes)
        sums = torch.zeros_like(self.prototypes).index_add_(0, labels, embeddings)
        present = batch_counts > 0
        means = sums[present] / batch_counts[present, None].to(sums.dtype)

        first = self.counts[present] == 0
        old = self.prototypes[present]
        blended = self.momentum * old + (1.0 - self.momentum) * means
        self.prototypes[present] = torch.where(first[:, None], means, blended)
        self.counts += batch_counts

    def initialised(self) -> torch.Tensor:
        """Return the ``(C,)`` boolean mask of classes that have a prototype."""
        return self.counts > 0

    def nearest(self, queries: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the ``k`` prototypes most cosine-similar to each query.

        Only classes with a prototype are candidates, so fewer than ``k`` come back when
        fewer classes have been seen.

        Args:
            queries (Tensor): ``(B, D)`` embeddings.
            k (int): Number of neighbours wanted.

        Returns:
            tuple[Tensor, Tensor]: Prototypes ``(B, k', D)`` in the queries' dtype and their
            class indices ``(B, k')``, most similar first, ``k' = min(k, seen classes)``.

        Raises:
            EmptyPrototypeBankError: No class has a prototype yet.
        """
        available = self.initialised()
        seen = int(available.sum())
        if seen == 0:
            raise EmptyPrototypeBankError(
                "the prototype bank is empty, so single-image inference has no neighbours; "
                "train with prototype updates first, or load a checkpoint that contains them"
            )

        similarity = F.normalize(queries.float(), dim=1) @ F.normalize(self.prototypes, dim=1).T
        similarity = similarity.masked_fill(~available[None, :], float("-inf"))
        classes = similarity.topk(min(k, seen), dim=1).indices
        return self.prototypes[classes].to(queries.dtype), classes

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, dim={self.dim}, momentum={self.momentum}"
