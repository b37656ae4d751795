"""`dafw predict`: classify image files with a trained run, one image at a time."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from dafw.cli.app import state, stdout


@click.command("predict")
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--target",
    default=None,
    help="Target whose adapted model to use; required when the run has several targets.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the predictions as JSON.")
@click.pass_context
def predict(
    ctx: click.Context, run_dir: Path, images: tuple[Path, ...], target: str | None, as_json: bool
) -> None:
    """Print the predicted class and every class probability of each of IMAGES.

    Each image is resized and normalised with the recipe's eval transforms and classified
    on its own through the class prototypes (single mode), with RUN_DIR's last checkpoint.
    """
    from dafw.engine.inference import predict_images

    pair, predictions = predict_images(run_dir, images, state(ctx).load_plugins(), target)
    if as_json:
        payload = [
            {
                "image": str(item.path),
                "predicted": item.predicted,
                "probabilities": item.probabilities,
            }
            for item in predictions
        ]
        click.echo(json.dumps({"pair": pair, "predictions": payload}, indent=2))
        return

    stdout.print(f"{run_dir}: model of pair {pair}, single mode")
    for item in predictions:
        table = Table(title=f"{item.path}: {item.predicted}", title_justify="left")
        table.add_column("class")
        table.add_column("probability", justify="right")
        table.add_column("")
        ranked = sorted(item.probabilities.items(), key=lambda pair: pair[1], reverse=True)
        for name, probability in ranked:
            style = "bold" if name == item.predicted else None
            bar = "#" * round(20 * probability)
            table.add_row(name, f"{probability:.3f}", bar, style=style)
        stdout.print(table)
