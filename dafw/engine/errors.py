"""Errors raised while training or evaluating a run."""

from __future__ import annotations

from dafw.errors import DafwError


class TrainingError(DafwError):
    """A run that cannot start or go on: a bad device, a missing checkpoint, a broken run folder."""


class ResumeError(TrainingError):
    """A run folder that cannot be resumed as asked."""


class NonFiniteLossError(TrainingError):
    """A loss term became NaN or infinite; the run stopped before the optimiser step.

    Attributes:
        pair (str): Name of the (source, target) pair being trained.
        step (int): Zero-based optimiser step within the pair.
        term (str): Log key of the first non-finite term, such as ``loss/mmd``.
        value (float): The value of that term.
    """

    exit_code = 3

    def __init__(self, pair: str, step: int, term: str, value: float, checkpoint: str) -> None:
        super().__init__(
            f"{term} is {value} at step {step} of pair {pair}; training stopped before the "
            f"optimiser step. The last good checkpoint is {checkpoint}. Lower the learning "
            "rate or that term's weight, or enable train.grad_clip, then start again"
        )
        self.pair = pair
        self.step = step
        self.term = term
        self.value = value
