"""The audit's files: ``audit.json`` and the Markdown report ``audit.md``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dafw.audit.batching import BatchComposition
from dafw.audit.findings import ADAPTATION_VS_TEST, CHECK_TITLES, Finding, TargetAudit
from dafw.audit.labels import LabelIsolation
from dafw.audit.overlap import OverlapResult
from dafw.audit.runner import AuditResult
from dafw.audit.tables import (
    BATCH_HEADER,
    LABEL_STATEMENT,
    METRIC_HEADER,
    OVERLAP_TITLES,
    SELECTION_HEADER,
    batch_rows,
    metric_rows,
    overlap_header,
    overlap_rows,
    percent,
    selection_rows,
)
from dafw.engine.run_dir import write_json

AUDIT_JSON = "audit.json"
AUDIT_MARKDOWN = "audit.md"


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return lines + [""]


def _finding_line(finding: Finding, with_target: bool = True) -> str:
    where = f"{finding.target}, " if with_target else ""
    marker = "**FLAG**" if finding.severity == "flag" else "note"
    return f"- {marker} ({where}{CHECK_TITLES[finding.check]}): {finding.message}"


def _label_markdown(labels: LabelIsolation) -> list[str]:
    verdict = "passed" if labels.passed else "**FAILED**"
    lines = [
        "### Label isolation",
        "",
        f"Inspection {verdict} for the adaptation set ({labels.dataset_type}, "
        f"{labels.size} images):",
    ]
    lines += [f"- checked: {check}" for check in labels.checks]
    lines += [f"- **FLAG**: {problem}" for problem in labels.problems]
    return lines + [""]


def _batch_markdown(batch: BatchComposition, rows: list[list[str]]) -> list[str]:
    shuffled = batch.shuffled
    lines = [
        "### Batch composition",
        "",
        "Each row scores the same checkpoint on the test split cut into other batches. In "
        "batch mode every batch is one ring graph in the listed order; single-image mode "
        "classifies each image through the class prototypes. `changed` counts the test "
        "images whose predicted class differs from the first shuffled order, which repeats "
        "the run's own batch size and seed.",
        "",
    ]
    lines += _markdown_table(BATCH_HEADER, rows)
    lines += [
        f"Shuffled orders: mean accuracy {percent(shuffled['mean'])} %, standard deviation "
        f"{percent(shuffled['std'])} points, range {percent(shuffled['min'])} to "
        f"{percent(shuffled['max'])} %. The run reported {percent(batch.reported_accuracy)} % "
        f"in batch mode. Threshold: {batch.threshold:.2f} points.",
        "",
    ]
    if batch.method == "embeddings reused":
        lines += [
            f"Each test image was embedded once and only the relational module and classifier "
            f"ran per arrangement; re-embedding images in other batches changed the embeddings "
            f"by at most {batch.embedding_drift:.1e} (relative).",
            "",
        ]
    lines += [f"- {'**FLAG**' if s.flagged else 'ok'}: {s.message}" for s in batch.spreads]
    lines += [f"- note: {note}" for note in batch.notes]
    return lines + [""]


def _selection_markdown(audit: TargetAudit) -> list[str]:
    assert audit.selection is not None
    lines = ["### Model selection", ""]
    if not audit.selection.available:
        return lines + [f"Not available: {audit.selection.reason}.", ""]
    lines += [
        f"Target test accuracy, in the recipe's eval mode, of the epoch each rule picks among "
        f"{audit.selection.epochs} scored epochs (`vs last` in points). Only rules that read "
        "no target label give an unsupervised result; the oracle row shows how much "
        "selecting by test labels would add.",
        "",
    ]
    lines += _markdown_table(SELECTION_HEADER, selection_rows(audit))
    if audit.selection.entropy_source:
        lines += [f"Target entropies: {audit.selection.entropy_source}.", ""]
    return lines


def _example_line(example: dict[str, Any]) -> str:
    if example["identical_pixels"]:
        how = "identical pixels"
    else:
        how = f"{example['distance_bits']} bits apart"
    return f"- `{example['query']}` ~ `{example['reference']}` ({how})"


def _overlap_markdown(overlap: dict[str, OverlapResult], rows: list[list[str]]) -> list[str]:
    method = next(iter(overlap.values())).method
    lines = [
        "### Data overlap",
        "",
        "Identical files compare SHA-256 digests of the file bytes (of the pixel bytes for "
        "datasets held in one array), and identical pixels compare the decoded images. "
        f"Near-identical images have 64-bit {method} hashes within the given Hamming "
        "distance. Counts are of test images.",
        "",
    ]
    header = overlap_header(next(iter(overlap.values())).max_distance)
    lines += _markdown_table(header, rows)
    adaptation = overlap.get(ADAPTATION_VS_TEST)
    if adaptation is not None and adaptation.same_split:
        lines += [
            f"The adaptation split is the test split itself: all {adaptation.query_images} "
            "test images were used, without labels, for adaptation. The protocol is "
            "transductive, as JAFFE's usual protocol is.",
            "",
        ]
    for key, result in overlap.items():
        if result.examples and not result.same_split:
            lines.append(f"Examples, {OVERLAP_TITLES.get(key, key)} (test ~ reference):")
            lines += [_example_line(example) for example in result.examples]
            lines.append("")
    return lines


def _metrics_markdown(rows: list[list[str]]) -> list[str]:
    lines = [
        "### Metric sanity",
        "",
        "Accuracy and macro one-vs-rest AUROC recomputed from the stored test probabilities, "
        "with a rank-based AUROC independent of the one `dafw run` uses, next to the AUROC of "
        "one-hot predicted classes, which a hard-label computation would report.",
        "",
    ]
    return lines + _markdown_table(METRIC_HEADER, rows)


def _target_markdown(audit: TargetAudit, findings: list[Finding]) -> list[str]:
    lines = [
        f"## {audit.label}",
        "",
        f"Dataset `{audit.dataset}`, adaptation split `{audit.adapt_split}`, test split "
        f"`{audit.test_split}` ({audit.test_images} images). Audited checkpoint "
        f"`{audit.checkpoint.get('file')}` (epoch {audit.checkpoint.get('epoch')}).",
        "",
    ]
    lines += [_finding_line(finding, with_target=False) for finding in findings]
    if findings:
        lines.append("")
    for check, reason in audit.skipped.items():
        lines += [f"{CHECK_TITLES[check].capitalize()} was not run: {reason}.", ""]

    if audit.batch is not None:
        lines += _batch_markdown(audit.batch, batch_rows(audit))
    if audit.selection is not None:
        lines += _selection_markdown(audit)
    if audit.overlap is not None:
        lines += _overlap_markdown(audit.overlap, overlap_rows(audit))
    if audit.metrics is not None:
        lines += _metrics_markdown(metric_rows(audit))
    if audit.labels is not None:
        lines += _label_markdown(audit.labels)
    return lines


def markdown_report(result: AuditResult) -> str:
    """Render ``audit.md``: the summary of flags, the label statement, then every target."""
    settings = result.settings
    lines = [
        f"# Audit of {result.recipe}",
        "",
        f"Run folder `{result.run}`, re-evaluated on {result.device} in {result.seconds:.1f} s. "
        f"Checks: {', '.join(CHECK_TITLES[c] for c in settings['checks'])}. Flag threshold: "
        f"{settings['threshold_points']:.2f} accuracy points; shuffled test orders use seeds "
        f"{', '.join(str(s) for s in settings['shuffled_seeds'])}.",
        "",
        "## Summary",
        "",
    ]
    flags = result.flags
    if flags:
        lines += [
            f"{len(flags)} flag(s): the reported numbers may mislead for the reasons below.",
            "",
        ]
    else:
        lines += ["No flag was raised.", ""]
    lines += [_finding_line(finding) for finding in result.findings]
    if result.unfinished:
        lines += [
            "",
            f"Not audited, because their pairs have no checkpoint yet: "
            f"{', '.join(result.unfinished)}.",
        ]
    lines += ["", "## Target labels", "", LABEL_STATEMENT, ""]
    for audit in result.targets:
        if audit.labels is not None:
            state = "passed" if audit.labels.passed else "FAILED"
            lines.append(f"- {audit.label}: inspection of the adaptation set {state}.")
    lines.append("")

    for audit in result.targets:
        own = [finding for finding in result.findings if finding.target == audit.label]
        lines += _target_markdown(audit, own)
    return "\n".join(lines).rstrip() + "\n"


def write_outputs(result: AuditResult, folder: Path) -> tuple[Path, Path]:
    """Write ``audit.json`` and ``audit.md`` into ``folder``; return their paths."""
    json_path = folder / AUDIT_JSON
    markdown_path = folder / AUDIT_MARKDOWN
    write_json(json_path, result.to_dict())
    markdown_path.write_text(markdown_report(result), encoding="utf-8")
    return json_path, markdown_path
