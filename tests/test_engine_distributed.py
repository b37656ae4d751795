"""A distributed run with two CPU processes over gloo on the loopback interface."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import torch
import torch.multiprocessing as mp

from tests.test_engine_support import step_records, write_tiny_recipe


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_rank(rank: int, world_size: int, port: int, recipe: str, out: str, report: str) -> None:
    """Run the recipe as rank ``rank``, with the environment torchrun would set."""
    os.environ.update(
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world_size),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    from dafw.engine import run_recipe
    from dafw.plugins import load_plugins
    from dafw.recipe import load_recipe

    plugins = load_plugins()
    outcome = run_recipe(
        load_recipe(recipe, plugins=plugins), plugins, out=Path(out), runs_dir=Path(out).parent
    )
    Path(report, f"rank{rank}.json").write_text(
        json.dumps(
            {
                "folder": str(outcome.folder.root),
                "fingerprints": outcome.fingerprints,
                "has_results": outcome.results is not None,
            }
        )
    )


def test_two_process_gloo_run(tmp_path):
    recipe = write_tiny_recipe(tmp_path)
    out = tmp_path / "runs" / "ddp"
    report = tmp_path / "ranks"
    report.mkdir()

    mp.spawn(
        run_rank,
        args=(2, free_port(), str(recipe), str(out), str(report)),
        nprocs=2,
        join=True,
    )

    ranks = [json.loads((report / f"rank{rank}.json").read_text()) for rank in range(2)]
    assert ranks[0]["folder"] == ranks[1]["folder"] == str(out.resolve())
    assert ranks[0]["fingerprints"] == ranks[1]["fingerprints"]
    assert ranks[0]["fingerprints"]
    assert ranks[0]["has_results"]
    assert not ranks[1]["has_results"]

    assert sorted(path.name for path in (tmp_path / "runs").iterdir()) == ["ddp"]
    assert (out / "results.json").is_file()
    environment = json.loads((out / "environment.json").read_text())
    assert environment["device"]["world_size"] == 2
    assert environment["device"]["backend"] == "gloo"
    assert [record["step"] for record in step_records(out)] == list(range(6))
