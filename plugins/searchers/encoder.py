"""The ``encoder`` latent searcher: z = E(x) from a trained encoder, then optionally N steps of
another searcher from there (f-AnoGAN's one-pass inversion, or a warm-started search).

It wraps a searcher the recipe names (``search``, the built-in ``backprop`` by default, with
``steps = 0``: the encoder's codes scored as they are) and hands it ``z_init = E(x)``; so the score,
the residual and the history are that searcher's, and ``initial_*`` are the encoder's own. The
encoder comes from the model searched (``UsesEncoder``): stages and evaluators bind it per model
with ``ganaug.kit.search.for_model``. Its starting points come from the images, not from a seed, so it
offers no ``ShardableSearcher``: under torchrun every rank encodes and searches all images.
"""

from __future__ import annotations

from typing import Any

import attrs
import torch
from torch import Tensor, nn

from ganaug.api.capabilities import RecordsSteps, ShardableSearcher
from ganaug.api.interfaces import SearchResult
from ganaug.api.options import Builder, ComponentRef, component, option
from ganaug.kit.search import SearcherId, checked_result, searcher_id
from ganaug.runtime.errors import GanaugError


@attrs.frozen
class EncoderSearchOptions:
    """``searcher = {name = "encoder", search = {name = "backprop", steps = 20}}``: z = E(x), then
    ``search`` from there (its default, ``steps = 0``: the encoder alone)."""

    search: ComponentRef = component(
        "latent_searchers",
        "backprop",
        help="the search started from z = E(x), with its options (steps = 0: score E(x) as it is; "
        "N: N steps of warm-started search); it must take starting points (ShardableSearcher)",
        steps=0,
    )
    chunk_size: int = option(256, validator=attrs.validators.ge(1), help="images encoded at once")


class EncoderSearcher:
    """Encodes every query, then runs the inner searcher from those codes.

    ``inner_id`` names the inner searcher (recipe name and plugin) when its result is malformed, so
    the blame goes to it, not to this wrapper."""

    def __init__(
        self,
        options: EncoderSearchOptions,
        inner: Any,
        encoder: nn.Module | None = None,
        inner_id: SearcherId | None = None,
    ) -> None:
        self.options, self.inner, self.encoder = options, inner, encoder
        self.inner_id = inner_id or SearcherId(options.search.name)

    def with_encoder(self, encoder: nn.Module) -> EncoderSearcher:
        """This searcher bound to ``encoder`` (a new object; this one is unchanged)."""
        return type(self)(self.options, self.inner, encoder, self.inner_id)

    def encode(self, queries: Tensor) -> Tensor:
        """``E(x)`` for every query, in eval mode, ``chunk_size`` at a time, on the CPU as float32."""
        if self.encoder is None:
            raise GanaugError(
                "the encoder searcher has no encoder: search a model that has one (an encoder stage's "
                "model), or bind one with with_encoder()"
            )
        encoder = self.encoder
        param = next(encoder.parameters(), None)
        device = param.device if param is not None else queries.device
        was_training = encoder.training
        encoder.eval()
        try:
            with torch.no_grad():
                parts = [
                    encoder(queries[start : start + self.options.chunk_size].to(device, torch.float32))
                    for start in range(0, int(queries.shape[0]), self.options.chunk_size)
                ]
        finally:
            encoder.train(was_training)
        if not parts:
            return torch.zeros(0, int(encoder.latent_dim))
        return torch.cat(parts).float().cpu()

    def search(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        queries: Tensor,
        *,
        seed: int,
        progress: Any = None,
    ) -> SearchResult:
        """The inner search from ``z_init = E(queries)``; ``seed`` goes to it unchanged."""
        z = self.encode(queries)
        latent_dim = int(generator.latent_dim)
        if z.shape[1] != latent_dim:
            raise GanaugError(
                f"the encoder gives {z.shape[1]} numbers per image, the generator takes {latent_dim}"
            )
        found = self.inner.search(generator, discriminator, queries, seed=seed, progress=progress, z_init=z)
        return checked_result(found, queries, self.inner_id)


class RecordingEncoderSearcher(EncoderSearcher):
    """An :class:`EncoderSearcher` whose inner searcher says which steps its history rows are."""

    @property
    def recorded_steps(self) -> list[int]:
        return list(self.inner.recorded_steps)


def encoder_searcher(options: EncoderSearchOptions, *, build: Builder) -> EncoderSearcher:
    """The ``encoder`` factory: builds the inner searcher by name through ``build``."""
    inner = build(options.search)
    if not isinstance(inner, ShardableSearcher):
        raise GanaugError(
            f"searcher 'encoder': its search {options.search.name!r} cannot start from given points "
            "(it offers no ShardableSearcher: initial_z and search(..., z_init=...))"
        )
    cls = RecordingEncoderSearcher if isinstance(inner, RecordsSteps) else EncoderSearcher
    return cls(options, inner, inner_id=searcher_id(options.search, build))
