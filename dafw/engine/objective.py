"""The training objective: source cross-entropy plus the weighted losses of the aligners."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from dafw.components import AlignContext, Aligner
from dafw.model import DAModel, build_component
from dafw.recipe.schema import AlignerSpec
from dafw.registry import Registries

TASK_KEY = "loss/task"
TOTAL_KEY = "loss/total"


def aligner_name(spec: AlignerSpec) -> str:
    """Return the aligner's log-key prefix: its recipe ``name``, else its type."""
    return spec.name or spec.type


@dataclass
class StepLosses:
    """The losses of one training step.

    Attributes:
        total (torch.Tensor): Scalar that is backpropagated.
        terms (dict[str, torch.Tensor]): Detached scalars by log key: ``loss/task``, one
            ``loss/<aligner>`` per aligner (before its weight), and ``loss/total``.
        scalars (dict[str, float]): Each aligner's own scalars, keyed ``<aligner>/<scalar>``.
    """

    total: torch.Tensor
    terms: dict[str, torch.Tensor] = field(default_factory=dict)
    scalars: dict[str, float] = field(default_factory=dict)


class AdaptationObjective(nn.Module):
    r"""The model and its aligners, trained together on one source and one target batch.

    .. math::

        \mathcal{L} = \mathrm{CE}(\text{source logits}, \text{source labels})
            + \sum_a w_a \, \mathcal{L}_a(f_s, f_t),

    with :math:`f_s, f_t` the features ``model.aligned_features`` picks and :math:`w_a` the
    recipe weight of aligner ``a``. Each step also folds the source embeddings ``h`` into
    the model's prototype bank. The target batch carries images only, so no target label
    can enter the loss.

    Args:
        model (DAModel): The composed model.
        aligners (list[tuple[str, float, Aligner]]): ``(name, weight, aligner)`` triples.
    """

    def __init__(self, model: DAModel, aligners: list[tuple[str, float, Aligner]]) -> None:
        super().__init__()
        self.model = model
        self.aligners = nn.ModuleDict({name: aligner for name, _, aligner in aligners})
        self.weights = {name: weight for name, weight, _ in aligners}

    def forward(
        self,
        source_images: torch.Tensor,
        source_labels: torch.Tensor,
        target_images: torch.Tensor,
        context: AlignContext,
    ) -> StepLosses:
        """Compute the losses of one step on ``(N, 3, H, W)`` batches and ``(N,)`` labels."""
        source, target = self.model.forward_domains(source_images, target_images)
        task = F.cross_entropy(source.logits.float(), source_labels)
        self.model.update_prototypes(source.h, source_labels)

        total = task
        terms = {TASK_KEY: task.detach()}
        scalars: dict[str, float] = {}
        source_features = self.model.aligned_features(source)
        target_features = self.model.aligned_features(target)
        for name, aligner in self.aligners.items():
            output = aligner(source_features, target_features, context)
            total = total + self.weights[name] * output.loss
            terms[f"loss/{name}"] = output.loss.detach()
            for key, value in output.scalars.items():
                scalars[f"{name}/{key}"] = float(value)
        terms[TOTAL_KEY] = total.detach()
        return StepLosses(total=total, terms=terms, scalars=scalars)


def build_objective(
    model: DAModel, specs: list[AlignerSpec], registries: Registries
) -> AdaptationObjective:
    """Build every aligner of the recipe for the model's feature width and wrap them."""
    aligners = [
        (
            aligner_name(spec),
            spec.weight,
            build_component(registries, "aligner", spec.type, spec.params, model.projection_dim),
        )
        for spec in specs
    ]
    return AdaptationObjective(model, aligners)
