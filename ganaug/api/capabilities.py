"""Optional capabilities a component may offer beyond its kind's interface, as runtime-checkable
Protocols: the engine and built-in stages test them with ``isinstance`` and use nothing else.

Each has a section in docs/plugins.md (kept in step by tests/core/test_meta.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs
from torch import Tensor, nn

from ganaug.api.scoring import ScoresImages as ScoresImages
from ganaug.api.scoring import ScoresModels as ScoresModels

if TYPE_CHECKING:
    from pathlib import Path

    from ganaug.api.context import StageContext
    from ganaug.api.interfaces import ImageSpec, SearchResult
    from ganaug.api.preprocessing import Preprocessing


@runtime_checkable
class PenalisedLoss(Protocol):
    """A GAN loss that adds a scalar term to the discriminator loss (e.g. WGAN-GP's gradient penalty)."""

    def discriminator_penalty(self, discriminator: nn.Module, real: Tensor, fake: Tensor) -> Tensor: ...


@runtime_checkable
class PenalisedWeighter(Protocol):
    """A loss weighter that also adds a per-sample term ``[N]`` (or None) to the generator loss: a
    weight alone can only scale G's gradient, a penalty can point it away from a copy."""

    def penalty(self, real: Tensor, fake: Tensor) -> Tensor | None: ...


@runtime_checkable
class DeclaresNames(Protocol):
    """A data source that knows its split and class names without reading data (either may be None),
    so ``ganaug validate`` checks a recipe's names before a run."""

    def declared_splits(self) -> list[str] | None: ...

    def declared_classes(self) -> list[str] | None: ...


@runtime_checkable
class DeclaresImage(Protocol):
    """A data source that knows its image shape up front, so validation builds the networks for it."""

    def declared_image(self) -> ImageSpec | None: ...


@runtime_checkable
class ShardableSearcher(Protocol):
    """A latent searcher whose starting points can be drawn for all images at once and handed in:
    what lets the core split a search across ranks and resume it group by group. ``options`` (any
    value with a stable ``repr``) identifies the search, so a saved group is reused only by the same one."""

    options: Any

    def initial_z(self, n: int, latent_dim: int, seed: int) -> Tensor: ...

    def search(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        queries: Tensor,
        *,
        seed: int,
        progress: Any = None,
        z_init: Tensor | None = None,
    ) -> SearchResult: ...


@runtime_checkable
class UsesEncoder(Protocol):
    """A latent searcher that starts from an encoder's codes ``z = E(x)``: ``with_encoder(encoder)``
    returns the searcher bound to a model's encoder (the model's ``TrainedModel.encoder``); a stage
    or evaluator binds it per model through ``ganaug.kit.search.for_model``."""

    def with_encoder(self, encoder: nn.Module) -> Any: ...


@runtime_checkable
class RecordsSteps(Protocol):
    """A searcher that says which search steps its ``loss_history`` rows are (for the plots' x axis)."""

    @property
    def recorded_steps(self) -> list[int]: ...


@runtime_checkable
class ObservesDiscriminator(Protocol):
    """An augmenter that adapts to D (ADA): shown D's logits on the (augmented) real batch after
    every D step, on the device, before G's step."""

    def observe(self, real_logits: Tensor) -> None: ...


@runtime_checkable
class JudgesPairs(Protocol):
    """A discriminator that judges an image beside a conditioning image, ``d(x, cond)`` (DAGAN's
    pair discriminator): the train stage shows it (another real image of the class, x) as real and
    (G(z, x), x) as fake, so a copy of x is easy to reject. Called with one image (searches,
    shape checks) it judges the pair (x, x)."""

    judges_pairs: bool

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]: ...


@runtime_checkable
class ReportsFigures(Protocol):
    """A training component (augmenter, regularizer) with figures of its own, 0-dim tensors named as
    ``losses.csv`` columns (``ada_p``, ``r1``); read with the step's losses in one host transfer."""

    def figures(self) -> dict[str, Tensor]: ...


@runtime_checkable
class Stateful(Protocol):
    """A training component (loss, weighter, augmenter, regularizer) with state that checkpoints save
    and resume restores."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> Any: ...


@attrs.frozen
class Method:
    """A scoring method an evaluator adds to the score table. ``role`` places it in the report:
    ``detector`` (compared against the baseline), ``control`` or ``baseline``."""

    name: str
    title: str
    role: str = attrs.field(
        default="detector", validator=attrs.validators.in_(("detector", "control", "baseline"))
    )


@runtime_checkable
class ScoringEvaluator(Protocol):
    """An evaluator that declares the methods it adds to the score table; the evaluate report makes
    one column per declared method (an undeclared method still appears under "All methods")."""

    methods: tuple[Method, ...]


def recorded_steps(searcher: object, rows: int) -> list[int]:
    """The search steps of ``rows`` history rows: what the searcher declares, else 0..rows-1."""
    return list(searcher.recorded_steps) if isinstance(searcher, RecordsSteps) else list(range(rows))


@runtime_checkable
class DescribesPreprocessing(Protocol):
    """A data source that says how it turns an image file into a tensor; the engine records it in
    ``data/preprocessing.json`` when the run's data is loaded (None: nothing to record)."""

    def preprocessing(self) -> Preprocessing | None: ...


@runtime_checkable
class ReadsImages(Protocol):
    """A data source that reads one new image file exactly as it read its own data: ``[C, H, W]``
    in the run's value range; raises ``ganaug.kit.images.UnreadableImage`` for a bad file."""

    def read_image(self, path: Path) -> Tensor: ...


@runtime_checkable
class EstimatesWork(Protocol):
    """A stage that says, before it runs, how much it has to do: images passed through a network
    (epochs x images, search steps x images, ...), for the run-wide time estimate. Called once per
    run after the data is loaded; earlier stages' outputs are not there yet."""

    def work(self, ctx: StageContext) -> float: ...


@runtime_checkable
class ReadsMethods(Protocol):
    """An evaluator that reads other evaluators' score rows by method name: for each of its options
    that names methods, the names it gives (the ROC evaluator's ``curves`` and ``bars``), so the
    evaluate stage can refuse a name no scoring evaluator of the stage produces."""

    def methods_read(self) -> dict[str, list[str]]: ...


@runtime_checkable
class ChecksOptions(Protocol):
    """A stage kind (its factory class) that checks its resolved options beyond their types at
    validation: ``check_options(options, build)`` returns ``(path below the stage, message)`` pairs;
    ``build(ref)`` creates a component its options name."""

    def check_options(self, options: Any, build: Any) -> list[tuple[str, str]]: ...
