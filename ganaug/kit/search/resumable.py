"""Latent search in groups of images, each group's result saved, so a killed search resumes.

The searcher always runs group by group (resumed or not), so the computation, and with it every
per-image result, is the same whether or not the run was interrupted. Group files are safetensors
(never unpickled) whose metadata must match the search; anything else is searched again.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path
from typing import Any

import attrs
import safetensors.torch
import torch
from torch import Tensor, nn

from ganaug.api.interfaces import SearchResult
from ganaug.kit.search.checked import SearcherId, result_problems, unnamed
from ganaug.kit.search.sharded import can_shard, search_block, sharded_search
from ganaug.runtime import io
from ganaug.runtime.distributed import World

_log = logging.getLogger("ganaug.kit.search")
_NAMES = frozenset(field.name for field in attrs.fields(SearchResult))

#: Images per saved group: a kill loses at most one group's search.
GROUP = 256


def _key(searcher: Any, n: int, seed: int, queries: Tensor) -> str:
    """What a saved group must match: searcher options, seed, the queries themselves."""
    digest = hashlib.sha256(repr(searcher.options).encode())
    digest.update(f"{n}:{seed}".encode())
    digest.update(queries.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _load(path: Path, key: str) -> SearchResult | None:
    try:
        with safetensors.safe_open(str(path), framework="pt") as handle:
            if (handle.metadata() or {}).get("key") != key:
                return None
            tensors = {name: handle.get_tensor(name) for name in handle.keys() if name in _NAMES}  # noqa: SIM118
        return SearchResult(**tensors)
    except Exception:  # missing, truncated or foreign: search the group again
        return None


def _save(path: Path, result: SearchResult, key: str) -> None:
    fields = {**result.per_image(), "loss_history": result.loss_history}
    tensors = {name: value.detach().cpu().contiguous() for name, value in fields.items()}
    io.write_bytes(path, safetensors.torch.save(tensors, metadata={"key": key}))


def concat(parts: list[SearchResult]) -> SearchResult:
    """Join group results in image order (loss histories side by side)."""
    fields = {name: torch.cat([p.per_image()[name] for p in parts]) for name in parts[0].per_image()}
    return SearchResult(**fields, loss_history=torch.cat([p.loss_history for p in parts], dim=1))


def resumable_search(
    searcher: Any,
    world: World,
    generator: nn.Module,
    discriminator: nn.Module,
    queries: Tensor,
    *,
    seed: int,
    store: Path,
    progress: Any = None,
    device: torch.device | None = None,
    group: int = GROUP,
    origin: SearcherId | None = None,
) -> SearchResult:
    """:func:`sharded_search` group by group, reusing the groups ``store`` already holds.

    ``origin`` names the searcher (recipe name and plugin) if what it returns is malformed."""
    n = int(queries.shape[0])
    who = origin or unnamed(searcher)
    if not can_shard(searcher) or n <= group:
        return sharded_search(
            searcher,
            world,
            generator,
            discriminator,
            queries,
            seed=seed,
            progress=progress,
            device=device,
            origin=who,
        )
    key = _key(searcher, n, seed, queries)
    z_all = searcher.initial_z(n, int(generator.latent_dim), seed)
    parts: list[SearchResult] = []
    for start in range(0, n, group):
        stop = min(start + group, n)
        path = store / f"images-{start:07d}-{stop:07d}.safetensors"
        part = _load(path, key)
        if part is not None and result_problems(part, queries[start:stop]):
            part = None  # a group file that does not fit its images: searched again
        if part is None:
            part = search_block(
                searcher,
                world,
                generator,
                discriminator,
                queries[start:stop],
                z_all[start:stop],
                seed=seed,
                progress=progress,
                device=device,
                origin=who,
            )
            _save(path, part, key)
        else:
            _log.info("search: images %d-%d restored from %s", start, stop, path.name)
        parts.append(part)
    result = concat(parts)
    if io.writes_enabled():
        shutil.rmtree(store, ignore_errors=True)
    return result
