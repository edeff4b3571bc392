"""Running under ``torchrun``: the process group, sharding by image, gathering, rank-0 writes.

A single process is a world of size 1, so stages use the same calls with or without torchrun.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import attrs
import torch
import torch.distributed as dist
from torch import Tensor

#: How long a collective waits for a missing rank before the job fails instead of hanging.
TIMEOUT = dt.timedelta(seconds=int(os.environ.get("GANAUG_DIST_TIMEOUT", "600")))


@attrs.frozen
class World:
    """This process's place in the job: rank, world size and local rank (1 process: 0, 1, 0)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def shard(self, n: int) -> range:
        """This rank's contiguous block of ``range(n)``; blocks differ in size by at most one."""
        base, extra = divmod(n, self.size)
        start = self.rank * base + min(self.rank, extra)
        return range(start, start + base + (1 if self.rank < extra else 0))

    def gather(self, tensor: Tensor) -> Tensor:
        """Concatenate every rank's shard (first dimension) in rank order, on every rank."""
        if not self.distributed:
            return tensor
        sizes = [torch.zeros(1, dtype=torch.long, device=tensor.device) for _ in range(self.size)]
        dist.all_gather(sizes, torch.tensor([tensor.shape[0]], device=tensor.device))
        longest = int(max(s.item() for s in sizes))
        padded = torch.zeros((longest, *tensor.shape[1:]), dtype=tensor.dtype, device=tensor.device)
        padded[: tensor.shape[0]] = tensor
        parts = [torch.empty_like(padded) for _ in range(self.size)]
        dist.all_gather(parts, padded.contiguous())
        return torch.cat([p[: int(s.item())] for p, s in zip(parts, sizes, strict=True)])

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's value of ``obj`` on every rank (a picklable Python object from our own code)."""
        if not self.distributed:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def all_ok(self, ok: bool) -> bool:
        """True when every rank is ok: a failing rank makes all ranks stop, none waits forever."""
        if not self.distributed:
            return ok
        device = torch.device("cuda", self.local_rank) if dist.get_backend() == "nccl" else None
        flag = torch.tensor([0 if ok else 1], device=device)  # NCCL reduces device tensors only
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return int(flag.item()) == 0


def world_from_env() -> World:
    """The world torchrun describes in the environment (RANK, WORLD_SIZE, LOCAL_RANK)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    return World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))


def backend_for(device: torch.device) -> str:
    """NCCL for CUDA devices, gloo for the CPU."""
    return "nccl" if device.type == "cuda" else "gloo"


def init(world: World, device: torch.device) -> None:
    """Join the process group (once), with a timeout so a dead rank fails the job."""
    if not world.distributed or dist.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend_for(device), timeout=TIMEOUT)


def device_for(world: World, device: torch.device) -> torch.device:
    """One process per GPU: under torchrun a CUDA device becomes ``cuda:LOCAL_RANK``."""
    if world.distributed and device.type == "cuda":
        return torch.device("cuda", world.local_rank)
    return device


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
