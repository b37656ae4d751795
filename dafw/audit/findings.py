"""The per-target audit record and the flags and notes drawn from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from dafw.audit.batching import BatchComposition
from dafw.audit.labels import LabelIsolation
from dafw.audit.overlap import OverlapResult
from dafw.audit.sanity import MetricCheck
from dafw.audit.selection import ModelSelection

CHECKS: tuple[str, ...] = ("batch", "selection", "overlap", "metrics", "labels")
CHECK_TITLES: dict[str, str] = {
    "batch": "batch composition",
    "selection": "model selection",
    "overlap": "data overlap",
    "metrics": "metric sanity",
    "labels": "label isolation",
}
SOURCE_VS_TEST = "source_train_vs_test"
# Accuracy difference between the run's report and the audit's rescoring that is noted.
REPRODUCTION_TOLERANCE = 1e-6
ADAPTATION_VS_TEST = "adaptation_vs_test"


@dataclass
class Finding:
    """One result a reader must see: a red flag, or a note that explains the protocol.

    Attributes:
        target (str): Target name.
        check (str): One of ``CHECKS``.
        name (str): Short key, such as ``class_sorted_vs_shuffled``.
        severity (str): ``flag`` (the reported number may mislead) or ``note``.
        message (str): The finding with its numbers.
    """

    target: str
    check: str
    name: str
    severity: Literal["flag", "note"]
    message: str

    def to_dict(self) -> dict[str, Any]:
        """Return the finding as plain JSON-compatible data."""
        return dict(self.__dict__)


@dataclass
class TargetAudit:
    """Every check of one target.

    Attributes:
        label (str): Target name.
        pair (str): Pair name, such as ``rafdb_to_jaffe``.
        dataset (str): Registered dataset type.
        adapt_split (str): Split used, unlabelled, for adaptation.
        test_split (str): Split scored.
        test_images (int): Images in the test split.
        checkpoint (dict[str, Any]): File, epoch and step of the audited checkpoint.
        batch (BatchComposition | None): Batch-composition check.
        selection (ModelSelection | None): Model-selection check.
        overlap (dict[str, OverlapResult] | None): ``SOURCE_VS_TEST`` and
            ``ADAPTATION_VS_TEST``.
        metrics (list[MetricCheck] | None): One metric check per stored eval mode.
        labels (LabelIsolation | None): Label-isolation check.
        skipped (dict[str, str]): Checks not run, with the reason.
    """

    label: str
    pair: str
    dataset: str
    adapt_split: str
    test_split: str
    test_images: int = 0
    checkpoint: dict[str, Any] = field(default_factory=dict)
    batch: BatchComposition | None = None
    selection: ModelSelection | None = None
    overlap: dict[str, OverlapResult] | None = None
    metrics: list[MetricCheck] | None = None
    labels: LabelIsolation | None = None
    skipped: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the audit of the target as plain JSON-compatible data."""
        return {
            "pair": self.pair,
            "dataset": self.dataset,
            "adapt_split": self.adapt_split,
            "test_split": self.test_split,
            "test_images": self.test_images,
            "checkpoint": self.checkpoint,
            "batch_composition": self.batch.to_dict() if self.batch else None,
            "model_selection": self.selection.to_dict() if self.selection else None,
            "overlap": {key: value.to_dict() for key, value in self.overlap.items()}
            if self.overlap is not None
            else None,
            "metric_sanity": [check.to_dict() for check in self.metrics]
            if self.metrics is not None
            else None,
            "label_isolation": self.labels.to_dict() if self.labels else None,
            "skipped": self.skipped,
        }


def _overlap_findings(audit: TargetAudit) -> list[Finding]:
    findings: list[Finding] = []
    if audit.overlap is None:
        return findings
    label = audit.label

    source = audit.overlap.get(SOURCE_VS_TEST)
    if source is not None:
        identical = max(source.identical_files, source.identical_pixels)
        if identical:
            findings.append(
                Finding(
                    label,
                    "overlap",
                    "identical_source_images",
                    "flag",
                    f"{identical} of {source.query_images} test images are identical to a "
                    f"labelled source training image ({100 * source.fraction(identical):.2f} %).",
                )
            )
        if source.near_identical > identical:
            findings.append(
                Finding(
                    label,
                    "overlap",
                    "near_identical_source_images",
                    "note",
                    f"{source.near_identical} of {source.query_images} test images have a source "
                    f"training image within {source.max_distance} bits of {source.method}; "
                    "inspect the examples in audit.json before trusting the test accuracy.",
                )
            )

    adaptation = audit.overlap.get(ADAPTATION_VS_TEST)
    if adaptation is not None and adaptation.same_split:
        findings.append(
            Finding(
                label,
                "overlap",
                "transductive",
                "note",
                f"The adaptation split and the test split are the same split "
                f"({audit.test_split!r}): all {adaptation.query_images} test images were seen, "
                "without labels, during adaptation. The result is transductive.",
            )
        )
    elif adaptation is not None:
        identical = max(adaptation.identical_files, adaptation.identical_pixels)
        if identical:
            findings.append(
                Finding(
                    label,
                    "overlap",
                    "identical_adaptation_images",
                    "flag",
                    f"{identical} of {adaptation.query_images} test images are identical to an "
                    f"image of the adaptation split {audit.adapt_split!r} "
                    f"({100 * adaptation.fraction(identical):.2f} %), although the two splits "
                    "are meant to be disjoint.",
                )
            )
        if adaptation.near_identical > identical:
            findings.append(
                Finding(
                    label,
                    "overlap",
                    "near_identical_adaptation_images",
                    "note",
                    f"{adaptation.near_identical} of {adaptation.query_images} test images have "
                    f"an adaptation image within {adaptation.max_distance} bits of "
                    f"{adaptation.method}.",
                )
            )
    return findings


def collect_findings(audit: TargetAudit) -> list[Finding]:
    """Turn the check results of one target into flags and notes."""
    label = audit.label
    findings: list[Finding] = []

    if audit.batch is not None:
        for spread in audit.batch.flagged:
            findings.append(Finding(label, "batch", spread.name, "flag", spread.message))
        reported = audit.batch.reported_accuracy
        again = audit.batch.reproduced_accuracy
        if (
            reported is not None
            and again is not None
            and abs(reported - again) > REPRODUCTION_TOLERANCE
        ):
            findings.append(
                Finding(
                    label,
                    "batch",
                    "not_reproduced",
                    "note",
                    f"Scoring the checkpoint again with the run's own batch size and seed gives "
                    f"{100 * again:.2f} % accuracy, but the run reported {100 * reported:.2f} %. "
                    "Nondeterministic GPU kernels, another device or changed dataset files "
                    "can cause this.",
                )
            )

    if audit.selection is not None:
        if not audit.selection.available:
            findings.append(
                Finding(label, "selection", "unavailable", "note", audit.selection.reason or "")
            )
        else:
            oracle = next(c for c in audit.selection.choices if c.rule == "oracle")
            if oracle.gap_to_last is not None and oracle.gap_to_last > 0:
                findings.append(
                    Finding(
                        label,
                        "selection",
                        "oracle_gap",
                        "note",
                        f"Choosing the epoch by target test accuracy (oracle, epoch "
                        f"{oracle.epoch}) would report {oracle.gap_to_last:.2f} points more than "
                        "the last epoch; that number reads test labels and is not an "
                        "unsupervised result.",
                    )
                )

    findings += _overlap_findings(audit)

    for check in audit.metrics or []:
        for problem in check.problems:
            findings.append(Finding(label, "metrics", check.name, "flag", problem))

    if audit.labels is not None:
        for problem in audit.labels.problems:
            findings.append(Finding(label, "labels", "adaptation_set", "flag", problem))
    return findings
