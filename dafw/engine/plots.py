"""PNG figures of a run: confusion matrices and loss curves, drawn with matplotlib's Agg backend."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402


def plot_confusion(
    counts: np.ndarray, normalised: np.ndarray, classes: Sequence[str], title: str, path: Path
) -> None:
    """Draw the count matrix and the row-normalised matrix side by side into ``path``.

    Rows are true classes and columns predicted classes; rows of classes absent from the
    test split are left blank.
    """
    size = max(4.0, 0.6 * len(classes) + 2.0)
    figure, axes = plt.subplots(1, 2, figsize=(2 * size + 1, size))
    # Fixed margins: a constrained layout costs about a second per figure on a CPU core.
    figure.subplots_adjust(left=0.1, right=0.97, bottom=0.22, top=0.9, wspace=0.35)
    panels = (
        (axes[0], np.asarray(counts, dtype=np.float64), "counts", "{:.0f}"),
        (axes[1], np.asarray(normalised, dtype=np.float64), "row-normalised", "{:.2f}"),
    )
    for axis, matrix, label, text_format in panels:
        shown = np.ma.masked_invalid(matrix)
        image = axis.imshow(shown, cmap="Blues", vmin=0)
        figure.colorbar(image, ax=axis, shrink=0.8)
        axis.set_title(f"{title} ({label})")
        axis.set_xlabel("predicted class")
        axis.set_ylabel("true class")
        axis.set_xticks(range(len(classes)), labels=list(classes), rotation=45, ha="right")
        axis.set_yticks(range(len(classes)), labels=list(classes))
        finite = matrix[np.isfinite(matrix)]
        threshold = finite.max() / 2 if finite.size else 0
        for row in range(matrix.shape[0]):
            for column in range(matrix.shape[1]):
                value = matrix[row, column]
                if not np.isfinite(value):
                    continue
                colour = "white" if value > threshold else "black"
                axis.text(column, row, text_format.format(value), ha="center", va="center",
                          color=colour, fontsize=8)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_loss_curves(
    curves: dict[str, dict[str, tuple[list[int], list[float]]]], path: Path
) -> None:
    """Draw one panel per pair with every ``loss/*`` series against the step into ``path``.

    Args:
        curves (dict[str, dict[str, tuple[list[int], list[float]]]]): Pair name to log key to
            ``(steps, values)``.
        path (Path): PNG file to write.
    """
    pairs = list(curves) or ["(no steps logged)"]
    figure, axes = plt.subplots(len(pairs), 1, figsize=(8, 3.2 * len(pairs)), squeeze=False)
    figure.subplots_adjust(hspace=0.45)
    for axis, pair in zip(axes[:, 0], pairs, strict=True):
        for key, (steps, values) in curves.get(pair, {}).items():
            axis.plot(steps, values, label=key, linewidth=1)
        axis.set_title(pair)
        axis.set_xlabel("step")
        axis.set_ylabel("loss")
        if curves.get(pair):
            axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
    figure.savefig(path, dpi=100)
    plt.close(figure)
