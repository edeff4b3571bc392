"""The records that travel between the engine and components: image shapes and sets, a data
source's bundle, a search's result, a trained model, a stage's output, an evaluator's context.

Plain data (attrs); the protocols that produce and consume them are in :mod:`ganaug.api.interfaces`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import torch
from torch import Tensor, nn

from ganaug.runtime.distributed import World

if TYPE_CHECKING:
    import logging

    from ganaug.api.selection import ImageSelection
    from ganaug.runtime.progress import Progress


@attrs.frozen
class ImageSpec:
    """Shape of the images a network consumes and produces: ``channels`` x ``size`` x ``size``."""

    channels: int = 1
    size: int = 64

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.size, self.size)


@attrs.frozen
class ImageSet:
    """Images in [-1, 1] (``N,C,H,W`` float32) with integer labels into ``classes`` and ids."""

    images: Tensor
    labels: Tensor
    ids: tuple[str, ...]
    classes: tuple[str, ...]

    def __attrs_post_init__(self) -> None:
        n = self.images.shape[0]
        if self.labels.shape[0] != n or len(self.ids) != n:
            raise ValueError(f"ImageSet: {n} images, {self.labels.shape[0]} labels, {len(self.ids)} ids")

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def spec(self) -> ImageSpec:
        return ImageSpec(channels=int(self.images.shape[1]), size=int(self.images.shape[-1]))

    def class_index(self, name: str) -> int:
        return self.classes.index(name)

    def subset(self, index: Tensor | Sequence[int]) -> ImageSet:
        idx = torch.as_tensor(index, dtype=torch.long)
        return ImageSet(
            self.images[idx], self.labels[idx], tuple(self.ids[i] for i in idx.tolist()), self.classes
        )

    def of_classes(self, names: Sequence[str]) -> ImageSet:
        wanted = torch.tensor([self.class_index(c) for c in names], dtype=torch.long)
        return self.subset(torch.nonzero(torch.isin(self.labels, wanted)).flatten())

    @staticmethod
    def concat(parts: Sequence[ImageSet]) -> ImageSet:
        if not parts:
            raise ValueError("ImageSet.concat needs at least one part")
        classes = parts[0].classes
        if any(p.classes != classes for p in parts):
            raise ValueError("ImageSet.concat: parts have different class lists")
        return ImageSet(
            torch.cat([p.images for p in parts]),
            torch.cat([p.labels for p in parts]),
            tuple(i for p in parts for i in p.ids),
            classes,
        )


@attrs.frozen
class DataBundle:
    """What a data source loads: the class names and named splits (``train``, ``test``, ...)."""

    classes: tuple[str, ...]
    splits: dict[str, ImageSet]
    skipped: tuple[tuple[str, str], ...] = ()

    @property
    def spec(self) -> ImageSpec:
        return next(iter(self.splits.values())).spec


@attrs.frozen
class SearchResult:
    """Per-image outcome of a latent search; every tensor has the queries' length first."""

    z: Tensor
    z_initial: Tensor
    generated: Tensor
    residual: Tensor
    discrimination: Tensor
    score: Tensor
    initial_score: Tensor
    loss_history: Tensor  # [steps_recorded, N] total loss per image
    #: the score's two terms at the starting point, for the no-search control (None: not reported)
    initial_residual: Tensor | None = None
    initial_discrimination: Tensor | None = None

    def per_image(self) -> dict[str, Tensor]:
        """Every per-image field that is set (N first), by name; ``loss_history`` excluded."""
        names = [f.name for f in attrs.fields(SearchResult) if f.name != "loss_history"]
        return {name: value for name in names if (value := getattr(self, name)) is not None}


@attrs.define
class TrainedModel:
    """A trained generator/discriminator pair as a train stage hands it on (an encoder stage adds
    ``encoder``)."""

    name: str
    generator: nn.Module
    discriminator: nn.Module
    image: ImageSpec
    checkpoint: Path | None = None
    train_mean: Tensor | None = None  # mean training image, for the trivial L1 baseline
    encoder: nn.Module | None = None  # an Encoder of G's latent space (an encoder stage's model)
    #: the images the model was trained on (its stage's selection, ``add`` included), so a baseline
    #: detector can be fitted on exactly the same ones (None: the stage does not say)
    train_data: ImageSelection | None = None


@attrs.define
class StageOutput:
    """What a stage hands to later stages; its kind's ``Stage.produces`` says which fields it sets."""

    model: TrainedModel | None = None
    images: ImageSet | None = None
    metrics: dict[str, Any] = attrs.Factory(dict)
    files: list[Path] = attrs.Factory(list)


#: the score table's columns (``EvalContext.scores`` rows, ``scores.csv``), in order
SCORE_COLUMNS = ("image", "label", "model", "method", "residual", "discrimination", "score")


@attrs.frozen
class ScoreRow:
    """One row of the score table: one test image scored by one method of one model (higher =
    more anomalous); ``residual`` and ``discrimination`` are the score's terms where it has them."""

    image: str
    label: str
    model: str
    method: str
    score: float
    residual: float | None = None
    discrimination: float | None = None

    def as_row(self) -> dict[str, Any]:
        """The row as the score table holds it: :data:`SCORE_COLUMNS`, in order."""
        return {column: getattr(self, column) for column in SCORE_COLUMNS}


@attrs.define
class EvalContext:
    """What an evaluator sees: the trained models, the test images, and the shared score table.

    ``scores`` rows are dicts of :data:`SCORE_COLUMNS`; scoring evaluators add them with
    :meth:`add_scores` (one per test image), metric evaluators read them.
    """

    models: dict[str, TrainedModel]
    test: ImageSet
    positive: str
    dir: Path
    device: torch.device
    seed: int
    log: logging.Logger
    progress: Progress
    scores: list[dict[str, Any]] = attrs.Factory(list)
    metrics: dict[str, Any] = attrs.Factory(dict)
    files: list[Path] = attrs.Factory(list)
    build: Callable[..., Any] | None = None  # the stage's builder, for an evaluator's own components
    world: World = attrs.Factory(World)  # the torchrun job: a scoring evaluator may split its images
    #: the run's images a selection names (``ImageSelection`` -> ``ImageSet``), e.g. to fit a backbone
    select: Callable[..., ImageSet] | None = None
    #: Markdown lines an evaluator adds to the stage's ``report.md`` (a table of its own, say)
    sections: list[str] = attrs.Factory(list)

    def add_scores(
        self,
        model: str,
        method: str,
        score: Sequence[float] | Tensor,
        residual: Sequence[float] | Tensor | None = None,
        discrimination: Sequence[float] | Tensor | None = None,
    ) -> None:
        """Add one row per test image (in ``test`` order) for ``method`` of ``model``."""
        columns = {"score": score, "residual": residual, "discrimination": discrimination}
        values = {k: _floats(v) for k, v in columns.items() if v is not None}
        if any(len(v) != len(self.test) for v in values.values()):
            counts = ", ".join(f"{len(v)} {k}" for k, v in values.items())
            raise ValueError(f"{method} of {model}: {counts} for {len(self.test)} test images")
        for i, image in enumerate(self.test.ids):
            label = self.test.classes[int(self.test.labels[i])]
            terms = {k: v[i] for k, v in values.items()}
            self.scores.append(ScoreRow(image, label, model, method, **terms).as_row())


def _floats(values: Sequence[float] | Tensor) -> list[float]:
    return (
        values.detach().cpu().flatten().tolist() if isinstance(values, Tensor) else [float(v) for v in values]
    )
