"""Device, mixed precision and memory format chosen from the recipe's train section."""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch

from dafw.engine.errors import TrainingError
from dafw.recipe.schema import TrainSection

logger = logging.getLogger("dafw")


@dataclass(frozen=True)
class Precision:
    """Device, autocast dtype and memory format of a run.

    Attributes:
        device (torch.device): ``cpu`` or ``cuda:<local rank>``.
        amp_dtype (torch.dtype | None): Autocast dtype, or None for float32 throughout.
        channels_last (bool): Keep the model and the images in channels-last layout.
    """

    device: torch.device
    amp_dtype: torch.dtype | None = None
    channels_last: bool = False

    @property
    def uses_scaler(self) -> bool:
        """Whether float16 autocast needs a gradient scaler (bfloat16 does not)."""
        return self.amp_dtype == torch.float16

    @property
    def amp_name(self) -> str:
        """``bf16``, ``fp16`` or ``off``, for the report."""
        if self.amp_dtype == torch.bfloat16:
            return "bf16"
        if self.amp_dtype == torch.float16:
            return "fp16"
        return "off"

    def autocast(self) -> AbstractContextManager[object]:
        """Return the autocast context of the forward pass, or a no-op without AMP."""
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def to_device(self, images: torch.Tensor) -> torch.Tensor:
        """Move a batch of images to the device, in the chosen memory format."""
        images = images.to(self.device, non_blocking=self.device.type == "cuda")
        if self.channels_last and images.dim() == 4:
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    def describe(self) -> str:
        """Return a one-line description, such as ``cuda:0, AMP bf16, channels-last``."""
        parts = [str(self.device), f"AMP {self.amp_name}"]
        if self.channels_last:
            parts.append("channels-last")
        return ", ".join(parts)


def resolve_precision(train: TrainSection, local_rank: int = 0) -> Precision:
    """Pick the device, AMP dtype and memory format for ``train``.

    ``device = "auto"`` takes GPU ``local_rank`` when CUDA is available, else the CPU.
    On CUDA, ``amp = "auto"`` takes bfloat16 when the GPU supports it, else float16 (with a
    gradient scaler). On the CPU, AMP and channels-last are off whatever the recipe sets.

    Raises:
        TrainingError: ``device = "cuda"`` on a machine without CUDA.
    """
    cuda = torch.cuda.is_available()
    if train.device == "cuda" and not cuda:
        raise TrainingError(
            "train.device is 'cuda' but torch finds no CUDA device; set train.device to "
            "'auto' or 'cpu', or install a CUDA build of torch"
        )
    if train.device == "cpu" or not cuda:
        if train.amp in ("bf16", "fp16"):
            logger.warning("train.amp = %r is ignored on the CPU; training in float32", train.amp)
        return Precision(torch.device("cpu"))

    # NOTE: the CUDA branch below was not run here (no GPU in the test environment).
    device = torch.device("cuda", local_rank)
    amp_dtype: torch.dtype | None
    if train.amp == "off":
        amp_dtype = None
    elif train.amp == "bf16" or (train.amp == "auto" and torch.cuda.is_bf16_supported()):
        amp_dtype = torch.bfloat16
    else:
        amp_dtype = torch.float16
    return Precision(device, amp_dtype, train.channels_last)


def make_grad_scaler(precision: Precision) -> torch.amp.GradScaler:
    """Return a gradient scaler, enabled only for float16 autocast."""
    return torch.amp.GradScaler(precision.device.type, enabled=precision.uses_scaler)
