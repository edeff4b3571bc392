"""Binding a searcher that starts from an encoder (``UsesEncoder``) to a model's encoder.

A stage or evaluator builds its searcher once from the recipe, then asks :func:`for_model` for the
searcher to use with each model: the same searcher, or, when it uses an encoder, a copy bound to
that model's ``TrainedModel.encoder``. No searcher is known here by name.
"""

from __future__ import annotations

from typing import Any

from ganaug.api.capabilities import UsesEncoder
from ganaug.api.interfaces import TrainedModel
from ganaug.runtime.errors import DataError


class MissingEncoder(DataError):
    """A searcher that starts from an encoder was given a model without one."""


def needs_encoder(searcher: object) -> bool:
    """Whether ``searcher`` offers :class:`~ganaug.api.capabilities.UsesEncoder`."""
    return isinstance(searcher, UsesEncoder)


def for_model(searcher: Any, model: TrainedModel) -> Any:
    """``searcher`` as it searches ``model``: bound to the model's encoder when it uses one (the
    encoder is moved to the generator's device). Raises :class:`MissingEncoder` when it needs an
    encoder and the model has none (a train stage's model; an encoder stage's model has one)."""
    if not needs_encoder(searcher):
        return searcher
    if model.encoder is None:
        raise MissingEncoder(
            f"searcher {type(searcher).__name__} starts from an encoder, but model {model.name!r} has "
            'none: name an encoder stage (kind = "encoder") trained on it instead'
        )
    param = next(model.generator.parameters(), None)
    encoder = model.encoder.to(param.device) if param is not None else model.encoder
    return searcher.with_encoder(encoder.eval())
