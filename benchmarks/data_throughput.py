"""Measure how fast a dataset split is decoded into the cache and then served with augmentation.

Run: ``python benchmarks/data_throughput.py [--dataset fer2013 --root PATH] [--cache memory]``.
Without ``--root`` it reads the digits bundled with scikit-learn.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from dafw.data import DecodeCache, LabelledDataset, build_transforms
from dafw.data.factory import open_reader


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="digits", help="registered dataset type")
    parser.add_argument("--root", default=".", help="data root of the dataset")
    parser.add_argument("--split", default="train", help="split to read")
    parser.add_argument("--cache", default="memory", choices=["memory", "disk", "none"])
    parser.add_argument("--size", type=int, default=100, help="input side in pixels")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=0, help="data-loader worker processes")
    parser.add_argument("--batches", type=int, default=50, help="batches to time")
    args = parser.parse_args()

    reader = open_reader(args.dataset, args.root)
    with tempfile.TemporaryDirectory() as folder:
        cache = DecodeCache(args.cache, Path(folder), size=args.size)
        start = time.perf_counter()
        dataset = LabelledDataset(
            reader, args.split, build_transforms(args.size, train=True), cache
        )
        fill = time.perf_counter() - start
        print(f"{args.dataset}/{args.split}: {len(dataset)} images, cache {cache.mode}")
        print(f"decode and cache: {fill:.2f} s ({len(dataset) / max(fill, 1e-9):,.0f} images/s)")

        loader = DataLoader(
            dataset, batch_size=args.batch_size, shuffle=True, num_workers=args.workers
        )
        served = 0
        start = time.perf_counter()
        for index, (images, _) in enumerate(loader):
            served += images.shape[0]
            if index + 1 == args.batches:
                break
        elapsed = time.perf_counter() - start
        print(
            f"augmented batches: {served / elapsed:,.0f} images/s "
            f"({args.workers} workers, {torch.get_num_threads()} torch threads)"
        )


if __name__ == "__main__":
    main()
