"""How much work a built-in stage has to do, for the run's time-left estimate (``EstimatesWork``).

The unit is one image through the networks once (forward and backward); the estimates are rough by
design (a stage's images added by earlier stages are counted as one more share of its real images
each), since the run view corrects them with the speed it measures.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from ganaug.api.context import StageContext
from ganaug.api.selection import ImageSelection

#: image passes per image: a GAN or encoder step (D on real and fake, then G), a search step (G and D)
TRAIN_PASSES, SEARCH_PASSES = 3.0, 2.0


def images(ctx: StageContext, selection: ImageSelection) -> int:
    """The selection's real images, plus one share of them per earlier stage it adds."""
    real = len(ctx.select(attrs.evolve(selection, add=[])))
    return real * (1 + len(selection.add))


def search_steps(options: Any) -> int:
    """The steps of a searcher's options, looking into a wrapped ``search`` (0 when it has none)."""
    steps = getattr(options, "steps", None)
    if isinstance(steps, int):
        return steps
    inner = getattr(options, "search", None)
    return search_steps(inner.options) if inner is not None and hasattr(inner, "options") else 0


def training(ctx: StageContext, selection: ImageSelection, epochs: int) -> float:
    return TRAIN_PASSES * epochs * images(ctx, selection)


def searching(
    ctx: StageContext, selections: Iterable[ImageSelection], searcher: Any, copies: int = 1
) -> float:
    count = sum(images(ctx, s) for s in selections)
    return SEARCH_PASSES * (search_steps(searcher.options) + 1) * count * copies


def evaluating(ctx: StageContext, models: int, test: ImageSelection, evaluators: Iterable[Any]) -> float:
    """Searches of every evaluator with a searcher, per model; other evaluators count one pass."""
    count = images(ctx, test)
    total = 0.0
    for ref in evaluators:
        searcher = getattr(ref.options, "searcher", None)
        steps = search_steps(searcher.options) if searcher is not None and hasattr(searcher, "options") else 0
        total += SEARCH_PASSES * (steps + 1) * count * models
    return total
