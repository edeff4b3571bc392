"""The hooks a ganaug plugin implements: one ``register_<kind>(register)`` hook per component kind.

Each hook receives a ``register`` callable and calls it once per component::

    register(name, factory, options=OptionsClass, description="one line")

``name`` is what a recipe writes (``generator = {name = "iagan"}``), ``factory`` is called as
``factory(options, **context)`` with an instance of the attrs class ``options`` (structured from
the recipe table with cattrs) and returns the component. The interfaces each kind's component
implements live in :mod:`ganaug.api.interfaces`. Hooks are called once, when the registry is built,
never inside a training or search loop.
"""

from __future__ import annotations

from typing import Protocol

import pluggy

PROJECT = "ganaug"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class Register(Protocol):
    """The callable handed to every ``register_*`` hook."""

    def __call__(
        self,
        name: str,
        factory: object,
        options: type | None = None,
        description: str = "",
    ) -> None: ...


@hookspec
def register_generators(register: Register) -> None:
    """Register generator networks.

    Factory: ``factory(options, image: ImageSpec) -> Generator`` (an ``nn.Module`` with
    ``latent_dim``, ``conditional`` and ``forward(z, x=None)``; see ``interfaces.Generator``).
    """


@hookspec
def register_discriminators(register: Register) -> None:
    """Register discriminator networks.

    Factory: ``factory(options, image: ImageSpec) -> Discriminator`` (an ``nn.Module`` whose
    ``forward(x)`` returns ``(logits[N], features)``; see ``interfaces.Discriminator``).
    """


@hookspec
def register_gan_losses(register: Register) -> None:
    """Register adversarial losses.

    Factory: ``factory(options) -> GanLoss`` giving the discriminator's scalar loss and the
    generator's per-sample loss (so a loss weighter can weight each sample).
    """


@hookspec
def register_loss_weighters(register: Register) -> None:
    """Register per-sample weighters of the generator loss (the paper's SSIM dissimilarity).

    Factory: ``factory(options) -> LossWeighter`` with ``weights(real, fake) -> Tensor[N]``.
    """


@hookspec
def register_augmenters(register: Register) -> None:
    """Register augmenters of the images the discriminator sees while a train stage runs (DiffAugment, ADA).

    Factory: ``factory(options) -> Augmenter`` with ``__call__(images, rng) -> images``, differentiable
    and applied alike to real and generated batches (see ``interfaces.Augmenter``).
    """


@hookspec
def register_regularizers(register: Register) -> None:
    """Register regularizers of the discriminator (R1, LeCam), terms added to D's loss in a train stage.

    Factory: ``factory(options) -> Regularizer`` with ``penalty(discriminator, real, fake, real_logits,
    fake_logits) -> Tensor`` (a scalar; see ``interfaces.Regularizer``).
    """


@hookspec
def register_latent_searchers(register: Register) -> None:
    """Register latent searchers that find z for query images (augmentation and AnoGAN scoring).

    Factory: ``factory(options) -> LatentSearcher`` with ``search(...) -> SearchResult``.
    """


@hookspec
def register_encoders(register: Register) -> None:
    """Register encoder networks E that map an image to a latent code (f-AnoGAN's fast inversion of G).

    Factory: ``factory(options, image: ImageSpec, latent_dim: int) -> Encoder`` (an ``nn.Module``
    whose ``forward(x)`` returns ``z[N, latent_dim]``; see ``interfaces.Encoder``).
    """


@hookspec
def register_backbones(register: Register) -> None:
    """Register feature backbones for sample-quality metrics (KID, precision/recall), fitted on the
    run's own images: nothing is downloaded.

    Factory: ``factory(options) -> Backbone`` with ``fit(images, seed=, device=)``,
    ``features(images) -> Tensor[N, F]`` and ``describe() -> str`` (see ``interfaces.Backbone``).
    """


@hookspec
def register_evaluators(register: Register) -> None:
    """Register evaluators run by the evaluate stage, in recipe order.

    Factory: ``factory(options) -> Evaluator``; ``evaluate(ctx)`` may add per-image scores to
    the shared score table and metrics/figures to the report.
    """


@hookspec
def register_data_sources(register: Register) -> None:
    """Register data sources that load labelled images into named splits.

    Factory: ``factory(options) -> DataSource`` with ``load(ctx) -> DataBundle``.
    """


@hookspec
def register_stages(register: Register) -> None:
    """Register stage kinds (``train``, ``augment``, ``evaluate``, ...), the steps of a recipe.

    Factory: ``factory(options) -> Stage`` with ``run(ctx) -> StageOutput``.
    """


@hookspec
def register_trackers(register: Register) -> None:
    """Register experiment trackers (TensorBoard, MLflow, ...) that a recipe lists in ``run.trackers``.

    Factory: ``factory(options) -> Tracker`` (see ``interfaces.Tracker``); built once per run, on
    rank 0 only, and called per epoch and per stage, never per step.
    """


#: Component kind -> the hook that registers it; the single source of truth for kinds.
KINDS: dict[str, str] = {
    "generators": "register_generators",
    "discriminators": "register_discriminators",
    "gan_losses": "register_gan_losses",
    "loss_weighters": "register_loss_weighters",
    "augmenters": "register_augmenters",
    "regularizers": "register_regularizers",
    "latent_searchers": "register_latent_searchers",
    "encoders": "register_encoders",
    "backbones": "register_backbones",
    "evaluators": "register_evaluators",
    "data_sources": "register_data_sources",
    "stages": "register_stages",
    "trackers": "register_trackers",
}
