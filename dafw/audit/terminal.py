"""The audit's terminal output: rich tables per target, with flags in red."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from dafw.audit.findings import CHECK_TITLES, Finding, TargetAudit
from dafw.audit.runner import AuditResult
from dafw.audit.tables import (
    BATCH_HEADER,
    LABEL_STATEMENT,
    METRIC_HEADER,
    SELECTION_HEADER,
    batch_rows,
    metric_rows,
    overlap_header,
    overlap_rows,
    selection_rows,
)


def _rich_table(
    title: str,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    row_styles: dict[int, str] | None = None,
) -> Table:
    table = Table(title=title, title_justify="left")
    for index, column in enumerate(header):
        table.add_column(column, justify="left" if index == 0 else "right")
    for index, row in enumerate(rows):
        # Text cells keep brackets in names and messages from being read as rich markup.
        table.add_row(*(Text(cell) for cell in row), style=(row_styles or {}).get(index))
    return table


def _finding_text(finding: Finding) -> Text:
    if finding.severity == "flag":
        return Text.assemble(("FLAG ", "bold red"), (finding.message, "red"))
    return Text.assemble(("note ", "yellow"), finding.message)


def rich_target(audit: TargetAudit, findings: list[Finding]) -> RenderableType:
    """Return the tables of one target, with its flags in red."""
    parts: list[RenderableType] = [
        Text(
            f"\n{audit.label}: {audit.dataset}, test split {audit.test_split} "
            f"({audit.test_images} images), adaptation split {audit.adapt_split}",
            style="bold",
        )
    ]
    if audit.batch is not None:
        flagged_kinds = {
            {"class_sorted_vs_shuffled": "class_sorted", "single_vs_shuffled": "single"}.get(
                spread.name
            )
            for spread in audit.batch.flagged
        }
        styles = {
            i: "red" for i, score in enumerate(audit.batch.scores) if score.kind in flagged_kinds
        }
        parts.append(_rich_table("batch composition", BATCH_HEADER, batch_rows(audit), styles))
    if audit.selection is not None:
        if audit.selection.available:
            choices = audit.selection.choices
            oracle = {i: "magenta" for i, c in enumerate(choices) if c.reads_target_labels}
            rows = selection_rows(audit, with_reason=False)
            parts.append(_rich_table("model selection", SELECTION_HEADER, rows, oracle))
            parts += [
                Text(f"{choice.label}: not applied, {choice.reason}", style="yellow")
                for choice in choices
                if choice.epoch is None
            ]
        else:
            parts.append(
                Text(f"model selection not available: {audit.selection.reason}", style="yellow")
            )
    if audit.overlap is not None:
        header = overlap_header(next(iter(audit.overlap.values())).max_distance)
        parts.append(_rich_table("data overlap", header, overlap_rows(audit)))
    if audit.metrics is not None:
        failed = {i: "red" for i, check in enumerate(audit.metrics) if not check.passed}
        parts.append(_rich_table("metric sanity", METRIC_HEADER, metric_rows(audit), failed))
    if audit.labels is not None:
        verdict = ("passed", "green") if audit.labels.passed else ("FAILED", "bold red")
        parts.append(Text.assemble("label isolation of the adaptation set: ", verdict))
    for check, reason in audit.skipped.items():
        parts.append(Text(f"{CHECK_TITLES[check]} not run: {reason}", style="yellow"))
    parts += [_finding_text(finding) for finding in findings]
    return Group(*parts)


def print_summary(
    result: AuditResult, console: Console, paths: tuple[Path, Path] | None = None
) -> None:
    """Print the overall verdict and where the report files are."""
    flags = result.flags
    if flags:
        console.print(f"[bold red]{len(flags)} flag(s) raised:[/]")
        for finding in flags:
            console.print(
                Text.assemble(
                    f"  {finding.target}, {CHECK_TITLES[finding.check]}: ", (finding.message, "red")
                )
            )
    else:
        console.print("[green]no flag raised[/]")
    console.print(LABEL_STATEMENT)
    if paths is not None:
        console.print(Text(f"audit written to {paths[0]} and {paths[1]}"))
