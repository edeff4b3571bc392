"""The trivial baseline detector: mean absolute difference from the mean training image.

A GAN anomaly detector that does not beat this has learned nothing useful; the report says so.
"""

from __future__ import annotations

import attrs

from ganaug.api.capabilities import Method
from ganaug.api.interfaces import EvalContext
from ganaug.api.scoring import ImageScores, ScoreContext

METHOD = "l1-mean"


@attrs.frozen
class L1MeanOptions:
    """No options: the score is ``mean |x - mean training image|`` per test image."""


class L1MeanEvaluator:
    """Adds one ``l1-mean`` score row per test image and model (each model's own training mean)."""

    methods = (Method(METHOD, "L1-mean", role="baseline"),)

    def __init__(self, options: L1MeanOptions) -> None:
        self.options = options

    def evaluate(self, ctx: EvalContext) -> None:
        test = ctx.test
        for name, model in ctx.models.items():
            if model.train_mean is None:
                ctx.log.warning("model %s has no mean training image; l1-mean baseline skipped", name)
                continue
            mean = model.train_mean.detach().float().cpu().reshape(1, *test.images.shape[1:])
            scores = (test.images.float() - mean).abs().flatten(1).mean(1)
            ctx.add_scores(name, METHOD, scores, residual=scores)

    def score_images(self, ctx: ScoreContext) -> list[ImageScores]:
        """Score new images (``ganaug score``) against the model's mean training image."""
        if ctx.model.train_mean is None:
            return []
        mean = ctx.model.train_mean.detach().float().cpu().reshape(1, *ctx.images.shape[1:])
        scores = (ctx.images.float().cpu() - mean).abs().flatten(1).mean(1)
        return [ImageScores(METHOD, scores, residual=scores)]
