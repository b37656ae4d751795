"""Measure time and the largest intermediate tensor of ``ring_gat`` and ``gcn`` as the batch grows.

Run: ``python benchmarks/relational_memory.py``. Both should grow linearly with the batch size.
"""

from __future__ import annotations

import argparse
import time

import torch

from dafw_plugins.relational.gcn import RingGCN
from dafw_plugins.relational.ring_gat import RingGAT


class LargestTensorMode(torch.overrides.TorchFunctionMode):
    """Record the element count of the largest tensor any torch function returns."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        for value in result if isinstance(result, (tuple, list)) else (result,):
            if isinstance(value, torch.Tensor):
                self.largest = max(self.largest, value.numel())
        return result


def measure(module: torch.nn.Module, rows: int, dim: int) -> tuple[float, int]:
    """Return the seconds of one forward and backward pass and the largest tensor's size."""
    h = torch.randn(rows, dim, requires_grad=True)
    start = time.perf_counter()
    with LargestTensorMode() as mode:
        module(h).sum().backward()
    return time.perf_counter() - start, mode.largest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dim", type=int, default=64, help="Feature width D.")
    parser.add_argument("--heads", type=int, default=4, help="Attention heads of ring_gat.")
    parser.add_argument(
        "--rows", type=int, nargs="+", default=[1_000, 10_000, 100_000], help="Batch sizes."
    )
    args = parser.parse_args()

    modules = {"ring_gat": RingGAT(args.dim, heads=args.heads), "gcn": RingGCN(args.dim)}
    print(f"{'module':<10}{'rows':>10}{'seconds':>10}{'largest tensor':>16}{'per row':>10}")
    for name, module in modules.items():
        for rows in args.rows:
            seconds, largest = measure(module, rows, args.dim)
            print(f"{name:<10}{rows:>10}{seconds:>10.3f}{largest:>16}{largest // rows:>10}")


if __name__ == "__main__":
    main()
