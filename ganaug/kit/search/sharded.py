"""Latent search split across the ranks of a ``torchrun`` job, one block of images per rank.

Every image's starting z is drawn for ALL images from the seed and then sliced, so an image's
search is the same whatever the number of ranks; every per-image field is gathered back in image
order on every rank (rank 0 then writes). One process: a plain call to the searcher. Whatever the
searcher returns is checked as it arrives (:func:`~ganaug.kit.search.checked.checked_result`), named
by ``origin`` (the searcher's recipe name and plugin; its class when not given).
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import Tensor, nn

from ganaug.api.capabilities import ShardableSearcher
from ganaug.api.interfaces import SearchResult
from ganaug.kit.search.checked import SearcherId, checked_result, unnamed
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
    origin: SearcherId | None = None,
) -> SearchResult:
    """``searcher.search`` over all ``queries``, each rank searching ``world.shard(N)`` of them.

    ``device`` is where the gathers run (the rank's CUDA device under NCCL; the CPU for gloo).
    A searcher that cannot take ``z_init`` searches all images on every rank (correct, not faster).
    """
    who = origin or unnamed(searcher)
    if not world.distributed or not can_shard(searcher):
        if world.distributed:
            name = type(searcher).__name__
            _log.warning("searcher %s takes no z_init: every rank searches all images", name)
        found = searcher.search(generator, discriminator, queries, seed=seed, progress=progress)
        return checked_result(found, queries, who)
    z_all = searcher.initial_z(int(queries.shape[0]), int(generator.latent_dim), seed)
    return search_block(
        searcher,
        world,
        generator,
        discriminator,
        queries,
        z_all,
        seed=seed,
        progress=progress,
        device=device,
        origin=who,
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
    origin: SearcherId | None = None,
) -> SearchResult:
    """Search ``queries`` from the given starting points, each rank its block, gathered in order."""
    part = world.shard(int(queries.shape[0]))
    block = queries[part.start : part.stop]
    found = searcher.search(
        generator, discriminator, block, seed=seed, progress=progress, z_init=z_init[part.start : part.stop]
    )
    local = checked_result(found, block, origin or unnamed(searcher))  # before the gather needs its rows
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
