"""AnoGAN scoring: search z for every test image, score A(x) = (1-l)R + l*D (higher = anomalous).

Each model also gets the searcher's own score at its starting point (``anogan@init``), when the
searcher reports it (a WARNING names a searcher that does not): the no-search control that shows how
much of the detector's power comes from the search itself. A malformed search result stops the run
with a ``PluginError`` naming the searcher and its plugin (``ganaug.kit.search.checked_result``).
Under ``torchrun`` the test images are split across ranks (``EvalContext.world``).

``method`` names the score rows, so several ``anogan`` evaluators with different searchers (random
starts, the ``encoder`` searcher alone, the encoder plus N steps) stand side by side in one report,
each with its search time per image in ``metrics.json``. A searcher that starts from an encoder is
bound to each model's encoder (``ganaug.kit.search.for_model``); a model without one is left out.
"""

from __future__ import annotations

import re
import time
from typing import Any

import attrs
import torch

from ganaug.api.capabilities import Method, recorded_steps
from ganaug.api.interfaces import EvalContext, SearchResult
from ganaug.api.options import ComponentRef, component, option
from ganaug.api.scoring import ImageScores, ScoreContext
from ganaug.api.validators import method_name
from ganaug.kit.figures import plot_search_loss, save_reconstructions
from ganaug.kit.search import MissingEncoder, SearcherId, for_model, resumable_search, searcher_id
from ganaug.runtime.errors import GanaugError

METHOD = "anogan"
INIT_METHOD = "anogan@init"


@attrs.frozen
class AnoGANOptions:
    """Options of AnoGAN scoring."""

    searcher: ComponentRef = component(
        "latent_searchers", "backprop", help="the latent search (AnoGAN: 500 steps, lambda 0.2)"
    )
    method: str = option(
        METHOD,
        validator=method_name,
        help="the score rows' method name (another anogan evaluator in the same stage needs another)",
    )
    title: str = option("", help="the report column's heading (empty: AnoGAN, or the method name)")
    control: bool = option(
        True, help="also score the searcher's starting point, as method <method>@init (the no-search control)"
    )
    curves: int = option(
        16, validator=attrs.validators.ge(0), help="images whose search-loss curves are plotted"
    )
    samples: int = option(
        8, validator=attrs.validators.ge(0), help="test images shown with their reconstructions"
    )


def safe_name(text: str) -> str:
    """A file-name-safe form of a model or image name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "item"


class AnoGANEvaluator:
    """Scores every test image with every model by latent search (AnoGAN, Schlegl et al.)."""

    #: the methods of the default options; each instance declares its own (``method``, ``control``)
    methods: tuple[Method, ...] = (
        Method(METHOD, "AnoGAN"),
        Method(INIT_METHOD, "AnoGAN@init", role="control"),
    )

    def __init__(self, options: AnoGANOptions) -> None:
        self.options = options
        self.method = options.method
        title = options.title or ("AnoGAN" if options.method == METHOD else options.method)
        self.methods = (Method(self.method, title),)
        if options.control:
            self.methods += (Method(f"{self.method}@init", f"{title}@init", role="control"),)

    def evaluate(self, ctx: EvalContext) -> None:
        built = _build(ctx, self.options.searcher)
        who = searcher_id(self.options.searcher, ctx.build)
        uncontrolled: list[str] = []  # models whose search reported no starting-point terms
        for name, model in ctx.models.items():
            try:
                searcher = for_model(built, model)
            except MissingEncoder:
                why = f"has no encoder for searcher {self.options.searcher.name!r}: left out"
                ctx.log.warning("%s: model %s %s", self.method, name, why)
                continue
            model.generator.to(ctx.device)
            model.discriminator.to(ctx.device)
            ctx.log.info("%s: searching %d test images with model %s", self.method, len(ctx.test), name)
            began = time.perf_counter()
            result: SearchResult = resumable_search(
                searcher,
                ctx.world,
                model.generator,
                model.discriminator,
                ctx.test.images,
                seed=ctx.seed,
                store=ctx.dir / f"search-partial-{name}{self._suffix}",
                progress=ctx.progress,
                device=ctx.device,
                origin=who,
            )
            seconds = time.perf_counter() - began
            method = self.method
            ctx.add_scores(name, method, result.score, result.residual, result.discrimination)
            if self.options.control and not self._control(ctx, name, result):
                uncontrolled.append(name)
            timing = ctx.metrics.setdefault(name, {}).setdefault(method, {})
            timing["search_seconds"] = seconds
            timing["seconds_per_image"] = seconds / len(ctx.test) if len(ctx.test) else None
            ctx.log.info("%s: model %s: %.4g s per image", method, name, timing["seconds_per_image"] or 0.0)
            self._record(ctx, name, searcher, result)
        if uncontrolled:
            self._warn_uncontrolled(ctx, who, uncontrolled)

    def _control(self, ctx: EvalContext, name: str, result: SearchResult) -> bool:
        """The rows of ``<method>@init``: the searcher's own score at its starting points; False
        (no rows) when the searcher does not report the starting point's two terms."""
        r0, d0 = result.initial_residual, result.initial_discrimination
        if r0 is None or d0 is None:
            return False
        ctx.add_scores(name, f"{self.method}@init", result.initial_score, r0, d0)
        return True

    def _warn_uncontrolled(self, ctx: EvalContext, who: SearcherId, models: list[str]) -> None:
        """One WARNING naming the searcher that left the @init control out, and how to fix it: a
        hand-built SearchResult loses it silently otherwise."""
        ctx.log.warning(
            "%s: %s reports no starting-point terms, so method %s@init (the no-search control) is "
            "left out for model(s) %s: set SearchResult.initial_residual and initial_discrimination "
            "(the score's two terms at the starting point) to get the @init control, or set "
            "control = false on this evaluator",
            self.method,
            who,
            self.method,
            ", ".join(models),
        )

    def score_images(self, ctx: ScoreContext) -> list[ImageScores]:
        """Score new images as the test images are scored (``ganaug score``): same search, same seed."""
        model = ctx.model
        who = searcher_id(self.options.searcher, ctx.build)
        try:
            searcher = for_model(ctx.build(self.options.searcher), model)
        except MissingEncoder:
            return []  # this method needs an encoder the model lacks
        result = resumable_search(
            searcher,
            ctx.world,
            model.generator.to(ctx.device),
            model.discriminator.to(ctx.device),
            ctx.images,
            seed=ctx.seed,
            store=ctx.workdir / "search-partial",
            progress=ctx.progress,
            device=ctx.device,
            origin=who,
        )
        r = result
        return [ImageScores(self.method, r.score, r.residual, r.discrimination, r.generated, r.z)]

    @property
    def _suffix(self) -> str:
        """What this method's figure names add, so several anogan evaluators keep their own."""
        return "" if self.method == METHOD else f"-{safe_name(self.method)}"

    def _record(self, ctx: EvalContext, name: str, searcher: Any, result: SearchResult) -> None:
        history = result.loss_history
        steps = recorded_steps(searcher, history.shape[0])
        labels = [ctx.test.classes[int(i)] for i in ctx.test.labels]
        model_metrics = ctx.metrics.setdefault(name, {}).setdefault(self.method, {})
        model_metrics["search_loss"] = {
            "steps": steps,
            "mean": [float(v) for v in history.mean(1)] if history.shape[1] else [],
        }
        if len(ctx.test) == 0:
            return
        gen = torch.Generator().manual_seed(ctx.seed)
        if self.options.curves and len(steps) > 1:  # a search of 0 steps has no curve
            pick = torch.randperm(len(ctx.test), generator=gen)[: self.options.curves].tolist()
            path = ctx.dir / f"search-loss-{safe_name(name)}{self._suffix}.png"
            ctx.files.append(
                plot_search_loss(steps, history, labels, pick, path, title=f"latent search: {name}")
            )
        if self.options.samples:
            pick = torch.randperm(len(ctx.test), generator=gen)[: self.options.samples]
            path = ctx.dir / f"reconstructions-{safe_name(name)}{self._suffix}.png"
            ctx.files.append(save_reconstructions(ctx.test.images[pick], result.generated[pick], path))


def _build(ctx: EvalContext, ref: ComponentRef) -> Any:
    """Build a component the evaluator's options name, with the stage's builder."""
    if ctx.build is None:
        raise GanaugError(
            f"this evaluation context cannot build components (needed: {ref.kind} {ref.name!r})"
        )
    return ctx.build(ref)
