"""Data loaders: seeded, resumable, rank-sharded training batches that cycle, and test batches.

Every training item is drawn as an ``(index, seed)`` pair and its augmentation runs with
torch's CPU generator seeded by that seed. The images of a step therefore depend only on
the recipe seed and the step, not on the number of workers, the prefetching or a resume.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from torch.utils.data import DataLoader, Dataset, Sampler

from dafw.engine.errors import TrainingError
from dafw.engine.seeding import derive_seed, loader_generator, seeded_cpu_rng, worker_init_fn

Item = tuple[int, int]


class SeededItems(Dataset):
    """Wraps a dataset so that ``dataset[(index, seed)]`` augments with a fixed seed.

    Args:
        dataset (Dataset): Items whose transform draws from torch's global CPU generator,
            as torchvision's transforms do.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, item: Item) -> Any:
        index, seed = item
        with seeded_cpu_rng(seed):
            return self.dataset[index]


class CycleBatchSampler(Sampler[list[Item]]):
    """Batches of one pass ("cycle") over a dataset, for one rank, from a chosen batch on.

    Cycle ``c`` is a permutation of the dataset drawn from ``(seed, c)``, with one
    augmentation seed per position. Rank ``r`` of ``R`` takes every R-th position starting
    at ``r``. Its share is cut into full batches and the short rest is dropped, so every
    rank has the same number of batches and no batch is short.

    Args:
        size (int): Number of items in the dataset.
        batch_size (int): Items per batch on each rank.
        seed (int): Seed of the permutations and of the augmentation seeds.
        rank (int): This process's rank. Defaults to 0.
        world_size (int): Number of processes. Defaults to 1.
        name (str): Name of the data in errors, such as ``target jaffe (split train)``.
        sort_keys (Sequence[int] | None): One key per item, such as its label. When given,
            the items inside each batch are ordered by key, so that a ring graph over the
            batch links mostly items with equal keys. Defaults to None: batches stay shuffled.

    Raises:
        TrainingError: The dataset cannot fill one batch on every rank.
    """

    def __init__(
        self,
        size: int,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        name: str = "dataset",
        sort_keys: Sequence[int] | None = None,
    ) -> None:
        if sort_keys is not None and len(sort_keys) != size:
            raise ValueError(f"sort_keys has {len(sort_keys)} entries for {size} items")
        self.sort_keys = sort_keys
        self.size = size
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.batches_per_cycle = (size // world_size) // batch_size
        if self.batches_per_cycle == 0:
            raise TrainingError(
                f"{name} has {size} images, fewer than one batch of {batch_size} per process "
                f"({world_size} process(es)); lower train.batch_size"
            )
        self.cycle = 0
        self.start_batch = 0

    def cycle_batches(self, cycle: int) -> list[list[Item]]:
        """Return every batch of ``cycle`` for this rank, as lists of ``(index, seed)``."""
        rng = np.random.default_rng(derive_seed(self.seed, cycle))
        order = rng.permutation(self.size)
        seeds = rng.integers(0, 2**63 - 1, size=self.size, dtype=np.int64)
        positions = np.arange(self.rank, self.size, self.world_size)
        positions = positions[: self.batches_per_cycle * self.batch_size]
        items = [(int(order[p]), int(seeds[p])) for p in positions]
        batches = [
            items[i : i + self.batch_size] for i in range(0, len(items), self.batch_size)
        ]
        if self.sort_keys is not None:
            keys = self.sort_keys
            batches = [
                sorted(batch, key=lambda item: (keys[item[0]], item[0])) for batch in batches
            ]
        return batches

    def __iter__(self) -> Iterator[list[Item]]:
        yield from self.cycle_batches(self.cycle)[self.start_batch :]

    def __len__(self) -> int:
        return self.batches_per_cycle - self.start_batch


class CyclingLoader:
    """Endless batches: when a cycle is used up, the next one starts with a new shuffle.

    The position is the number of batches consumed, not fetched, so ``state_dict`` is
    exact even while workers prefetch.

    Args:
        loader (DataLoader): Built with ``batch_sampler`` set to ``sampler``.
        sampler (CycleBatchSampler): The loader's batch sampler.
    """

    def __init__(self, loader: DataLoader, sampler: CycleBatchSampler) -> None:
        self.loader = loader
        self.sampler = sampler
        self.cycle = 0
        self.offset = 0
        self._iterator: Iterator[Any] | None = None

    @property
    def batches_per_cycle(self) -> int:
        """Number of batches in one pass over the data, on this rank."""
        return self.sampler.batches_per_cycle

    def __iter__(self) -> CyclingLoader:
        return self

    def __next__(self) -> Any:
        if self.offset >= self.batches_per_cycle:
            self.cycle += 1
            self.offset = 0
            self._iterator = None
        if self._iterator is None:
            self.sampler.cycle = self.cycle
            self.sampler.start_batch = self.offset
            self._iterator = iter(self.loader)
        batch = next(self._iterator)
        self.offset += 1
        return batch

    def state_dict(self) -> dict[str, int]:
        """Return the cycle and the batches consumed in it."""
        return {"cycle": self.cycle, "offset": self.offset}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Continue after the batches counted in ``state``."""
        self.cycle = int(state["cycle"])
        self.offset = int(state["offset"])
        self._iterator = None


def build_cycling_loader(
    dataset: Dataset,
    batch_size: int,
    seed: int,
    workers: int,
    rank: int = 0,
    world_size: int = 1,
    pin_memory: bool = False,
    name: str = "dataset",
    sort_keys: Sequence[int] | None = None,
) -> CyclingLoader:
    """Build the endless training loader of one domain.

    Args:
        dataset (Dataset): Items as ``dataset[index]``; wrapped in ``SeededItems`` here.
        batch_size (int): Items per batch on each rank.
        seed (int): Seed of the shuffles and of the augmentation.
        workers (int): Worker processes; 0 loads in the main process.
        rank (int): This process's rank. Defaults to 0.
        world_size (int): Number of processes. Defaults to 1.
        pin_memory (bool): Pin batches for faster copies to a GPU. Defaults to False.
        name (str): Name of the data in errors. Defaults to ``"dataset"``.
        sort_keys (Sequence[int] | None): Keys that order the items inside each batch, see
            ``CycleBatchSampler``. Defaults to None.
    """
    sampler = CycleBatchSampler(
        len(dataset), batch_size, seed, rank, world_size, name, sort_keys  # type: ignore[arg-type]
    )
    loader = DataLoader(
        SeededItems(dataset),
        batch_sampler=sampler,
        num_workers=workers,
        pin_memory=pin_memory,
        worker_init_fn=worker_init_fn,
        generator=loader_generator(derive_seed(seed, "workers")),
        persistent_workers=workers > 0,
    )
    return CyclingLoader(loader, sampler)


def shuffled_batches(size: int, batch_size: int, seed: int) -> list[list[int]]:
    """Cut a permutation of ``range(size)`` drawn from ``seed`` into consecutive batches.

    The last batch keeps the remainder, so every item is scored once.
    """
    order = np.random.default_rng(seed).permutation(size).tolist()
    return [order[i : i + batch_size] for i in range(0, size, batch_size)]


def in_order_batches(size: int, batch_size: int) -> list[list[int]]:
    """Cut ``range(size)`` into consecutive batches, the last one keeping the remainder."""
    return [list(range(i, min(i + batch_size, size))) for i in range(0, size, batch_size)]


def build_eval_loader(
    dataset: Dataset, batches: Sequence[list[int]], workers: int, pin_memory: bool = False
) -> DataLoader:
    """Build a loader that yields exactly ``batches``, in order, with no augmentation."""
    return DataLoader(
        dataset,
        batch_sampler=list(batches),
        num_workers=workers,
        pin_memory=pin_memory,
        worker_init_fn=worker_init_fn,
        generator=loader_generator(0),
    )

