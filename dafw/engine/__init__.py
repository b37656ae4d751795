"""Training, evaluation and the run folder behind `dafw run`, `dafw eval` and `dafw predict`."""

from dafw.engine.errors import NonFiniteLossError, ResumeError, TrainingError
from dafw.engine.runner import RunOutcome, evaluate_run, run_recipe

__all__ = [
    "NonFiniteLossError",
    "ResumeError",
    "RunOutcome",
    "TrainingError",
    "evaluate_run",
    "run_recipe",
]
