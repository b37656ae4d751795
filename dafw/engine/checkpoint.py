"""Checkpoints: atomic writes, safe loads, and a fingerprint of a model's weights."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dafw.engine.errors import ResumeError

CHECKPOINT_FORMAT = 1


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` to ``path`` so that a crash never leaves a half-written file.

    The payload goes to a temporary file in the same folder, is flushed to disk, and then
    replaces ``path`` in one ``os.replace``. ``payload`` must hold only tensors, numbers,
    strings and containers of them, so that ``load_checkpoint`` can read it with
    ``weights_only=True``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            torch.save({"format": CHECKPOINT_FORMAT, **payload}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint written by ``save_checkpoint``, onto the CPU, without unpickling code.

    Raises:
        ResumeError: The file is missing, unreadable, or of another format.
    """
    if not path.is_file():
        raise ResumeError(f"checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a damaged or foreign file
        raise ResumeError(f"cannot read checkpoint {path}: {error}") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ResumeError(
            f"{path} is not a dafw checkpoint of format {CHECKPOINT_FORMAT}; it was written by "
            "another program or another dafw version"
        )
    return payload


def state_fingerprint(module: nn.Module) -> str:
    """Return a SHA-256 digest of every parameter and buffer of ``module``, by name.

    Two modules with bit-identical weights and buffers give the same digest.
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        data = tensor.detach().to("cpu").contiguous()
        digest.update(str(data.dtype).encode())
        digest.update(data.view(-1).view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    return digest.hexdigest()
