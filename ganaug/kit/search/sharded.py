"""Latent search split across the ranks of a ``torchrun`` job, one block of images per rank.

Every image's starting z is drawn for ALL images from the seed and then sliced, so an image's
search is the same whatever the number of ranks; every per-image field is gathered back in image
order on every rank (rank 0 then writes). One process: a plain call to the searcher.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import Tensor, nn

from ganaug.api.capabilities import ShardableSearcher
from ganaug.api.interfaces import SearchResult
from ganaug.runtime.distributed import World

_log = logging.getLogger("ganaug.kit.search")


def can_shard(searcher: object) -> bool:
    """Whether the searcher offers :class:`~ganaug.api.capabilities.ShardableSearcher`."""
    return isinstance(searcher, ShardableSearcher)


def sharded_search(
    searcher: Any,
    world: World,
    generator: nn.Module,
    discriminator: nn.Module,
    queries: Tensor,
    *,
    seed: int,
    progress: Any = None,
    device: torch.device | None = None,
) -> SearchResult:
    """``searcher.search`` over all ``queries``, each rank searching ``world.shard(N)`` of them.

    ``device`` is where the gathers run (the rank's CUDA device under NCCL; the CPU for gloo).
    A searcher that cannot take ``z_init`` searches all images on every rank (correct, not faster).
    """
    if not world.distributed:
        return searcher.search(generator, discriminator, queries, seed=seed, progress=progress)
    if not can_shard(searcher):
        _log.warning("searcher %s takes no z_init: every rank searches all images", type(searcher).__name__)
        return searcher.search(generator, discriminator, queries, seed=seed, progress=progress)
    z_all = searcher.initial_z(int(queries.shape[0]), int(generator.latent_dim), seed)
    return search_block(
        searcher, world, generator, discriminator, queries, z_all, seed=seed, progress=progress, device=device
    )


def search_block(
    searcher: Any,
    world: World,
    generator: nn.Module,
    discriminator: nn.Module,
    queries: Tensor,
    z_init: Tensor,
    *,
    seed: int,
    progress: Any = None,
    device: torch.device | None = None,
) -> SearchResult:
    """Search ``queries`` from the given starting points, each rank its block, gathered in order."""
    part = world.shard(int(queries.shape[0]))
    local = searcher.search(
        generator,
        discriminator,
        queries[part.start : part.stop],
        seed=seed,
        progress=progress,
        z_init=z_init[part.start : part.stop],
    )
    if not world.distributed:
        return local
    return gather_result(local, world, device or torch.device("cpu"))


def gather_result(local: SearchResult, world: World, device: torch.device) -> SearchResult:
    """Every rank's per-image fields concatenated in rank (= image) order, on the CPU, on all ranks."""

    def gather(tensor: Tensor) -> Tensor:
        return world.gather(tensor.detach().to(device).contiguous()).cpu()

    fields = {name: gather(value) for name, value in local.per_image().items()}
    history = gather(local.loss_history.transpose(0, 1)).transpose(0, 1).contiguous()
    return SearchResult(**fields, loss_history=history)
