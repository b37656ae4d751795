"""Measure training throughput of a recipe's first pair: decoding, data loading and full steps.

Prints figures and asserts nothing, so it can size a step budget on the machine at hand:

    python benchmarks/train_throughput.py recipes/fer2013_cpu.toml --data-root ../shared/data

Throughput counts source plus target images, as the progress bar of `dafw run` does.
Wall-clock figures suffer when other processes share the cores. The CPU-time figure counts
this process only, so it stays close to that of an idle machine; compare both.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from dafw.engine.device import resolve_precision
from dafw.engine.distributed import DistContext
from dafw.engine.domains import RunData
from dafw.engine.run_dir import RunFolder, pair_name
from dafw.engine.trainer import Pair, PairTrainer
from dafw.plugins import load_plugins
from dafw.recipe import load_recipe


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", type=Path)
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY.PATH=VALUE", help="recipe override, as in `dafw run`")
    parser.add_argument("--target", default=None, help="target name; defaults to the first")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--steps", type=int, default=20, help="timed steps")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads; defaults to torch's choice")
    return parser.parse_args()


def main() -> None:
    arguments = parse_arguments()
    if arguments.threads is not None:
        torch.set_num_threads(arguments.threads)
    console = Console()
    plugins = load_plugins()
    recipe = load_recipe(arguments.recipe, arguments.overrides, arguments.data_root, plugins)
    label = arguments.target or recipe.data.targets[0].label
    precision = resolve_precision(recipe.train)

    started = time.perf_counter()
    data = RunData(recipe, plugins.registries, console)
    data.source_train()
    data.target(label)
    decode_seconds = time.perf_counter() - started

    pair = Pair(0, pair_name(recipe.data.source.type, label), label)
    with tempfile.TemporaryDirectory() as scratch:
        trainer = PairTrainer(
            recipe, plugins.registries, data, pair, RunFolder(Path(scratch)), DistContext(),
            precision,
        )
        images_per_step = 2 * recipe.train.batch_size

        started = time.perf_counter()
        for _ in range(arguments.steps):
            next(trainer.source_loader)
            next(trainer.target_loader)
        loading = time.perf_counter() - started

        for _ in range(arguments.warmup):
            trainer.train_step()
        if precision.device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        cpu_started = time.process_time()
        for _ in range(arguments.steps):
            trainer.train_step()
        if precision.device.type == "cuda":
            torch.cuda.synchronize()
        training = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started

    table = Table(title=f"{recipe.name}, pair {pair.name}, {precision.describe()}, "
                        f"{torch.get_num_threads()} CPU threads")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("decoding source and target (s)", f"{decode_seconds:.1f}")
    table.add_row("source images", f"{len(data.source_train())}")
    table.add_row("steps per epoch", f"{trainer.steps_per_epoch}")
    images = arguments.steps * images_per_step
    table.add_row("data loading only (images/s)", f"{images / loading:.0f}")
    table.add_row("training steps (images/s)", f"{images / training:.1f}")
    table.add_row("seconds per step", f"{training / arguments.steps:.3f}")
    table.add_row("CPU seconds per step (this process)", f"{cpu_seconds / arguments.steps:.3f}")
    steps_per_pair = trainer.total_steps
    table.add_row("steps per pair", f"{steps_per_pair}")
    table.add_row(
        "estimated training time per pair (min)",
        f"{steps_per_pair * training / arguments.steps / 60:.1f}",
    )
    console.print(table)


if __name__ == "__main__":
    main()
