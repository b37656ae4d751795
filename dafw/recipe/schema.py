"""Pydantic models of a recipe: the TOML file that describes one experiment."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class StrictModel(BaseModel):
    """Base of every recipe table: unknown keys and loose types are rejected."""

    model_config = ConfigDict(extra="forbid", strict=True, validate_default=True)


class ComponentSpec(StrictModel):
    """A component chosen by its registered name, with that component's parameters."""

    type: str = Field(min_length=1, description="registered name of the component")
    params: dict[str, Any] = Field(
        default_factory=dict, description="parameters, checked against the plugin's own model"
    )


class AlignerSpec(ComponentSpec):
    """An aligner and its weight in the total loss."""

    weight: float = Field(1.0, ge=0, description="factor applied to the aligner's loss")
    name: str | None = Field(
        None, min_length=1, description="prefix of the aligner's log keys; defaults to its type"
    )


class PrototypeSection(StrictModel):
    """Class prototypes used for single-image inference."""

    momentum: float = Field(
        0.9, ge=0, lt=1, description="EMA factor kept from the old prototype at each update"
    )
    top_k: int = Field(3, ge=1, description="prototypes a single image attends to")


class ModelSection(StrictModel):
    """The composed model: backbone, projection, relational module, classifier."""

    backbone: ComponentSpec
    relational: ComponentSpec = Field(default_factory=lambda: ComponentSpec(type="none"))
    projection_dim: int = Field(512, gt=0, description="width of the projection h")
    bn_policy: Literal["joint", "separate"] = Field(
        "joint",
        description="joint: one backbone forward over source and target together; "
        "separate: one forward per domain",
    )
    align_features: Literal["projection", "relational"] = Field(
        "projection", description="features the aligners read: h, or the relational output"
    )
    prototypes: PrototypeSection = Field(default_factory=PrototypeSection)


class TransformSection(StrictModel):
    """Preprocessing and training augmentation."""

    size: int = Field(100, gt=0, description="side of the square input, in pixels")
    hflip: float = Field(0.5, ge=0, le=1, description="probability of a horizontal flip")
    brightness: float = Field(0.1, ge=0, le=1, description="brightness jitter, +- this factor")
    mean: list[float] = Field(default_factory=lambda: [0.5, 0.5, 0.5], min_length=1)
    std: list[float] = Field(default_factory=lambda: [0.5, 0.5, 0.5], min_length=1)
    channels: Literal[1, 3] = Field(3, description="channels fed to the backbone")

    @model_validator(mode="after")
    def _check_normalisation(self) -> TransformSection:
        if len(self.mean) != self.channels or len(self.std) != self.channels:
            raise ValueError(
                f"mean and std need {self.channels} values each (one per channel), "
                f"got {len(self.mean)} and {len(self.std)}"
            )
        if any(value <= 0 for value in self.std):
            raise ValueError(f"std values must be positive, got {self.std}")
        return self


class DatasetSpec(ComponentSpec):
    """A dataset plugin and the folder it reads."""

    root: str = Field(
        "", description="dataset folder; a relative path resolves against the data root"
    )


class SourceSpec(DatasetSpec):
    """The labelled source dataset."""

    split: str = Field("train", min_length=1, description="labelled training split")
    val_split: str | None = Field(
        None, min_length=1, description="source split for label-free model selection"
    )


class TargetSpec(DatasetSpec):
    """One unlabelled target dataset."""

    name: str | None = Field(
        None, min_length=1, description="name of the target in reports; defaults to its type"
    )
    adapt_split: str = Field("train", min_length=1, description="unlabelled adaptation split")
    test_split: str = Field("test", min_length=1, description="split the target is scored on")

    @property
    def label(self) -> str:
        """Name of the target in logs and reports."""
        return self.name or self.type


class DataSection(StrictModel):
    """Source, targets and how their images are read."""

    source: SourceSpec
    targets: list[TargetSpec] = Field(min_length=1)
    transforms: TransformSection = Field(default_factory=TransformSection)
    cache: Literal["auto", "memory", "disk", "none"] = Field(
        "auto", description="where decoded images are kept between epochs"
    )
    cache_dir: str | None = Field(None, description="folder of the disk cache")
    workers: int = Field(0, ge=0, description="data-loader worker processes")
    skip_corrupt: bool = Field(False, description="skip unreadable images and count them")

    @model_validator(mode="after")
    def _check_target_names(self) -> DataSection:
        labels = [target.label for target in self.targets]
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise ValueError(
                f"target names must be unique, {', '.join(repeated)} repeats; "
                "set a distinct `name` in each [[data.targets]] table"
            )
        return self


class OptimizerSection(StrictModel):
    """AdamW settings."""

    lr: float = Field(1e-4, gt=0, description="initial learning rate")
    weight_decay: float = Field(0.01, ge=0, description="decoupled weight decay")
    betas: list[float] = Field(default_factory=lambda: [0.9, 0.999], min_length=2, max_length=2)
    eps: float = Field(1e-8, gt=0)


class ScheduleSection(StrictModel):
    """Learning-rate schedule, stepped once per optimiser step."""

    kind: Literal["warmup_cosine", "constant"] = "warmup_cosine"
    warmup_epochs: float = Field(5.0, ge=0, description="linear warm-up length, in epochs")
    min_lr: float = Field(0.0, ge=0, description="learning rate at the end of the cosine")


class TrainSection(StrictModel):
    """Training loop settings."""

    epochs: int = Field(32, gt=0)
    epoch_length: Literal["source", "target"] | int = Field(
        "source",
        description="steps per epoch: one pass over the source, over the target, "
        "or a fixed number",
    )
    batch_size: int = Field(64, gt=0, description="images per domain in each step")
    optimizer: OptimizerSection = Field(default_factory=OptimizerSection)
    schedule: ScheduleSection = Field(default_factory=ScheduleSection)
    grad_clip: float | None = Field(None, gt=0, description="max gradient norm; none disables")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: Literal["auto", "bf16", "fp16", "off"] = Field(
        "auto", description="mixed precision on CUDA; auto picks bf16 when supported"
    )
    channels_last: bool = True
    evaluate_every_epoch: bool = Field(
        False, description="score every epoch's model, for model-selection audits"
    )
    batch_order: Literal["shuffled", "class_sorted"] = Field(
        "shuffled",
        description="order inside each source batch; class_sorted sorts by label, so a ring "
        "graph links mostly same-class images (a protocol study, not a training method)",
    )

    @model_validator(mode="after")
    def _check_epoch_length(self) -> TrainSection:
        if isinstance(self.epoch_length, int) and self.epoch_length <= 0:
            raise ValueError(f"epoch_length must be a positive step count, got {self.epoch_length}")
        return self


class EvalSection(StrictModel):
    """Scoring settings of the target test splits."""

    mode: Literal["batch", "single"] = Field(
        "batch",
        description="batch: ring graph over shuffled test batches; single: one image at a "
        "time through the prototype bank",
    )
    batch_size: int = Field(64, gt=0)
    seed: int = Field(0, description="seed of the test batch order")


class AuditSection(StrictModel):
    """Settings of `dafw audit`."""

    threshold: float = Field(2.0, ge=0, description="flagged accuracy spread, in points")
    seeds: int = Field(3, gt=0, description="shuffled test orders to average over")
    batch_sizes: list[int] = Field(default_factory=lambda: [2, 8, 64, 256], min_length=1)


class Recipe(StrictModel):
    """A whole experiment."""

    name: str = Field(min_length=1, description="run name; defaults to the file name")
    description: str = ""
    seed: int = Field(0, description="seed of Python, NumPy, torch and every worker")
    model: ModelSection
    aligners: list[AlignerSpec] = Field(default_factory=list)
    data: DataSection
    train: TrainSection = Field(default_factory=TrainSection)
    eval: EvalSection = Field(default_factory=EvalSection)
    audit: AuditSection = Field(default_factory=AuditSection)

    @model_validator(mode="after")
    def _check_aligner_names(self) -> Recipe:
        names = [aligner.name or aligner.type for aligner in self.aligners]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(
                f"aligner names must be unique, {', '.join(repeated)} repeats; "
                "give each repeated aligner a distinct `name`"
            )
        return self
