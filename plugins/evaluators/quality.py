"""The ``quality`` evaluator: how close a model's samples are to real images of its class, on the
features of a backbone fitted on the run's own images (never downloaded weights)."""

from __future__ import annotations

from typing import Any

import attrs
import torch

from ganaug.api.interfaces import EvalContext, ImageSet
from ganaug.api.networks import frozen, generate, is_conditional
from ganaug.api.options import ComponentRef, component, option
from ganaug.api.selection import ImageSelection
from ganaug.api.validators import at_least_one
from ganaug.runtime.seeds import derive_seed
from ganaug_plugins.evaluators.sample_metrics import kid, mean_pairwise_ssim, prdc


@attrs.frozen
class QualityOptions:
    """Options of the sample-quality evaluator."""

    backbone: ComponentRef = component(
        "backbones", "classifier-cnn", help="the feature network the metrics compare samples on"
    )
    fit: ImageSelection = option(
        factory=lambda: ImageSelection(split="probe"),
        help="images the backbone is fitted on (labelled; never the samples)",
    )
    samples: int = option(
        0, validator=attrs.validators.ge(0), help="samples drawn per model (0: as many as reference images)"
    )
    kid_subsets: int = option(50, validator=at_least_one, help="random subsets KID is averaged over")
    kid_subset_size: int = option(100, validator=attrs.validators.ge(2), help="images per KID subset")
    k: int = option(5, validator=at_least_one, help="nearest neighbours of precision/recall/density/coverage")
    diversity_images: int = option(
        100, validator=attrs.validators.ge(2), help="images whose pairwise SSIM gives the diversity"
    )
    chunk_size: int = option(
        256, validator=at_least_one, help="images per forward pass of G and the backbone"
    )


FIELDS = ("kid", "kid_std", "precision", "recall", "density", "coverage", "sample_ssim", "real_ssim")


class QualityEvaluator:
    """Per unconditional model: KID, precision/recall/density/coverage of G(z) against the test
    images of the classes other than ``positive`` (the class the models were trained on), and the
    mean pairwise SSIM of samples and of those real images (diversity: lower is more diverse)."""

    def __init__(self, options: QualityOptions) -> None:
        self.options = options

    def evaluate(self, ctx: EvalContext) -> None:
        o = self.options
        if ctx.select is None or ctx.build is None:
            raise RuntimeError("the quality evaluator needs the stage's select and build")
        reference = _normal(ctx.test, ctx.positive)
        backbone = ctx.build(o.backbone)
        backbone.fit(ctx.select(o.fit), seed=derive_seed(ctx.seed, "quality", "backbone"), device=ctx.device)
        described = backbone.describe()
        ctx.log.info("quality: backbone %s", described)
        real = _features(backbone, reference.images, ctx.device, o.chunk_size)
        real_ssim = mean_pairwise_ssim(reference.images, limit=o.diversity_images)
        n = o.samples or len(reference)
        rows: dict[str, dict[str, Any]] = {}
        for name, model in ctx.models.items():
            if is_conditional(model.generator):
                ctx.log.info(
                    "quality: %s has a conditional generator; skipped (its samples depend on x)", name
                )
                continue
            seed = derive_seed(ctx.seed, "quality", name)
            z = torch.randn(n, model.generator.latent_dim, generator=torch.Generator().manual_seed(seed))
            with frozen(model.generator), torch.no_grad():
                parts = [generate(model.generator, c.to(ctx.device)).cpu() for c in z.split(o.chunk_size)]
            fake_images = torch.cat(parts)
            fake = _features(backbone, fake_images, ctx.device, o.chunk_size)
            mean, std = kid(real, fake, subsets=o.kid_subsets, subset_size=o.kid_subset_size, seed=seed)
            found = {
                "kid": mean,
                "kid_std": std,
                **prdc(real, fake, k=o.k),
                "sample_ssim": mean_pairwise_ssim(fake_images, limit=o.diversity_images),
                "real_ssim": real_ssim,
                "samples": n,
                "reference": len(reference),
                "backbone": described,
            }
            ctx.metrics.setdefault(name, {})["quality"] = found
            rows[name] = found
        ctx.sections.extend(_section(rows, described, reference, ctx.positive))


def _features(backbone: Any, images: torch.Tensor, device: torch.device, chunk: int) -> torch.Tensor:
    """The backbone's features of ``images``, ``chunk`` at a time on ``device``, gathered on the CPU."""
    return torch.cat([backbone.features(c.to(device)).cpu() for c in images.split(chunk)])


def _normal(test: ImageSet, positive: str) -> ImageSet:
    """The test images of every class but ``positive``."""
    normal = test.of_classes([c for c in test.classes if c != positive])
    if not len(normal):
        raise ValueError(f"the test images hold no class other than {positive!r} to compare samples with")
    return normal


def _section(rows: dict[str, dict[str, Any]], backbone: str, reference: ImageSet, positive: str) -> list[str]:
    if not rows:
        return []
    head = (
        "| model | KID x 1000 (± SD over subsets) | precision | recall | density | coverage | sample SSIM |"
    )
    lines = [
        "## Sample quality",
        "",
        f"Samples G(z) against the {len(reference)} test images not of class {positive!r}. "
        f"Backbone: {backbone}. Lower KID is better; sample SSIM is the mean pairwise SSIM of samples "
        f"(lower: more diverse; real images: {next(iter(rows.values()))['real_ssim']:.3f}).",
        "",
        head,
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {1000 * r['kid']:.2f} ± {1000 * r['kid_std']:.2f} | {r['precision']:.3f} | "
            f"{r['recall']:.3f} | {r['density']:.3f} | {r['coverage']:.3f} | {r['sample_ssim']:.3f} |"
        )
    return lines
