"""AnoGAN scoring: search z for every test image, score A(x) = (1-l)R + l*D (higher = anomalous).

Each model also gets the same score at the search's starting point (``anogan@init``): the
no-search control that shows how much of the detector's power comes from the search itself.
Under ``torchrun`` the test images are split across ranks (the evaluate stage sets ``world``).
"""

from __future__ import annotations

import re
from typing import Any

import attrs
import torch
from torch import Tensor

from ganaug.distributed import World
from ganaug.errors import GanaugError
from ganaug.interfaces import EvalContext, ImageSet, SearchResult, TrainedModel
from ganaug.recipe.schema import ComponentRef, component
from ganaug_plugins.evaluators.plots import plot_search_loss, save_reconstructions
from ganaug_plugins.searchers.backprop import search_terms
from ganaug_plugins.searchers.frozen import frozen
from ganaug_plugins.searchers.resumable import resumable_search

METHOD = "anogan"
INIT_METHOD = "anogan@init"


@attrs.frozen
class AnoGANOptions:
    """``searcher``: the latent search (AnoGAN: 500 steps, lambda 0.2); ``curves``: how many
    images' search-loss curves to plot; ``samples``: test images shown with their reconstructions."""

    searcher: ComponentRef = component("latent_searchers", "backprop")
    curves: int = attrs.field(default=16, validator=attrs.validators.ge(0))
    samples: int = attrs.field(default=8, validator=attrs.validators.ge(0))


def safe_name(text: str) -> str:
    """A file-name-safe form of a model or image name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._") or "item"


def terms_at(model: TrainedModel, queries: Tensor, z: Tensor, chunk: int = 256) -> tuple[Tensor, Tensor]:
    """Residual and discrimination of every query at the given latent points (no search)."""
    g, d = model.generator, model.discriminator
    device = next(g.parameters(), torch.zeros(0)).device
    residuals, discriminations = [], []
    with frozen(g, d), torch.no_grad():
        for start in range(0, len(queries), chunk):
            x = queries[start : start + chunk].to(device, torch.float32)
            zc = z[start : start + chunk].to(device)
            fake = g(zc, x) if getattr(g, "conditional", False) else g(zc)
            r, f = search_terms(x, d(x)[1], fake, d(fake)[1])
            residuals.append(r.cpu())
            discriminations.append(f.cpu())
    return torch.cat(residuals), torch.cat(discriminations)


def _rows(test: ImageSet, model: str, method: str, r: Tensor, d: Tensor, s: Tensor) -> list[dict[str, Any]]:
    return [
        {
            "image": test.ids[i],
            "label": test.classes[int(test.labels[i])],
            "model": model,
            "method": method,
            "residual": float(r[i]),
            "discrimination": float(d[i]),
            "score": float(s[i]),
        }
        for i in range(len(test))
    ]


class AnoGANEvaluator:
    """Scores every test image with every model by latent search (AnoGAN, Schlegl et al.)."""

    def __init__(self, options: AnoGANOptions) -> None:
        self.options = options
        #: the torchrun job this evaluator searches in; the evaluate stage sets it (1 process: World())
        self.world = World()

    def evaluate(self, ctx: EvalContext) -> None:
        searcher = _build(ctx, self.options.searcher)
        for name, model in ctx.models.items():
            model.generator.to(ctx.device)
            model.discriminator.to(ctx.device)
            ctx.log.info("anogan: searching %d test images with model %s", len(ctx.test), name)
            result: SearchResult = resumable_search(
                searcher,
                self.world,
                model.generator,
                model.discriminator,
                ctx.test.images,
                seed=ctx.seed,
                store=ctx.dir / f"search-partial-{name}",
                progress=ctx.progress,
                device=ctx.device,
            )
            ctx.scores += _rows(ctx.test, name, METHOD, result.residual, result.discrimination, result.score)
            r0, d0 = terms_at(model, ctx.test.images, result.z_initial)
            ctx.scores += _rows(ctx.test, name, INIT_METHOD, r0, d0, result.initial_score)
            self._record(ctx, name, searcher, result)

    def _record(self, ctx: EvalContext, name: str, searcher: Any, result: SearchResult) -> None:
        history = result.loss_history
        steps = list(getattr(searcher, "recorded_steps", range(history.shape[0])))
        labels = [ctx.test.classes[int(i)] for i in ctx.test.labels]
        model_metrics = ctx.metrics.setdefault(name, {}).setdefault(METHOD, {})
        model_metrics["search_loss"] = {
            "steps": steps,
            "mean": [float(v) for v in history.mean(1)] if history.shape[1] else [],
        }
        if len(ctx.test) == 0:
            return
        gen = torch.Generator().manual_seed(ctx.seed)
        if self.options.curves:
            pick = torch.randperm(len(ctx.test), generator=gen)[: self.options.curves].tolist()
            path = ctx.dir / f"search-loss-{safe_name(name)}.png"
            ctx.files.append(
                plot_search_loss(steps, history, labels, pick, path, title=f"latent search: {name}")
            )
        if self.options.samples:
            pick = torch.randperm(len(ctx.test), generator=gen)[: self.options.samples]
            path = ctx.dir / f"reconstructions-{safe_name(name)}.png"
            ctx.files.append(save_reconstructions(ctx.test.images[pick], result.generated[pick], path))


def _build(ctx: EvalContext, ref: ComponentRef) -> Any:
    """Build a component the evaluator's options name, with the stage's builder."""
    if ctx.build is None:
        raise GanaugError(
            f"this evaluation context cannot build components (needed: {ref.kind} {ref.name!r})"
        )
    return ctx.build(ref)
