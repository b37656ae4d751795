"""Input checks shared by the aligners."""

from __future__ import annotations

import torch


def check_domain_features(source: torch.Tensor, target: torch.Tensor, dim: int) -> None:
    """Raise ValueError unless ``source`` and ``target`` are ``(N, dim)`` matrices with N >= 1."""
    for name, features in (("source", source), ("target", target)):
        if features.dim() != 2 or features.shape[1] != dim or features.shape[0] < 1:
            raise ValueError(
                f"{name} features must have shape (N >= 1, {dim}), got {tuple(features.shape)}"
            )
