"""Headers and rows of the audit tables, shared by ``audit.md`` and the terminal output."""

from __future__ import annotations

from collections.abc import Callable

from dafw.audit.findings import ADAPTATION_VS_TEST, SOURCE_VS_TEST, TargetAudit
from dafw.audit.overlap import DISTANCE_PROFILE, OverlapResult

LABEL_STATEMENT = (
    "Target labels never enter training: `dafw run` draws the target batches of each pair "
    "from the target's adaptation set, an unlabelled dataset whose items are images only. "
    "Target test labels are read only to score the test split, and by the oracle selection "
    "rule, which is labelled as such."
)


def percent(value: float | None) -> str:
    """Format a fraction as a percentage with two decimals; None is ``n/a``."""
    return "n/a" if value is None else f"{100 * value:.2f}"


def decimal(value: float | None) -> str:
    """Format a value with four decimals; None is ``n/a``."""
    return "n/a" if value is None else f"{value:.4f}"


def batch_rows(audit: TargetAudit) -> list[list[str]]:
    """Rows of the batch-composition table: one per arrangement."""
    assert audit.batch is not None
    rows = []
    for score in audit.batch.scores:
        if score.error is not None:
            rows.append([score.name, str(score.batch_size), "", "n/a", "n/a", score.error])
            continue
        rows.append(
            [
                score.name,
                str(score.batch_size),
                str(score.last_batch_size),
                percent(score.accuracy),
                percent(score.macro_f1),
                str(score.changed_predictions),
            ]
        )
    return rows


BATCH_HEADER = ["arrangement", "batch size", "last batch", "accuracy %", "macro F1 %", "changed"]
SELECTION_HEADER = ["rule", "reads target labels", "epoch", "accuracy %", "macro F1 %", "vs last"]


def overlap_header(max_distance: int) -> list[str]:
    """Header of the overlap table for a near-identical threshold of ``max_distance`` bits."""
    bounds = "/".join(str(bound) for bound in DISTANCE_PROFILE)
    return [
        "compared",
        "test images",
        "identical files",
        "identical pixels",
        f"within {max_distance} bits",
        f"nearest within {bounds} bits",
    ]


METRIC_HEADER = [
    "scores",
    "reported accuracy",
    "recomputed accuracy",
    "reported AUROC",
    "AUROC of scores",
    "AUROC of hard labels",
    "result",
]
OVERLAP_TITLES = {
    SOURCE_VS_TEST: "source train vs test",
    ADAPTATION_VS_TEST: "adaptation vs test",
}


def selection_rows(audit: TargetAudit, with_reason: bool = True) -> list[list[str]]:
    """Rows of the model-selection table; the name of the oracle row starts with "oracle".

    A rule that could not be applied shows ``n/a``, and its reason in the last column when
    ``with_reason`` is set.
    """
    assert audit.selection is not None
    rows = []
    for choice in audit.selection.choices:
        if choice.epoch is None:
            last = (choice.reason or "n/a") if with_reason else "n/a"
            rows.append(
                [
                    choice.label,
                    "yes" if choice.reads_target_labels else "no",
                    "n/a",
                    "n/a",
                    "n/a",
                    last,
                ]
            )
            continue
        rows.append(
            [
                choice.label,
                "yes" if choice.reads_target_labels else "no",
                str(choice.epoch),
                percent(choice.target_accuracy),
                percent(choice.target_macro_f1),
                f"{choice.gap_to_last:+.2f}" if choice.gap_to_last is not None else "n/a",
            ]
        )
    return rows


def _share_formatter(result: OverlapResult) -> Callable[[int], str]:
    def share(count: int) -> str:
        return f"{count} ({100 * result.fraction(count):.2f} %)"

    return share


def overlap_rows(audit: TargetAudit) -> list[list[str]]:
    """Rows of the overlap table, with counts and percentages of the test images."""
    assert audit.overlap is not None
    rows = []
    for key, result in audit.overlap.items():
        share = _share_formatter(result)
        profile = "/".join(
            str(result.distance_profile.get(f"<={bound}", 0)) for bound in DISTANCE_PROFILE
        )
        title = OVERLAP_TITLES.get(key, key)
        if result.same_split:
            title += " (same split)"
        rows.append(
            [
                title,
                str(result.query_images),
                share(result.identical_files),
                share(result.identical_pixels),
                share(result.near_identical),
                profile,
            ]
        )
    return rows


def metric_rows(audit: TargetAudit) -> list[list[str]]:
    """Rows of the metric-sanity table."""
    rows = []
    for check in audit.metrics or []:
        rows.append(
            [
                check.name,
                decimal(check.reported_accuracy),
                decimal(check.recomputed_accuracy),
                decimal(check.reported_auroc),
                decimal(check.recomputed_auroc),
                decimal(check.hard_label_auroc),
                "ok" if check.passed else "FLAG",
            ]
        )
    return rows
