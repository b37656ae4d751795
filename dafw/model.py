"""The composed domain adaptation model: backbone, projection, relational module, classifier."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import torch
from pydantic import BaseModel, ValidationError
from torch import nn

from dafw.components import Backbone, Relational
from dafw.errors import DafwError
from dafw.prototypes import PrototypeBank
from dafw.registry import Registries

logger = logging.getLogger("dafw")

BNPolicy = Literal["joint", "separate"]
AlignFeatures = Literal["projection", "relational"]


class ModelBuildError(DafwError):
    """A model component could not be built from its registry entry and parameters."""


@dataclass
class ComponentSpec:
    """A registry name and its parameters, as in a recipe's ``[model.backbone]`` table.

    Attributes:
        type (str): Name of the registry entry.
        params (dict[str, Any]): Keyword parameters, validated by the entry's model.
    """

    type: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class PrototypeSpec:
    """Prototype bank settings.

    Attributes:
        momentum (float): EMA weight of the old prototype, in ``[0, 1)``.
        top_k (int): Prototypes a single image attends to.
    """

    momentum: float = 0.9
    top_k: int = 3


@dataclass
class ModelSpec:
    """The model section of a recipe. Any object with these attributes is accepted.

    Attributes:
        backbone (ComponentSpec): Backbone registry entry and parameters.
        relational (ComponentSpec): Relational registry entry and parameters.
        projection_dim (int): Width D of the projection ``h``.
        bn_policy (str): ``joint``: one backbone pass over source and target together, so
            BatchNorm statistics mix both domains. ``separate``: one pass per domain.
        align_features (str): Features the aligners read: ``projection`` (h) or
            ``relational`` (z).
        prototypes (PrototypeSpec): Prototype bank settings.
    """

    backbone: ComponentSpec
    relational: ComponentSpec = field(default_factory=lambda: ComponentSpec("ring_gat"))
    projection_dim: int = 512
    bn_policy: BNPolicy = "joint"
    align_features: AlignFeatures = "projection"
    prototypes: PrototypeSpec = field(default_factory=PrototypeSpec)


class ModelOutput(NamedTuple):
    """Outputs of one forward pass.

    Attributes:
        h (Tensor): ``(N, D)`` projected embeddings, before the relational module.
        z (Tensor): ``(N, D)`` relational outputs.
        logits (Tensor): ``(N, C)`` class scores computed from ``z``.
    """

    h: torch.Tensor
    z: torch.Tensor
    logits: torch.Tensor


class DAModel(nn.Module):
    """Backbone, projection ``ReLU(W x + b)``, relational module over the batch, classifier.

    Args:
        backbone (Backbone): Image encoder with an ``out_features`` attribute.
        relational (Relational): Message passing over the ring graph of each batch.
        num_classes (int): Number of classes C.
        projection_dim (int): Width D of the projection. Defaults to 512.
        bn_policy (str): ``joint`` or ``separate``, see ``ModelSpec``. Defaults to ``joint``.
        align_features (str): ``projection`` or ``relational``. Defaults to ``projection``.
        prototype_momentum (float): EMA momentum of the prototype bank. Defaults to 0.9.
        top_k (int): Prototypes a single image attends to. Defaults to 3.
    """

    def __init__(
        self,
        backbone: Backbone,
        relational: Relational,
        num_classes: int,
        projection_dim: int = 512,
        bn_policy: BNPolicy = "joint",
        align_features: AlignFeatures = "projection",
        prototype_momentum: float = 0.9,
        top_k: int = 3,
    ) -> None:
        super().__init__()
        if bn_policy not in ("joint", "separate"):
            raise ValueError(f"bn_policy must be 'joint' or 'separate', got {bn_policy!r}")
        if align_features not in ("projection", "relational"):
            raise ValueError(
                f"align_features must be 'projection' or 'relational', got {align_features!r}"
            )
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        out_features = getattr(backbone, "out_features", None)
        if not isinstance(out_features, int):
            raise ValueError(
                f"backbone {type(backbone).__name__} has no integer 'out_features' attribute"
            )

        self.num_classes = num_classes
        self.projection_dim = projection_dim
        self.bn_policy = bn_policy
        self.align_features = align_features
        self.top_k = top_k

        self.backbone = backbone
        self.projection = nn.Sequential(nn.Linear(out_features, projection_dim), nn.ReLU())
        self.relational = relational
        self.classifier = nn.Linear(projection_dim, num_classes)
        self.prototypes = PrototypeBank(num_classes, projection_dim, prototype_momentum)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Return the projected embeddings ``h`` ``(N, D)`` of ``images`` ``(N, 3, H, W)``."""
        return self.projection(self.backbone(images))

    def head(self, h: torch.Tensor) -> ModelOutput:
        """Run the relational module over the ring of ``h`` in row order, then classify."""
        z = self.relational(h)
        return ModelOutput(h=h, z=z, logits=self.classifier(z))

    def forward(self, images: torch.Tensor) -> ModelOutput:
        """Classify ``images`` ``(N, 3, H, W)`` as one ring graph in the given batch order."""
        return self.head(self.embed(images))

    def forward_domains(
        self, source_images: torch.Tensor, target_images: torch.Tensor
    ) -> tuple[ModelOutput, ModelOutput]:
        """Run a source and a target batch, each domain as its own ring graph.

        With ``bn_policy="joint"`` the backbone runs once over both batches concatenated, so
        the images must have the same size. With ``"separate"`` it runs once per domain.

        Returns:
            tuple[ModelOutput, ModelOutput]: Source outputs, target outputs.
        """
        if self.bn_policy == "joint":
            source_count = source_images.shape[0]
            h = self.embed(torch.cat([source_images, target_images], dim=0))
            source_h, target_h = h[:source_count], h[source_count:]
        else:
            source_h = self.embed(source_images)
            target_h = self.embed(target_images)
        return self.head(source_h), self.head(target_h)

    def aligned_features(self, output: ModelOutput) -> torch.Tensor:
        """Return the features the aligners read: ``h`` or ``z``, per ``align_features``."""
        return output.h if self.align_features == "projection" else output.z

    def predict_single(self, images: torch.Tensor) -> torch.Tensor:
        """Classify each image on its own, through its nearest class prototypes.

        Each embedding ``h`` is joined in a star graph to its ``top_k`` most cosine-similar
        prototypes and updated by ``relational.forward_star``. In eval mode the result of
        an image does not depend on the other images of the batch.

        Args:
            images (Tensor): ``(B, 3, H, W)``, ``B >= 1``.

        Returns:
            Tensor: ``(B, C)`` logits.

        Raises:
            EmptyPrototypeBankError: No prototype has been recorded yet.
        """
        h = self.embed(images)
        neighbours, _ = self.prototypes.nearest(h, self.top_k)
        return self.classifier(self.relational.forward_star(h, neighbours))

    def update_prototypes(self, source_h: torch.Tensor, labels: torch.Tensor) -> None:
        """Fold labelled source embeddings ``(N, D)`` into the prototype bank."""
        self.prototypes.update(source_h.detach(), labels)


def build_component(registries: Registries, kind: str, name: str, params: Any, *args: Any) -> Any:
    """Build the component ``name`` of ``kind`` from its registry entry.

    Args:
        registries (Registries): Filled registries.
        kind (str): ``backbone``, ``relational`` or ``aligner``.
        name (str): Registry name.
        params (Any): A dict of parameters, or an instance of the entry's parameter model.
        *args (Any): Further factory arguments, such as the feature width of an aligner.

    Raises:
        RegistryError: ``name`` is not registered.
        ModelBuildError: The parameters are invalid.
    """
    entry = registries[kind].get(name)
    if isinstance(params, entry.params):
        validated = params
    else:
        if isinstance(params, BaseModel):
            params = params.model_dump()
        try:
            validated = entry.params.model_validate(dict(params or {}))
        except ValidationError as error:
            raise ModelBuildError(f"invalid parameters for {kind} {name!r}: {error}") from None
    logger.debug("building %s %r with %s", kind, name, validated)
    return entry.factory(validated, *args)


def build_model(spec: Any, registries: Registries, num_classes: int) -> DAModel:
    """Build a ``DAModel`` from a recipe's model section.

    Args:
        spec (Any): A ``ModelSpec`` or any object with the same attributes.
        registries (Registries): Registries filled by the plugins.
        num_classes (int): Number of classes C.

    Raises:
        RegistryError: A component name is not registered.
        ModelBuildError: A component's parameters are invalid.
    """
    backbone = build_component(registries, "backbone", spec.backbone.type, spec.backbone.params)
    relational = build_component(
        registries,
        "relational",
        spec.relational.type,
        spec.relational.params,
        spec.projection_dim,
    )
    return DAModel(
        backbone,
        relational,
        num_classes=num_classes,
        projection_dim=spec.projection_dim,
        bn_policy=spec.bn_policy,
        align_features=spec.align_features,
        prototype_momentum=spec.prototypes.momentum,
        top_k=spec.prototypes.top_k,
    )


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Return the number of parameter elements of ``module`` (buffers are not counted)."""
    return sum(
        parameter.numel()
        for parameter in module.parameters()
        if parameter.requires_grad or not trainable_only
    )
