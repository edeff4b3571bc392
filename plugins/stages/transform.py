"""The transform stage: classical augmentation, new training images made from real ones by an
augmenter's ops (small shifts, rotations, scaling), the bar any generative augmentation must beat.

It writes its images like the augment stage (PNGs, ``augmented.csv``, ``summary.json``) and hands
them on the same way (``add = ["<this stage>"]``), so a model trained on real + transformed
images, or a classical baseline fitted on them, compares with IAGAN augmentation on equal terms.
``count`` sets how many images it makes (e.g. as many as an IAGAN augmentation adds, so both
augmented sets get the same optimiser steps).
"""

from __future__ import annotations

import math

import attrs
import torch

from ganaug.api.context import StageContext
from ganaug.api.interfaces import ImageSet, StageOutput
from ganaug.api.options import ComponentRef, component, option
from ganaug.api.selection import ImageSelection
from ganaug.kit.imaging import from_uint8, save_grid, save_png, to_uint8
from ganaug.kit.tables import write_rows_csv
from ganaug.runtime.io import write_json, write_text
from ganaug.runtime.seeds import derive_seed
from ganaug_plugins.stages.augment import IMAGES, SUMMARY, TABLE, output_names, restore_images
from ganaug_plugins.stages.conversion import copy_scores

COLUMNS = ("output", "query", "query_class", "copy", "ssim_to_query")


@attrs.frozen
class TransformOptions:
    """Options of the transform stage: which real images, how many new ones, and the ops."""

    label: str = option(metadata={"classes": True}, help="the class the new images get")
    queries: list[ImageSelection] = option(
        validator=attrs.validators.min_len(1), help="the real images to transform (one selection or more)"
    )
    count: int | None = option(
        None,
        validator=attrs.validators.optional(attrs.validators.ge(1)),
        help="new images in all, the queries taken in turn (unset: one per query)",
    )
    augmenter: ComponentRef = component(
        "augmenters",
        "diffaugment",
        help="the ops applied to each image (default: shifts up to 1/16 of the size, rotations up to "
        "10 degrees, scaling by up to 10%, black fill; no flips, which change a digit's or a "
        "chest X-ray's meaning)",
        policy=["translation", "affine"],
        translation_ratio=0.0625,
        fill=-1.0,
    )
    pairs: int = option(8, validator=attrs.validators.ge(0), help="query/output pairs shown in pairs.png")


class TransformStage:
    """Writes ``count`` transformed copies of the query images, a mapping table and a pair grid."""

    produces = frozenset({"images"})

    def __init__(self, options: TransformOptions) -> None:
        self.options = options

    def run(self, ctx: StageContext) -> StageOutput:
        opts = self.options
        queries = ImageSet.concat([ctx.select(q) for q in opts.queries])
        count = opts.count if opts.count is not None else len(queries)
        if len(queries) == 0:
            raise ValueError(f"stage {ctx.name!r}: the query selections hold no images")
        copies = math.ceil(count / len(queries))
        names = output_names(list(queries.ids), copies)
        # copy-major order: every query once before any gets a second copy
        chosen = [(i % len(queries), i // len(queries)) for i in range(count)]
        index = torch.tensor([q for q, _ in chosen], dtype=torch.long)
        inputs = queries.images[index]
        augmenter = ctx.build(opts.augmenter)
        rng = torch.Generator().manual_seed(derive_seed(ctx.seed, "transform", ctx.name))
        with torch.no_grad():
            transformed = augmenter(inputs, rng).clamp(-1.0, 1.0)
        images = torch.stack([from_uint8(to_uint8(img)) for img in transformed])
        files = []
        out_names = [names[q * copies + c] for q, c in chosen]
        for name, image in zip(out_names, images, strict=True):
            save_png(image, ctx.dir / IMAGES / name)
        similarity = copy_scores(inputs, images)
        rows = [
            {
                "output": f"{IMAGES}/{name}",
                "query": queries.ids[q],
                "query_class": queries.classes[int(queries.labels[q])],
                "copy": c,
                "ssim_to_query": float(similarity[i]),
            }
            for i, (name, (q, c)) in enumerate(zip(out_names, chosen, strict=True))
        ]
        files.append(write_rows_csv(rows, COLUMNS, ctx.dir / TABLE))
        copy_ssim = float(similarity.mean()) if count else float("nan")
        summary = {"images": count, "label": opts.label, "copy_ssim": copy_ssim}
        files.append(write_json(ctx.dir / SUMMARY, summary))
        ctx.log.info(
            "transform: %d new images of %s from %d queries, copy SSIM %.3f",
            count,
            opts.label,
            len(queries),
            copy_ssim,
        )
        if opts.pairs:
            shown = min(opts.pairs, count)
            grid = torch.cat([inputs[:shown], images[:shown]])
            files.append(save_grid(grid, ctx.dir / "pairs.png", nrow=shown))
        files.append(write_text(ctx.dir / "report.md", _report(ctx.name, summary, bool(opts.pairs))))
        label = queries.class_index(opts.label)
        out = ImageSet(
            images,
            torch.full((count,), label, dtype=torch.long),
            tuple(f"{ctx.name}/{name}" for name in out_names),
            queries.classes,
        )
        return StageOutput(images=out, metrics=summary, files=files)

    def restore(self, ctx: StageContext) -> StageOutput:
        """Read the PNGs back in ``augmented.csv``'s order."""
        return restore_images(ctx, self.options.label)


def _report(name: str, summary: dict[str, object], pairs: bool) -> str:
    lines = [
        f"# {name}: classical augmentation",
        "",
        f"{summary['images']} new images of class {summary['label']}; mean SSIM to the image each was "
        f"made from {summary['copy_ssim']:.3f}.",
    ]
    if pairs:
        lines += ["", "Real images (top) and their transformed copies (bottom):", "", "![pairs](pairs.png)"]
    return "\n".join(lines) + "\n"
