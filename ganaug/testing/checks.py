"""Contract checks per component kind: what the engine and the stages rely on, asserted.

Each ``check_*`` raises ``AssertionError`` (kept under ``python -O``) with what is wrong, and returns
what it computed so a test can assert more; docs/plugins.md lists them ("Testing a plugin: the
check_* helpers")."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import attrs
import tomli_w
import torch
from torch import Tensor, nn

from ganaug.api.capabilities import (
    DeclaresImage,
    DeclaresNames,
    ObservesDiscriminator,
    PenalisedLoss,
    ReportsFigures,
    Stateful,
    UsesEncoder,
)
from ganaug.api.interfaces import DataBundle, ImageSpec, SearchResult
from ganaug.api.options import ComponentRef
from ganaug.host.loading import PluginHost
from ganaug.host.registry import Registry, create
from ganaug.kit.search import result_problems
from ganaug.recipe.convert import make_converter, structure
from ganaug.runtime.errors import RecipeError
from ganaug.testing.tiny import (
    MEDIUM,
    NET,
    SMALL,
    TinyDiscriminator,
    TinyEncoder,
    TinyGenerator,
    TinyNetOptions,
    tiny_images,
)


def _expect(condition: bool, message: str) -> None:
    """Like ``assert``, but kept under ``python -O``."""
    if not condition:
        raise AssertionError(message)


def _finite(tensor: Tensor, what: str) -> None:
    _expect(bool(torch.isfinite(tensor).all()), f"{what} has NaN or inf values")


def check_options(options_cls: type, table: dict[str, Any] | None = None) -> Any:
    """Asserts ``options_cls`` is an attrs class that structures from ``table`` (default ``{}``: all
    defaults) with the strict recipe converter and unstructures to TOML-writable data; returns the
    options instance."""
    _expect(attrs.has(options_cls), f"{options_cls!r} is not an attrs class")
    converter = make_converter()
    options, problems = structure(converter, dict(table or {}), options_cls, options_cls.__name__)
    _expect(options is not None, f"{options_cls.__name__} does not structure: {problems}")
    tomli_w.dumps({"options": _drop_none(converter.unstructure(options))})
    return options


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_drop_none(v) for v in value if v is not None]
    return value


def _batch(image: ImageSpec, n: int, seed: int) -> Tensor:
    return tiny_images(n, ("x",), image.size, image.channels, seed).images


def check_generator(generator: Any, image: ImageSpec, batch: int = 3, seed: int = 0) -> Tensor:
    """Asserts ``generator`` is an ``nn.Module`` with a positive int ``latent_dim`` and a bool
    ``conditional`` whose eval-mode output for ``batch`` codes drawn from ``seed`` (and, if
    conditional, ``batch`` images of ``image``) is finite float32 ``[batch, *image.shape]`` in [-1, 1];
    returns that output."""
    _expect(isinstance(generator, nn.Module), "a generator must be an nn.Module")
    _expect(isinstance(generator.latent_dim, int) and generator.latent_dim > 0, "latent_dim: positive int")
    _expect(isinstance(generator.conditional, bool), "conditional must be a bool")
    z = torch.randn(batch, generator.latent_dim, generator=torch.Generator().manual_seed(seed))
    x = _batch(image, batch, seed) if generator.conditional else None
    was_training = generator.training
    generator.eval()
    with torch.no_grad():
        out = generator(z, x)
    generator.train(was_training)
    want = (batch, *image.shape)
    _expect(tuple(out.shape) == want, f"generator output {tuple(out.shape)}, expected {want} (N, C, H, W)")
    _expect(out.dtype == torch.float32, f"generator output dtype {out.dtype}, expected float32")
    _finite(out, "generator output")
    _expect(float(out.abs().max()) <= 1.0 + 1e-5, "generator output leaves [-1, 1]")
    return out


def check_discriminator(discriminator: Any, image: ImageSpec, batch: int = 3, seed: int = 0) -> tuple:
    """Asserts ``discriminator`` is an ``nn.Module`` that, on ``batch`` images of ``image`` (drawn from
    ``seed``), returns ``(logits[batch], features[batch, ...])`` with finite logits and gradients
    reaching the input images; returns ``(logits, features)`` detached."""
    _expect(isinstance(discriminator, nn.Module), "a discriminator must be an nn.Module")
    x = _batch(image, batch, seed).requires_grad_(True)
    out = discriminator(x)
    _expect(isinstance(out, tuple) and len(out) == 2, "discriminator must return (logits, features)")
    logits, features = out
    _expect(tuple(logits.shape) == (batch,), f"logits shape {tuple(logits.shape)}, expected ({batch},)")
    got = tuple(features.shape) if isinstance(features, Tensor) else type(features).__name__
    _expect(
        isinstance(features, Tensor) and features.shape[0] == batch,
        f"features {got}, expected ({batch}, ...)",
    )
    _finite(logits, "logits")
    logits.sum().backward()
    discriminator.zero_grad(set_to_none=True)
    _expect(x.grad is not None and bool(x.grad.abs().sum() > 0), "no gradient reaches the input image")
    return logits.detach(), features.detach()


def check_encoder(
    encoder: Any, image: ImageSpec = SMALL, latent_dim: int = NET.latent_dim, batch: int = 3
) -> Tensor:
    """Asserts ``encoder`` is an ``nn.Module`` whose ``latent_dim`` equals ``latent_dim`` and that gives
    finite codes ``[batch, latent_dim]`` for ``batch`` images of ``image``, with gradients reaching
    its parameters (an encoder stage trains it through G); returns the codes detached."""
    _expect(isinstance(encoder, nn.Module), "an encoder must be an nn.Module")
    _expect(encoder.latent_dim == latent_dim, f"latent_dim is {encoder.latent_dim}, asked for {latent_dim}")
    z = encoder(_batch(image, batch, 0))
    want = (batch, latent_dim)
    _expect(tuple(z.shape) == want, f"encoder output {tuple(z.shape)}, expected {want} (N, latent_dim)")
    _finite(z, "encoder output")
    z.pow(2).sum().backward()
    grads = [p.grad for p in encoder.parameters() if p.grad is not None]
    encoder.zero_grad(set_to_none=True)
    _expect(bool(grads), "no gradient reaches the encoder's parameters")
    return z.detach()


def check_gan_loss(
    loss: Any, discriminator: nn.Module | None = None, image: ImageSpec = SMALL, batch: int = 4
) -> dict[str, Tensor]:
    """Asserts ``loss`` gives a finite scalar ``discriminator_loss`` with gradients to both logits, a
    finite per-sample ``generator_loss`` ``[batch]``, and, for a ``PenalisedLoss``, a finite scalar
    ``discriminator_penalty`` (on ``discriminator``, default a tiny one, with images of ``image``)
    that reaches the critic's parameters; returns the terms by name."""
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(batch, generator=gen).requires_grad_(True)
    fake = torch.randn(batch, generator=gen).requires_grad_(True)
    d_loss = loss.discriminator_loss(real, fake)
    _expect(isinstance(d_loss, Tensor) and d_loss.ndim == 0, "discriminator_loss must be a scalar")
    _finite(d_loss, "discriminator_loss")
    d_loss.backward()
    _expect(real.grad is not None and fake.grad is not None, "discriminator_loss has no gradient")
    g_loss = loss.generator_loss(fake.detach().requires_grad_(True))
    _expect(tuple(g_loss.shape) == (batch,), f"generator_loss shape {tuple(g_loss.shape)}, expected [N]")
    _finite(g_loss, "generator_loss")
    found = {"discriminator_loss": d_loss.detach(), "generator_loss": g_loss.detach()}
    if isinstance(loss, PenalisedLoss):
        critic = discriminator or TinyDiscriminator(NET, image)
        penalty = loss.discriminator_penalty(critic, _batch(image, batch, 1), _batch(image, batch, 2))
        _expect(isinstance(penalty, Tensor) and penalty.ndim == 0, "discriminator_penalty must be a scalar")
        _finite(penalty, "discriminator_penalty")
        critic.zero_grad()
        penalty.backward()
        grads = [p.grad for p in critic.parameters() if p.grad is not None]
        _expect(bool(grads), "discriminator_penalty does not reach the discriminator's parameters")
        found["discriminator_penalty"] = penalty.detach()
    return found


def check_loss_weighter(weighter: Any, image: ImageSpec = SMALL, batch: int = 4) -> Tensor:
    """Asserts ``weighter.weights(real, fake)`` on ``batch`` images of ``image`` gives finite,
    non-negative weights of shape ``[batch]``; returns them."""
    weights = weighter.weights(_batch(image, batch, 1), _batch(image, batch, 2))
    _expect(tuple(weights.shape) == (batch,), f"weights shape {tuple(weights.shape)}, expected [N]")
    _finite(weights, "weights")
    _expect(bool((weights >= 0).all()), "weights must not be negative")
    return weights


def check_latent_searcher(
    searcher: Any, image: ImageSpec = SMALL, batch: int = 3, *, latent_dim: int = NET.latent_dim
) -> SearchResult:
    """Asserts ``searcher.search`` on a tiny generator (``latent_dim`` codes) and discriminator, for
    ``batch`` queries of ``image``, returns a :class:`SearchResult` the core accepts (one row per
    query in every per-image field, ``generated`` shaped like the queries, 2-D codes, one
    ``loss_history`` column per query: ``ganaug.kit.search.result_problems``) with a finite score.
    A searcher that uses an encoder (``UsesEncoder``) is given a ``TinyEncoder``. Returns the result."""
    generator = TinyGenerator(TinyNetOptions(latent_dim=latent_dim), image=image).eval()
    discriminator = TinyDiscriminator(image=image).eval()
    if isinstance(searcher, UsesEncoder):  # it starts from an encoder's codes: give it one
        searcher = searcher.with_encoder(TinyEncoder(image=image, latent_dim=latent_dim).eval())
    queries = _batch(image, batch, 3)
    result = searcher.search(generator, discriminator, queries, seed=0)
    problems = result_problems(result, queries)
    _expect(not problems, f"search returned {'; '.join(problems)}")
    _finite(result.score, "SearchResult.score")
    return result


def check_data_source(source: Any, seed: int = 0) -> DataBundle:
    """Asserts ``source.load`` (with a scratch ``DataContext`` seeded by ``seed``) gives a
    :class:`DataBundle` of float32 ``[N, C, H, W]`` images in [-1, 1], every split with the bundle's
    class list, agreeing with ``declared_splits``/``declared_classes`` (``DeclaresNames``) and
    ``declared_image`` (``DeclaresImage``) when offered; returns the bundle."""
    from ganaug.api.context import DataContext

    with tempfile.TemporaryDirectory() as folder:
        ctx = DataContext(seed, Path(folder) / "cache", Path(folder) / "report", logging.getLogger("test"))
        bundle = source.load(ctx)
    _expect(isinstance(bundle, DataBundle), "load must return a DataBundle")
    for name, images in bundle.splits.items():
        _expect(
            images.images.ndim == 4 and images.images.dtype == torch.float32, f"split {name}: dtype/shape"
        )
        _expect(float(images.images.abs().max()) <= 1.0 + 1e-5, f"split {name}: images leave [-1, 1]")
        _expect(images.classes == bundle.classes, f"split {name}: class list differs from the bundle's")
    if isinstance(source, DeclaresNames):
        for method, declared, got in (
            ("declared_splits", source.declared_splits(), set(bundle.splits)),
            ("declared_classes", source.declared_classes(), set(bundle.classes)),
        ):
            _expect(declared is None or set(declared) == got, f"{method}() says {declared}, load gave {got}")
    if isinstance(source, DeclaresImage) and (image := source.declared_image()) is not None:
        _expect(bundle.spec == image, f"declared_image() says {image}, load gave {bundle.spec}")
    return bundle


def _figures(component: Any) -> None:
    if isinstance(component, ReportsFigures):
        for key, value in component.figures().items():
            _expect(isinstance(key, str) and bool(key), "figures() keys must be non-empty names")
            _expect(
                isinstance(value, Tensor) and value.numel() == 1, f"figure {key!r} must be a 0-dim tensor"
            )


def _state_round_trip(component: Any) -> None:
    if isinstance(component, Stateful):
        state = component.state_dict()
        _expect(isinstance(state, dict), "state_dict() must return a dict")
        component.load_state_dict(state)


def check_augmenter(augmenter: Any, image: ImageSpec = SMALL, batch: int = 4) -> Tensor:
    """Asserts ``augmenter(images, rng)`` on ``batch`` images of ``image`` keeps the shape, is finite,
    passes gradients to the images and draws only from ``rng`` (the same seed gives the same
    output); ``observe``, ``figures`` and ``state_dict`` answer when offered. Returns the output."""
    x = _batch(image, batch, 1).requires_grad_(True)
    out = augmenter(x, torch.Generator().manual_seed(5))
    _expect(
        isinstance(out, Tensor) and out.shape == x.shape,
        f"output shape {getattr(out, 'shape', None)}, expected {tuple(x.shape)}",
    )
    _finite(out, "the augmented images")
    out.sum().backward()
    _expect(x.grad is not None, "no gradient reaches the images: G could not learn through the augmenter")
    again = augmenter(x.detach(), torch.Generator().manual_seed(5))
    _expect(torch.equal(again, out.detach()), "the same rng seed gave different images: draw only from rng")
    if isinstance(augmenter, ObservesDiscriminator):
        augmenter.observe(torch.randn(batch, generator=torch.Generator().manual_seed(6)))
    _figures(augmenter)
    _state_round_trip(augmenter)
    return out.detach()


def check_regularizer(regularizer: Any, image: ImageSpec = SMALL, batch: int = 4) -> Tensor:
    """Asserts ``regularizer.penalty(D, real, fake, real_logits, fake_logits)`` on a tiny D and
    ``batch`` images of ``image`` is a finite scalar whose gradient reaches D's parameters;
    ``figures`` and ``state_dict`` answer when offered. Returns the penalty."""
    critic = TinyDiscriminator(NET, image)
    real, fake = _batch(image, batch, 1), _batch(image, batch, 2)
    (real_logits, _), (fake_logits, _) = critic(real), critic(fake)
    penalty = regularizer.penalty(critic, real, fake, real_logits, fake_logits)
    _expect(isinstance(penalty, Tensor) and penalty.ndim == 0, "penalty must be a scalar tensor")
    _finite(penalty, "penalty")
    critic.zero_grad()
    penalty.backward()
    _expect(any(p.grad is not None for p in critic.parameters()), "penalty does not reach D's parameters")
    _figures(regularizer)
    _state_round_trip(regularizer)
    return penalty.detach()


def check_backbone(backbone: Any, image: ImageSpec = SMALL, batch: int = 8) -> Tensor:
    """Asserts that after ``backbone.fit`` on ``batch`` labelled images of ``image`` (two classes),
    ``features`` gives finite ``[batch, F]`` rows (the same for the same images) and ``describe()`` a
    non-empty line; returns the features."""
    images = tiny_images(batch, ("a", "b"), image.size, image.channels, seed=3)
    backbone.fit(images, seed=0, device=torch.device("cpu"))
    features = backbone.features(images.images)
    _expect(
        isinstance(features, Tensor) and features.ndim == 2 and len(features) == batch,
        "features must be [N, F]",
    )
    _finite(features, "features")
    _expect(torch.equal(backbone.features(images.images), features), "features of the same images differ")
    text = backbone.describe()
    _expect(isinstance(text, str) and bool(text.strip()), "describe() must say what produced the features")
    return features


_CHECKS = {
    "augmenters": check_augmenter,
    "regularizers": check_regularizer,
    "backbones": check_backbone,
    "generators": check_generator,
    "discriminators": check_discriminator,
    "gan_losses": check_gan_loss,
    "loss_weighters": check_loss_weighter,
    "latent_searchers": check_latent_searcher,
    "encoders": check_encoder,
}


def check_component(
    host: PluginHost | Registry,
    kind: str,
    name: str,
    table: dict[str, Any] | None = None,
    image: ImageSpec = MEDIUM,
    *,
    latent_dim: int = NET.latent_dim,
) -> Any:
    """Resolves ``table`` (default: all defaults) for component ``name`` of ``kind`` in ``host``'s
    registry as a recipe would (a located ``RecipeError`` on bad options), builds it and runs its
    kind's check: networks and encoders built for ``image``, encoders for codes of ``latent_dim``
    (what an encoder stage passes: its generator's), searchers run on a generator of ``latent_dim``.
    Returns the built component."""
    from ganaug.recipe.resolve import Scope, resolve_component

    registry = host.registry if isinstance(host, PluginHost) else host
    scope = Scope(registry, make_converter(), {}, None, None)
    ref = resolve_component(ComponentRef(name, dict(table or {})), kind, f"{kind}.{name}", scope)
    if ref is None or scope.problems:
        raise RecipeError(scope.problems, f"check_component({kind!r}, {name!r})")
    context: dict[str, Any] = {"image": image} if kind in ("generators", "discriminators") else {}
    if kind == "encoders":
        context = {"image": image, "latent_dim": latent_dim}
    built = create(registry, registry.get(kind, name), ref.options, **context)
    if kind == "data_sources":
        check_data_source(built)
    elif kind in ("encoders", "latent_searchers"):
        _CHECKS[kind](built, image=image, latent_dim=latent_dim)
    elif kind in _CHECKS:
        _CHECKS[kind](built, image=image)
    return built
