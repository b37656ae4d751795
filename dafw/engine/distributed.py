"""Distributed data parallel setup from the environment that ``torchrun`` sets."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

logger = logging.getLogger("dafw")


@dataclass(frozen=True)
class DistContext:
    """This process's place in a distributed run; a single process is rank 0 of 1.

    Attributes:
        rank (int): Global rank, from ``RANK``.
        world_size (int): Number of processes, from ``WORLD_SIZE``.
        local_rank (int): Rank on this machine, from ``LOCAL_RANK``; selects the GPU.
        backend (str | None): ``gloo`` or ``nccl`` when a process group is initialised.
        owns_group (bool): Whether ``init_distributed`` created the process group, so
            ``shutdown_distributed`` destroys it.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        """Whether this process writes the run folder and the logs."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """Whether more than one process takes part."""
        return self.world_size > 1

    def barrier(self) -> None:
        """Wait until every process reaches this point; a no-op in a single process."""
        if self.distributed:
            dist.barrier()

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """Return the element-wise mean of ``values`` over all processes.

        A NaN or infinity on any rank makes the mean non-finite on every rank, so all
        processes stop together.
        """
        if not self.distributed:
            return values
        reduced = values.clone()
        dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
        return reduced / self.world_size

    def gather_objects(self, value: Any) -> list[Any]:
        """Return ``value`` from every rank, indexed by rank."""
        if not self.distributed:
            return [value]
        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, value)
        return gathered

    def broadcast_object(self, value: Any) -> Any:
        """Return rank 0's ``value`` on every rank."""
        if not self.distributed:
            return value
        holder = [value]
        dist.broadcast_object_list(holder, src=0)
        return holder[0]


def init_distributed(use_cuda: bool) -> DistContext:
    """Join the process group described by ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``, if any.

    Without those variables, or with ``WORLD_SIZE=1``, nothing is initialised. An already
    initialised default group is reused, so tests can set one up themselves.

    Args:
        use_cuda (bool): Use ``nccl`` and bind this process to GPU ``LOCAL_RANK``;
            otherwise ``gloo``.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistContext()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if use_cuda else "gloo"

    if use_cuda:
        # NOTE: not run here (no GPU in the test environment).
        torch.cuda.set_device(local_rank)
    owns_group = not dist.is_initialized()
    if owns_group:
        dist.init_process_group(backend=backend, init_method="env://")
    else:
        backend = dist.get_backend()
    logger.info("distributed run: rank %d of %d, backend %s", rank, world_size, backend)
    return DistContext(rank, world_size, local_rank, backend, owns_group)


def shutdown_distributed(context: DistContext) -> None:
    """Leave the process group that ``init_distributed`` joined."""
    if context.owns_group and dist.is_initialized():
        dist.destroy_process_group()
