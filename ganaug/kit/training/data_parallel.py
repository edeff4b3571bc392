"""Data-parallel training under ``torchrun``: DDP replicas of G and D, batch shards, shared stats.

Each rank trains on its shard of every global batch (``batch_size`` images per rank); DDP
averages the gradients, so a step equals one on the global batch, except that BatchNorm uses
each rank's own batch statistics (running statistics come from rank 0, DDP's default).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from ganaug.api.networks import is_conditional
from ganaug.runtime.distributed import World


class Replica(DistributedDataParallel):
    """A DDP-wrapped G or D that still answers ``conditional``/``latent_dim``, and runs the bare
    module while all its parameters are frozen (D during G's step): nothing to reduce then, and a
    DDP forward would wait for gradients that never come."""

    @property
    def conditional(self) -> bool:
        return is_conditional(self.module)

    @property
    def latent_dim(self) -> int:
        return int(self.module.latent_dim)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if not any(p.requires_grad for p in self.module.parameters()):
            return self.module(*args, **kwargs)
        return super().forward(*args, **kwargs)


def replicate(module: nn.Module, world: World, device: torch.device) -> nn.Module:
    """The module itself in one process; else its DDP replica (weights broadcast from rank 0).

    Buffers are not broadcast before each forward: D runs twice before its backward, and cuDNN's
    BatchNorm backward keeps the running statistics, so an in-place broadcast between the two
    forwards breaks autograd on CUDA. Training uses batch statistics, rank 0's running statistics
    follow rank 0's batches either way, and :func:`sync_from_main` copies them to every rank."""
    if not world.distributed:
        return module
    ids = [device.index] if device.type == "cuda" else None
    return Replica(module, device_ids=ids, broadcast_buffers=False)


def sync_from_main(module: nn.Module, world: World) -> None:
    """Rank 0's parameters and buffers on every rank. After training: each rank's BatchNorm
    running statistics followed its own batches (buffers are not broadcast, see :func:`replicate`)."""
    if not world.distributed:
        return
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, src=0)


def batch_shard(order: Tensor, batch: int, per_rank: int, world: World) -> tuple[Tensor, range]:
    """Global batch ``batch`` of the epoch's permutation (``per_rank x world.size`` images) and the
    positions in it that this rank trains on (``world.shard``: contiguous, sizes differ by <= 1)."""
    size = per_rank * world.size
    global_batch = order[batch * size : (batch + 1) * size]
    return global_batch, world.shard(len(global_batch))


def agree(
    world: World, stats: dict[str, float], stop: bool, device: torch.device
) -> tuple[dict[str, float], bool]:
    """Step statistics averaged over ranks, and whether ANY rank asked to stop (Ctrl-C), so every
    rank logs the same numbers, raises on the same NaN and checkpoints at the same batch."""
    if not world.distributed:
        return stats, stop
    keys = sorted(stats)
    packed = torch.tensor([*(stats[k] for k in keys), 1.0 if stop else 0.0], dtype=torch.float64)
    packed = packed.to(device)
    dist.all_reduce(packed, op=dist.ReduceOp.SUM)
    values = packed.cpu().tolist()
    return {k: values[i] / world.size for i, k in enumerate(keys)}, values[-1] > 0
