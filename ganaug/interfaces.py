"""The contracts between the engine and components: what each plugin kind must provide.

A third-party architecture plugs in by satisfying these protocols; the engine calls nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import attrs
import torch
from torch import Tensor, nn

from ganaug.distributed import World

if TYPE_CHECKING:
    import logging

    from ganaug.context import DataContext, StageContext
    from ganaug.progress import Progress
    from ganaug.selection import ImageSelection


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


@runtime_checkable
class Generator(Protocol):
    """``forward(z, x=None)`` maps latent codes ``z[N, latent_dim]`` (and, when ``conditional``,
    images ``x[N,C,H,W]``) to images in [-1, 1]. Must be an ``nn.Module``."""

    latent_dim: int
    conditional: bool

    def __call__(self, z: Tensor, x: Tensor | None = None) -> Tensor: ...


@runtime_checkable
class Discriminator(Protocol):
    """``forward(x)`` returns ``(logits[N], features[N, ...])``: raw realness scores and the
    intermediate feature map used for feature matching. Must be an ``nn.Module``."""

    def __call__(self, x: Tensor) -> tuple[Tensor, Tensor]: ...


class GanLoss(Protocol):
    """Adversarial loss on raw discriminator logits."""

    def discriminator_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """Scalar loss for the discriminator step."""
        ...

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        """Per-sample loss ``[N]`` for the generator step (the trainer weights and averages)."""
        ...

    # Optional capability: ganaug.capabilities.PenalisedLoss (a scalar added to D's loss).


class LossWeighter(Protocol):
    """Per-sample weights ``[N]`` for the generator loss, from real and generated batches.
    Optional capabilities: ``PenalisedWeighter``, ``Stateful`` (see :mod:`ganaug.capabilities`)."""

    def weights(self, real: Tensor, fake: Tensor) -> Tensor: ...


class Augmenter(Protocol):
    """A differentiable transform of the images D sees in a train stage, applied alike to the real
    and the generated batch (D's step and G's step), its randomness drawn from ``rng`` (a CPU
    ``torch.Generator`` seeded per step, so a resumed run draws the same). Optional capabilities:
    ``ObservesDiscriminator``, ``ReportsFigures``, ``Stateful``."""

    def __call__(self, images: Tensor, rng: torch.Generator) -> Tensor: ...


class Regularizer(Protocol):
    """A scalar term added to D's loss, from D, the batches D saw (augmented, when augmenters are on)
    and its logits on them. Optional capabilities: ``ReportsFigures``, ``Stateful``."""

    def penalty(
        self, discriminator: nn.Module, real: Tensor, fake: Tensor, real_logits: Tensor, fake_logits: Tensor
    ) -> Tensor: ...


@runtime_checkable
class Encoder(Protocol):
    """``forward(x)`` maps images ``x[N,C,H,W]`` in [-1, 1] to latent codes ``z[N, latent_dim]`` for
    a trained generator (f-AnoGAN's encoder). Must be an ``nn.Module``."""

    latent_dim: int

    def __call__(self, x: Tensor) -> Tensor: ...


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


class LatentSearcher(Protocol):
    """Finds, for each query image, a latent point whose generated image matches it. Optional
    capabilities: ``ShardableSearcher`` (split across ranks, resumable), ``RecordsSteps``."""

    def search(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        queries: Tensor,
        *,
        seed: int,
        progress: Any = None,
    ) -> SearchResult: ...


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


@attrs.define
class EvalContext:
    """What an evaluator sees: the trained models, the test images, and the shared score table.

    ``scores`` rows are dicts with keys ``image, label, model, method, residual,
    discrimination, score``; scoring evaluators append rows, metric evaluators read them.
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


class Backbone(Protocol):
    """Image features for sample-quality metrics, fitted on the run's own images (never downloaded
    weights): ``fit`` once per evaluate stage, then ``features`` of real and generated images, and a
    line saying what produced them (printed beside every number)."""

    def fit(self, images: ImageSet, *, seed: int, device: torch.device) -> None: ...

    def features(self, images: Tensor) -> Tensor: ...

    def describe(self) -> str: ...


class Evaluator(Protocol):
    """One step of the evaluate stage: adds score rows and/or metrics and figures. Optional
    capability: ``ScoringEvaluator`` (declares the methods it scores, for the report's columns)."""

    def evaluate(self, ctx: EvalContext) -> None: ...


class DataSource(Protocol):
    """Loads labelled images into named splits. Optional capabilities: ``DeclaresNames`` and
    ``DeclaresImage`` (what ``ganaug validate`` checks a recipe against without reading data)."""

    def load(self, ctx: DataContext) -> DataBundle: ...


class Stage(Protocol):
    """One step of a recipe. ``produces`` (on the class the factory is) names what its output sets
    for later stages: some of ``model``, ``images``, ``metrics``; validation checks that a stage
    naming another in ``models``/``add`` gets what it needs."""

    produces: ClassVar[frozenset[str]]

    def run(self, ctx: StageContext) -> StageOutput:
        """Do the stage's work, writing its files under ``ctx.dir``."""
        ...

    def restore(self, ctx: StageContext) -> StageOutput:
        """Rebuild the output of a finished stage from ``ctx.dir`` (for ``--resume``)."""
        ...


class Tracker(Protocol):
    """Receives a run's figures as they are made (TensorBoard, MLflow, ...).

    ``start`` once with the run folder, the resolved recipe and the run's tags (a sweep's setting
    and seed); ``scalars`` per epoch or search record, keyed ``<stage>/<name>``; ``image`` with a
    PNG the run wrote; ``finish`` once with the tags and the run's final numeric metrics."""

    def start(self, run_dir: Path, recipe: dict[str, Any], tags: dict[str, Any]) -> None: ...

    def scalars(self, prefix: str, step: int, values: dict[str, float]) -> None: ...

    def image(self, tag: str, step: int, png: Path) -> None: ...

    def finish(self, tags: dict[str, Any], metrics: dict[str, float]) -> None: ...
