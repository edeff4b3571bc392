"""Best-of-N latent search: another searcher run from several starting points, the best kept per image.

A gradient search from one random start can end in a poor local minimum; restarting it and keeping,
per image, the run with the lowest score lowers the score of an image the generator can reproduce,
at N times the cost. The inner searcher is any registered one, built by name through the builder
ganaug hands a factory that asks for ``build`` (no other plugin's modules are imported).
"""

from __future__ import annotations

import hashlib
from typing import Any

import attrs
import torch
from torch import Tensor, nn

from ganaug.api.capabilities import RecordsSteps, ShardableSearcher
from ganaug.api.interfaces import SearchResult
from ganaug.api.options import Builder, ComponentRef, component, option
from ganaug.runtime.seeds import derive_seed


@attrs.frozen
class RestartsOptions:
    """``searcher = {name = "restarts", inner = {name = "backprop", steps = 200}, restarts = 3}``:
    ``inner`` is the searcher to restart (any registered one, with its own options); ``restarts``
    how many runs each image gets (1: exactly the inner searcher)."""

    inner: ComponentRef = component(
        "latent_searchers", "backprop", help="the searcher to restart: a name or a table with its options"
    )
    restarts: int = option(
        3,
        validator=attrs.validators.ge(1),
        help="runs per image, the best kept (1: the inner searcher alone)",
    )


class RestartsSearcher:
    """Runs ``inner`` ``restarts`` times; per image, every result field of the lowest-score run."""

    def __init__(self, options: RestartsOptions, inner: Any) -> None:
        self.options = options
        self.inner = inner

    def search(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        queries: Tensor,
        *,
        seed: int,
        progress: Any = None,
        z_init: Tensor | None = None,
    ) -> SearchResult:
        """Restart 0 starts from ``z_init`` (else where the inner searcher starts with ``seed``);
        restart ``r`` uses the seed ``derive_seed(seed, "restart", r)``."""
        shardable = isinstance(self.inner, ShardableSearcher)
        if z_init is not None and not shardable:
            raise ValueError(f"z_init given, but the inner searcher {type(self.inner).__name__} takes none")
        first = self._run(generator, discriminator, queries, seed, progress, z_init)
        runs = [first]
        for restart in range(1, self.options.restarts):
            restart_seed = derive_seed(seed, "restart", restart)
            starts = restart_starts(self.inner, first.z_initial, seed, restart) if shardable else None
            runs.append(self._run(generator, discriminator, queries, restart_seed, progress, starts))
        return best_of(runs)

    def _run(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        queries: Tensor,
        seed: int,
        progress: Any,
        z_init: Tensor | None,
    ) -> SearchResult:
        if z_init is None:  # a searcher without ShardableSearcher may not take the argument at all
            return self.inner.search(generator, discriminator, queries, seed=seed, progress=progress)
        return self.inner.search(
            generator, discriminator, queries, seed=seed, progress=progress, z_init=z_init
        )


class ShardableRestarts(RestartsSearcher):
    """A :class:`RestartsSearcher` whose inner searcher is a ShardableSearcher, so it is one too."""

    def initial_z(self, n: int, latent_dim: int, seed: int) -> Tensor:
        """Restart 0's starting points, the inner searcher's; later restarts derive theirs per image."""
        return self.inner.initial_z(n, latent_dim, seed)


class RecordingRestarts(RestartsSearcher):
    """A :class:`RestartsSearcher` whose inner searcher says which steps its history rows are."""

    @property
    def recorded_steps(self) -> list[int]:
        return list(self.inner.recorded_steps)


class ShardableRecordingRestarts(ShardableRestarts, RecordingRestarts):
    """Both capabilities, as the built-in ``backprop`` searcher has them."""


_CLASSES: dict[tuple[bool, bool], type[RestartsSearcher]] = {
    (False, False): RestartsSearcher,
    (True, False): ShardableRestarts,
    (False, True): RecordingRestarts,
    (True, True): ShardableRecordingRestarts,
}


def wrap(options: RestartsOptions, inner: Any) -> RestartsSearcher:
    """``inner`` restarted, offering the optional capabilities ``inner`` offers (and no others)."""
    capabilities = (isinstance(inner, ShardableSearcher), isinstance(inner, RecordsSteps))
    return _CLASSES[capabilities](options, inner)


def restarts_searcher(options: RestartsOptions, *, build: Builder) -> RestartsSearcher:
    """The ``restarts`` factory: ganaug passes ``build``, which creates the inner searcher by name."""
    return wrap(options, build(options.inner))


def restart_starts(inner: Any, z_first: Tensor, seed: int, restart: int) -> Tensor:
    """Restart ``restart``'s starting points: per image, the inner searcher's ``initial_z`` for one
    image, seeded by ``seed``, the restart and that image's first start. An image's starts thus do
    not depend on the other images of its batch, so a sharded or resumed search finds the same."""
    rows = z_first.detach().float().cpu().contiguous()
    latent_dim = int(rows.shape[1])
    if rows.shape[0] == 0:
        return rows.clone()
    seeds = [derive_seed(seed, "restart", restart, _digest(row)) for row in rows]
    return torch.cat([inner.initial_z(1, latent_dim, image_seed) for image_seed in seeds])


def _digest(row: Tensor) -> str:
    return hashlib.blake2b(row.numpy().tobytes(), digest_size=8).hexdigest()


def best_of(runs: list[SearchResult]) -> SearchResult:
    """Per image, every per-image field and the history column of the run with the lowest score
    (the earliest on a tie; a NaN score never wins over a number)."""
    rows = {int(run.loss_history.shape[0]) for run in runs}
    if len(rows) != 1:
        raise ValueError(f"the runs recorded different numbers of loss-history rows: {sorted(rows)}")
    scores = torch.stack([run.score.detach().float().cpu() for run in runs])
    best = torch.nan_to_num(scores, nan=float("inf")).argmin(0)
    fields = [run.per_image() for run in runs]
    shared = [name for name in fields[0] if all(name in f for f in fields)]
    chosen = {name: _pick([f[name] for f in fields], best) for name in shared}
    history = _pick([run.loss_history.T for run in runs], best).T
    return SearchResult(**chosen, loss_history=history)


def _pick(values: list[Tensor], best: Tensor) -> Tensor:
    """Row ``i`` of ``values[best[i]]`` for every ``i``."""
    stacked = torch.stack([value.detach() for value in values])
    best = best.to(stacked.device)
    return stacked[best, torch.arange(best.shape[0], device=stacked.device)]
