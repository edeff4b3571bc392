"""The augment stage: a latent search per query image turns it into a new image of the trained class.

IAGAN (paper Sec. 3): for every query image (of either class) search z with 400 steps and
lambda 0.7, and keep G(z[, x]) as an extra training image labelled with the trained class.
The images are written as PNGs and handed on as an ``ImageSet`` (``add = ["<this stage>"]``).
Under ``torchrun`` the queries are split across ranks (:mod:`ganaug_plugins.searchers.sharded`).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import attrs
import torch

from ganaug.api.capabilities import recorded_steps
from ganaug.api.context import StageContext
from ganaug.api.interfaces import ImageSet, SearchResult, StageOutput
from ganaug.api.options import ComponentRef, component, option, stage_ref
from ganaug.api.selection import ImageSelection
from ganaug.kit.figures import plot_search_loss
from ganaug.kit.imaging import from_uint8, load_png, save_grid, save_png, to_uint8
from ganaug.kit.search import MissingEncoder, for_model, needs_encoder, resumable_search, searcher_id
from ganaug.kit.tables import write_rows_csv
from ganaug.runtime.errors import CheckpointError, DataError
from ganaug.runtime.io import read_json, write_json, write_text
from ganaug.runtime.seeds import derive_seed
from ganaug_plugins.stages import work
from ganaug_plugins.stages.conversion import (
    Diversity,
    Probe,
    copy_scores,
    fit_probe,
    report_markdown,
    summarise,
    z_diversity,
)

IMAGES, TABLE, SUMMARY = "images", "augmented.csv", "summary.json"
COLUMNS = (
    "output",
    "query",
    "query_class",
    "copy",
    "residual",
    "discrimination",
    "score",
    "initial_score",
    "ssim_to_query",
    "probe_class",
)


def _diversity_z(_: object, attribute: attrs.Attribute, value: int) -> None:
    if value == 1 or value < 0:
        raise ValueError(f"must be 0 (off) or at least 2 samples to compare, got {value}")


_IMAGE_SUFFIX = re.compile(r"\.(png|jpe?g|bmp|tiff?|gif)$", re.IGNORECASE)


@attrs.frozen
class AugmentOptions:
    """Options of the augment stage: a latent search per query image makes a new image of
    ``label``; the conversion diagnostics are explained in :mod:`.conversion`."""

    model: str = stage_ref("model", help="the train stage whose G and D search")
    label: str = option(metadata={"classes": True}, help="the class the new images get")
    queries: list[ImageSelection] = option(
        validator=attrs.validators.min_len(1), help="the images to convert (one selection or more)"
    )
    copies: int = option(
        1, validator=attrs.validators.ge(1), help="new images per query, each from another starting z"
    )
    searcher: ComponentRef = component(
        "latent_searchers",
        "backprop",
        help="the latent search (IAGAN: 400 steps, lambda 0.7)",
        steps=400,
        feature_weight=0.7,
    )
    pairs: int = option(8, validator=attrs.validators.ge(0), help="query/output pairs shown per class")
    curves: int = option(
        16, validator=attrs.validators.ge(0), help="queries whose search-loss curves are plotted"
    )
    probe: ImageSelection | None = option(
        None,
        help="real images of the classes, neither queries nor test images, to fit the probe "
        "classifier that gives the conversion rate (unset: no rate)",
    )
    diversity_z: int = option(
        8, validator=_diversity_z, help="samples of z per query that measure whether z still matters (0: off)"
    )
    diversity_queries: int = option(
        64, validator=attrs.validators.ge(1), help="queries per class in the z-diversity measure"
    )


def _file_stem(name: str) -> str:
    """A class name as it can stand in a file name (``pairs-<stem>.png``, ``z-samples-<stem>.png``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _read_output(path: Path, shape: tuple[int, int, int]) -> torch.Tensor:
    """An augmented PNG read back on resume; a damaged one or one of another size is named."""
    try:
        image = load_png(path, shape[0])
    except (OSError, ValueError, SyntaxError) as exc:
        raise CheckpointError(
            f"{path} is unreadable ({exc}); remove the stage's done.json to augment again"
        ) from None
    if tuple(image.shape) != shape:
        raise CheckpointError(
            f"{path} is {tuple(image.shape)}, the run's images are {shape}; remove the stage's "
            "done.json to augment again"
        )
    return image


def output_names(ids: list[str], copies: int) -> list[str]:
    """A unique, file-name-safe PNG name per (query, copy), derived from the query id."""
    names: list[str] = []
    seen: set[str] = set()
    for query in ids:
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", _IMAGE_SUFFIX.sub("", query)).strip("._") or "image"
        for copy in range(copies):
            base = stem if copies == 1 else f"{stem}-{copy}"
            name, n = f"{base}.png", 1
            while name.lower() in seen:
                n += 1
                name = f"{base}~{n}.png"
            seen.add(name.lower())
            names.append(name)
    return names


class AugmentStage:
    """Writes one generated image per query (and copy), a mapping table, pair grids and curves."""

    produces = frozenset({"images"})

    def __init__(self, options: AugmentOptions) -> None:
        self.options = options

    def work(self, ctx: StageContext) -> float:
        """Search steps x query images x copies, for the run's time-left estimate."""
        o = self.options
        return work.searching(ctx, o.queries, o.searcher, o.copies)

    def run(self, ctx: StageContext) -> StageOutput:
        opts = self.options
        trained = ctx.output(opts.model).model
        if trained is None:
            raise DataError(f"stage {ctx.name!r}: stage {opts.model!r} produced no model")
        queries = ImageSet.concat([ctx.select(q) for q in opts.queries])
        label = queries.class_index(opts.label)
        trained.generator.to(ctx.device)
        trained.discriminator.to(ctx.device)
        try:  # a searcher that starts from an encoder gets the model's (an encoder stage's model)
            searcher = for_model(ctx.build(opts.searcher), trained)
        except MissingEncoder as exc:
            raise MissingEncoder(f"stage {ctx.name!r}: {exc}") from None
        if opts.copies > 1 and needs_encoder(searcher):
            ctx.log.warning("augment: every copy of a query starts from the same z = E(x): copies are alike")
        inputs = queries.images.repeat_interleave(opts.copies, dim=0)
        ctx.log.info("augment: %d queries x %d copies with model %s", len(queries), opts.copies, opts.model)
        # under torchrun each rank searches its block of images; all ranks get every result
        # groups of images are saved as they finish, so a killed run resumes the search
        result: SearchResult = resumable_search(
            searcher,
            ctx.world,
            trained.generator,
            trained.discriminator,
            inputs,
            seed=ctx.seed,
            store=ctx.dir / "search-partial",
            progress=ctx.progress,
            device=ctx.device,
            origin=searcher_id(opts.searcher, ctx.build),
        )
        names = output_names(list(queries.ids), opts.copies)
        # what later stages get is exactly what restore() reads back from the PNGs
        images = torch.stack([from_uint8(to_uint8(img)) for img in result.generated])
        for name, image in zip(names, images, strict=True):
            save_png(image, ctx.dir / IMAGES / name)
        copy = copy_scores(inputs, images)
        probe = self._probe(ctx, queries)
        predicted = probe.predict(images) if probe is not None else None
        rows = self._rows(queries, names, result, copy, predicted)
        diversity = self._diversity(ctx, trained.generator, queries)
        files = [write_rows_csv(rows, COLUMNS, ctx.dir / TABLE)]
        summary = self._summary(rows)
        query_classes = [row["query_class"] for row in rows]
        summary["conversion"] = summarise(query_classes, copy, diversity, predicted, opts.label, probe)
        self._log_conversion(ctx, summary["conversion"])
        steps = recorded_steps(searcher, result.loss_history.shape[0])
        for step, loss in zip(steps, result.loss_history.mean(dim=1).tolist(), strict=False):
            ctx.track.scalars(ctx.name, int(step), {"search_loss_mean": loss})
        files.append(write_json(ctx.dir / SUMMARY, summary))
        files += self._figures(ctx, queries, images, result, steps)
        files += self._diversity_figures(ctx, diversity)
        shown = [f.name for f in files if f.name.startswith(("pairs-", "z-samples-"))]
        text = report_markdown(ctx.name, opts.label, summary["conversion"], shown)
        files.append(write_text(ctx.dir / "report.md", text))
        out = ImageSet(
            images,
            torch.full((len(names),), label, dtype=torch.long),
            tuple(f"{ctx.name}/{name}" for name in names),
            queries.classes,
        )
        return StageOutput(images=out, metrics=summary, files=files)

    def _probe(self, ctx: StageContext, queries: ImageSet) -> Probe | None:
        if self.options.probe is None:
            return None
        images = ctx.select(self.options.probe)
        shared = set(images.ids) & set(queries.ids)
        if shared:
            raise DataError(
                f"stage {ctx.name!r}: {len(shared)} probe image(s) are also queries (e.g. "
                f"{sorted(shared)[0]!r}); fit the probe on images the augmentation never sees"
            )
        try:
            return fit_probe(images, derive_seed(ctx.seed, "probe", ctx.name))
        except ValueError as error:
            raise DataError(f"stage {ctx.name!r}: probe: {error}") from error

    def _diversity(
        self, ctx: StageContext, generator: torch.nn.Module, queries: ImageSet
    ) -> dict[str, Diversity]:
        opts, out = self.options, {}
        if opts.diversity_z == 0:
            return out
        for index, cls in enumerate(queries.classes):
            members = torch.nonzero(queries.labels == index).flatten()[: opts.diversity_queries]
            if len(members):
                seed = derive_seed(ctx.seed, "diversity", ctx.name, cls)
                out[cls] = z_diversity(generator, queries.images[members], opts.diversity_z, seed)
        return out

    @staticmethod
    def _log_conversion(ctx: StageContext, conversion: dict[str, Any]) -> None:
        for cls, entry in conversion["per_query_class"].items():
            parts = [f"copy SSIM {entry['copy_ssim']:.3f}"]
            if "z_diversity_ssim" in entry:
                parts.append(f"z-diversity SSIM {entry['z_diversity_ssim']:.3f}")
            if "conversion_rate" in entry:
                parts.append(f"conversion rate {entry['conversion_rate']:.1%}")
            ctx.log.info("augment: queries of class %s: %s", cls, ", ".join(parts))
        if "probe" in conversion:
            ctx.log.info("augment: probe accuracy (cross-validated) %.3f", conversion["probe"]["accuracy"])

    def _diversity_figures(self, ctx: StageContext, diversity: dict[str, Diversity]) -> list[Path]:
        """Per query class: queries in the first row, one row per z below (up to 8 queries)."""
        files = []
        for cls, div in diversity.items():
            name = _file_stem(cls)
            n = min(8, div.outputs.shape[1])
            queries = div.queries[:n]
            rows = [queries, *[div.outputs[k, :n] for k in range(div.outputs.shape[0])]]
            files.append(save_grid(torch.cat(rows), ctx.dir / f"z-samples-{name}.png", nrow=n))
        return files

    def _rows(
        self,
        queries: ImageSet,
        names: list[str],
        result: SearchResult,
        copy: torch.Tensor,
        predicted: list[str] | None,
    ) -> list[dict[str, Any]]:
        k = self.options.copies
        return [
            {
                "output": f"{IMAGES}/{name}",
                "query": queries.ids[i // k],
                "query_class": queries.classes[int(queries.labels[i // k])],
                "copy": i % k,
                "residual": float(result.residual[i]),
                "discrimination": float(result.discrimination[i]),
                "score": float(result.score[i]),
                "initial_score": float(result.initial_score[i]),
                "ssim_to_query": float(copy[i]),
                "probe_class": predicted[i] if predicted is not None else "",
            }
            for i, name in enumerate(names)
        ]

    def _summary(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        by_class: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_class.setdefault(row["query_class"], []).append(row)

        def mean(items: list[dict[str, Any]], key: str) -> float:
            return sum(r[key] for r in items) / len(items)

        return {
            "images": len(rows),
            "label": self.options.label,
            "mean_score": {c: mean(items, "score") for c, items in by_class.items()},
            "mean_initial_score": {c: mean(items, "initial_score") for c, items in by_class.items()},
        }

    def _figures(
        self,
        ctx: StageContext,
        queries: ImageSet,
        images: torch.Tensor,
        result: SearchResult,
        steps: list[int],
    ) -> list[Path]:
        opts, k = self.options, self.options.copies
        gen = torch.Generator().manual_seed(ctx.seed)
        files: list[Path] = []
        for index, cls in enumerate(queries.classes):
            members = torch.nonzero(queries.labels == index).flatten()
            if opts.pairs == 0 or len(members) == 0:
                continue
            pick = members[torch.randperm(len(members), generator=gen)[: opts.pairs]]
            rows = [queries.images[pick]] + [images[pick * k + c] for c in range(k)]
            name = _file_stem(cls)
            files.append(save_grid(torch.cat(rows), ctx.dir / f"pairs-{name}.png", nrow=len(pick)))
        if opts.curves and len(images):
            labels = [queries.classes[int(queries.labels[i // k])] for i in range(len(images))]
            pick = torch.randperm(len(images), generator=gen)[: opts.curves].tolist()
            path = ctx.dir / "search-loss.png"
            files.append(
                plot_search_loss(steps, result.loss_history, labels, pick, path, title="augment search")
            )
        return files

    def restore(self, ctx: StageContext) -> StageOutput:
        """Read the PNGs back in ``augmented.csv``'s order."""
        return restore_images(ctx, self.options.label)


def restore_images(ctx: StageContext, label_name: str) -> StageOutput:
    """A finished image-writing stage's output read back: its PNGs in ``augmented.csv``'s order,
    labelled ``label_name``, with its ``summary.json`` as metrics."""
    with open(ctx.dir / TABLE, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    shape = (0, *ctx.data.spec.shape)
    tensors = [_read_output(ctx.dir / row["output"], ctx.data.spec.shape) for row in rows]
    label = ctx.data.classes.index(label_name)
    images = ImageSet(
        torch.stack(tensors) if tensors else torch.zeros(shape),
        torch.full((len(rows),), label, dtype=torch.long),
        tuple(f"{ctx.name}/{Path(row['output']).name}" for row in rows),
        ctx.data.classes,
    )
    summary = read_json(ctx.dir / SUMMARY)
    return StageOutput(images=images, metrics=summary, files=[ctx.dir / TABLE, ctx.dir / SUMMARY])
