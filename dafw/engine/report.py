"""The results of a run: ``results.json``, ``report.md`` and the table printed on the terminal."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rich.table import Table

from dafw.engine.evaluation import EVAL_MODES
from dafw.engine.metrics import mean_over_targets, summary

# (metric, column title, shown as a percentage)
TABLE_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("accuracy", "accuracy %", True),
    ("mean_class_accuracy", "mean-class accuracy %", True),
    ("macro_f1", "macro F1 %", True),
    ("macro_auroc_ovr", "macro AUROC (OvR)", False),
)


def mode_order(headline: str) -> list[str]:
    """Return the eval modes with the recipe's ``eval.mode`` first."""
    return [headline, *[mode for mode in EVAL_MODES if mode != headline]]


def assemble_results(
    recipe_name: str,
    description: str,
    classes: Sequence[str],
    eval_settings: dict[str, Any],
    source: dict[str, Any],
    targets: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """Build the content of ``results.json`` from the per-target results.

    The mean over targets of every summary metric is computed per eval mode; a metric
    undefined for a target is left out of that mean.
    """
    means = {
        mode: mean_over_targets([summary(result["scores"][mode]) for result in targets.values()])
        for mode in EVAL_MODES
    }
    return {
        "recipe": recipe_name,
        "description": description,
        "classes": list(classes),
        "eval": eval_settings,
        "checkpoint_selection": "last",
        "source": source,
        "targets": targets,
        "mean": means,
    }


def format_value(value: float | None, percent: bool) -> str:
    """Format a metric as in a published table: ``88.04`` for percentages, ``0.9804`` else;
    an undefined value is ``n/a``."""
    if value is None:
        return "n/a"
    return f"{100 * value:.2f}" if percent else f"{value:.4f}"


def table_rows(results: dict[str, Any], mode: str) -> list[list[str]]:
    """Return one row per target and a last row ``mean`` for ``mode``."""
    rows = []
    for label, result in results["targets"].items():
        scores = result["scores"][mode]
        rows.append([label, *[format_value(scores[m], p) for m, _, p in TABLE_COLUMNS]])
    mean = results["mean"][mode]
    rows.append(["mean", *[format_value(mean[m], p) for m, _, p in TABLE_COLUMNS]])
    return rows


def mode_title(results: dict[str, Any], mode: str) -> str:
    """Describe how ``mode`` scored the test split."""
    settings = results["eval"]
    headline = " (the recipe's eval.mode)" if mode == settings["mode"] else ""
    if mode == "batch":
        return (
            f"batch mode{headline}: ring graphs over test batches of {settings['batch_size']} "
            f"in an order shuffled with seed {settings['seed']}"
        )
    return (
        f"single mode{headline}: each image alone, through the {settings['top_k']} nearest "
        "class prototypes"
    )


def rich_tables(results: dict[str, Any]) -> list[Table]:
    """Return one rich table per eval mode, the recipe's mode first."""
    tables = []
    source = results["source"]["dataset"]
    for mode in mode_order(results["eval"]["mode"]):
        table = Table(title=f"{results['recipe']}: source {source}, {mode_title(results, mode)}")
        table.add_column("target", style="bold")
        for _, title, _ in TABLE_COLUMNS:
            table.add_column(title, justify="right")
        rows = table_rows(results, mode)
        for row in rows[:-1]:
            table.add_row(*row)
        table.add_row(*rows[-1], style="bold", end_section=False)
        tables.append(table)
    return tables


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def markdown_report(results: dict[str, Any]) -> str:
    """Render ``results`` as ``report.md``: results tables, checkpoints, splits, dataset notes."""
    source = results["source"]
    lines = [f"# {results['recipe']}", ""]
    if results.get("description"):
        lines += [results["description"].strip(), ""]
    source_images = sum(source["report"]["counts"].get(source["split"], {}).values())
    lines += [
        f"Source: `{source['dataset']}`, labelled split `{source['split']}` ({source_images} "
        "images). One adaptation run "
        "per target, each from a fresh model. Accuracy, mean-class accuracy and macro F1 are "
        "percentages; the AUROC is the macro one-vs-rest AUROC of the softmax probabilities. "
        "Classes absent from a test split are left out of its macro averages.",
        "",
    ]

    for mode in mode_order(results["eval"]["mode"]):
        lines += [f"## Results, {mode_title(results, mode)}", ""]
        header = ["target", *[title for _, title, _ in TABLE_COLUMNS]]
        lines += _markdown_table(header, table_rows(results, mode))
        lines.append("")

    lines += ["## Checkpoints", ""]
    rows = [
        [
            label,
            f"`{result['checkpoint']['file']}`",
            str(result["checkpoint"]["epoch"]),
            str(result["checkpoint"]["step"]),
            result["checkpoint"]["selection"],
        ]
        for label, result in results["targets"].items()
    ]
    lines += _markdown_table(["target", "checkpoint", "epoch", "step", "selection"], rows)
    selections = {result["checkpoint"]["selection"] for result in results["targets"].values()}
    if selections == {"last"}:
        lines += ["", "Every number above comes from the checkpoint of the last epoch.", ""]
    else:
        lines += ["", "Each target's numbers come from the checkpoint listed for it.", ""]

    selection = selection_rows(results)
    if selection:
        lines += [
            "## Epoch selection (accuracy %, recipe's eval mode)",
            "",
            "`source-val` picks the epoch with the best source validation accuracy and reads no "
            "target label. `oracle` picks the epoch with the best target test accuracy, so it "
            "reads the test labels and is not a valid unsupervised result.",
            "",
        ]
        lines += _markdown_table(
            ["target", "last", "source-val (epoch)", "oracle (epoch)"], selection
        )
        lines.append("")

    lines += ["## Splits and data", ""]
    rows = []
    for label, result in results["targets"].items():
        adapt_counts = result["dataset_report"]["counts"].get(result["adapt_split"], {})
        scores = result["scores"][results["eval"]["mode"]]
        rows.append(
            [
                label,
                f"`{result['dataset']}`",
                f"`{result['adapt_split']}` ({sum(adapt_counts.values())} images)",
                f"`{result['test_split']}` ({scores['samples']} images)",
                ", ".join(scores["absent_classes"]) or "none",
            ]
        )
    lines += _markdown_table(
        ["target", "dataset", "adaptation split", "test split", "classes absent from test"], rows
    )
    lines.append("")
    for name, report in [("source", source["report"])] + [
        (label, result["dataset_report"]) for label, result in results["targets"].items()
    ]:
        notes = list(report.get("notes", []))
        if report.get("dropped"):
            notes.append(
                "dropped: " + ", ".join(f"{reason}: {n}" for reason, n in report["dropped"].items())
            )
        if report.get("corrupt"):
            notes.append(f"{len(report['corrupt'])} undecodable image(s) skipped")
        if notes:
            lines.append(f"- **{name}** (`{report['dataset']}`): " + " ".join(notes))
    lines.append("")
    return "\n".join(lines)


def _best_epoch(
    scored: list[dict[str, Any]], criterion: Callable[[dict[str, Any]], float]
) -> dict[str, Any]:
    """Return the epoch record with the highest ``criterion``, the earliest on a tie."""
    return max(scored, key=lambda record: (criterion(record), -record["epoch"]))


def selection_rows(results: dict[str, Any]) -> list[list[str]]:
    """Return rows comparing the last epoch with source-val and oracle epoch selection.

    Each rule takes the best epoch by its own criterion, the earliest on a tie, and shows
    that epoch's target accuracy. Empty when the run did not score every epoch.
    """
    mode = results["eval"]["mode"]

    def target_accuracy(record: dict[str, Any]) -> float:
        return record["scores"]["target"][mode]["accuracy"]

    def source_accuracy(record: dict[str, Any]) -> float:
        return record["scores"]["source_val"]["accuracy"]

    def describe(record: dict[str, Any]) -> str:
        return f"{format_value(target_accuracy(record), True)} ({record['epoch']})"

    rows = []
    for label, result in results["targets"].items():
        scored = [record for record in result.get("history", []) if record.get("scores")]
        if not scored:
            return []
        source_val = "n/a (no data.source.val_split)"
        if all(record["scores"].get("source_val") for record in scored):
            source_val = describe(_best_epoch(scored, source_accuracy))
        oracle = describe(_best_epoch(scored, target_accuracy))
        last = format_value(result["scores"][mode]["accuracy"], True)
        rows.append([label, last, source_val, oracle])
    return rows
