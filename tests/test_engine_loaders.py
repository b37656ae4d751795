"""Training loaders: cycling, resumable positions, rank shards and seeded augmentation."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import Dataset

from dafw.engine.errors import TrainingError
from dafw.engine.loaders import (
    CycleBatchSampler,
    build_cycling_loader,
    in_order_batches,
    shuffled_batches,
)


class Numbers(Dataset):
    """Item ``i`` is ``(i, u)`` with ``u`` drawn from torch's global generator."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> tuple[int, float]:
        return index, torch.rand(()).item()


def indices(batch) -> list[int]:
    return batch[0].tolist()


def test_target_loader_cycles_with_new_shuffle():
    loader = build_cycling_loader(Numbers(10), batch_size=3, seed=1, workers=0)
    assert loader.batches_per_cycle == 3

    cycles = [[indices(next(loader)) for _ in range(3)] for _ in range(3)]

    for cycle in cycles:
        drawn = [item for batch in cycle for item in batch]
        assert all(len(batch) == 3 for batch in cycle)
        assert len(set(drawn)) == 9
    assert cycles[0] != cycles[1]
    assert cycles[1] != cycles[2]
    assert loader.state_dict() == {"cycle": 2, "offset": 3}


def test_loader_resumes_at_saved_position():
    straight = build_cycling_loader(Numbers(10), batch_size=3, seed=1, workers=0)
    expected = [next(straight) for _ in range(7)]

    first = build_cycling_loader(Numbers(10), batch_size=3, seed=1, workers=0)
    for _ in range(4):
        next(first)
    state = first.state_dict()
    resumed = build_cycling_loader(Numbers(10), batch_size=3, seed=1, workers=0)
    resumed.load_state_dict(state)
    rest = [next(resumed) for _ in range(3)]

    for want, got in zip(expected[4:], rest, strict=True):
        assert torch.equal(want[0], got[0])
        assert torch.equal(want[1], got[1])


def test_augmentation_ignores_global_rng_and_workers():
    plain = build_cycling_loader(Numbers(12), batch_size=4, seed=5, workers=0)
    first = [next(plain) for _ in range(4)]

    torch.manual_seed(123)
    workers = build_cycling_loader(Numbers(12), batch_size=4, seed=5, workers=2)
    second = [next(workers) for _ in range(4)]

    for want, got in zip(first, second, strict=True):
        assert torch.equal(want[0], got[0])
        assert torch.equal(want[1], got[1])


def test_augmentation_leaves_global_rng_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    loader = build_cycling_loader(Numbers(10), batch_size=3, seed=1, workers=0)
    next(loader)

    assert torch.equal(torch.rand(3), expected)


def test_rank_shards_are_disjoint_full_batches():
    shards = [CycleBatchSampler(11, 2, seed=3, rank=rank, world_size=2) for rank in range(2)]
    batches = [sampler.cycle_batches(0) for sampler in shards]

    assert [len(rank_batches) for rank_batches in batches] == [2, 2]
    assert all(len(batch) == 2 for rank_batches in batches for batch in rank_batches)
    drawn = [index for rank_batches in batches for batch in rank_batches for index, _ in batch]
    assert len(drawn) == len(set(drawn)) == 8


def test_dataset_smaller_than_batch_rejected():
    with pytest.raises(TrainingError, match="fewer than one batch"):
        CycleBatchSampler(5, 4, seed=0, world_size=2, name="target tiny")


def test_eval_batches_cover_each_item_once():
    shuffled = shuffled_batches(10, 4, seed=0)
    assert [len(batch) for batch in shuffled] == [4, 4, 2]
    assert sorted(index for batch in shuffled for index in batch) == list(range(10))
    assert shuffled == shuffled_batches(10, 4, seed=0)
    assert shuffled != shuffled_batches(10, 4, seed=1)
    assert in_order_batches(5, 2) == [[0, 1], [2, 3], [4]]


def test_sort_keys_order_each_batch():
    labels = [3, 1, 2, 0, 1, 3, 0, 2, 2, 1]
    plain = CycleBatchSampler(10, 4, seed=5)
    by_label = CycleBatchSampler(10, 4, seed=5, sort_keys=labels)

    for shuffled, ordered in zip(plain.cycle_batches(0), by_label.cycle_batches(0)):
        assert sorted(shuffled) == sorted(ordered)
        keys = [labels[index] for index, _ in ordered]
        assert keys == sorted(keys)
