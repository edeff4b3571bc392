"""Tiny seeded data, networks and recipes: a plugin's end-to-end test runs in seconds on a CPU."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
import tomli_w
import torch
from torch import Tensor, nn

from ganaug.api.hookspecs import Register, hookimpl
from ganaug.api.interfaces import DataBundle, ImageSet, ImageSpec
from ganaug.host.loading import PluginHost
from ganaug.recipe.schema import Recipe


def tiny_images(
    n: int = 8,
    classes: Iterable[str] = ("a", "b"),
    size: int = 8,
    channels: int = 1,
    seed: int = 0,
    prefix: str = "tiny",
) -> ImageSet:
    """``n`` seeded images in [-1, 1], labels cycling through ``classes``.

    Class ``k`` is noise around a brightness of its own plus a bright row at a class-specific
    height, so a model can tell the classes apart.
    """
    names = tuple(classes)
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % len(names)
    level = (labels.float() / max(len(names) - 1, 1) - 0.5).view(-1, 1, 1, 1)
    images = level + 0.25 * torch.randn(n, channels, size, size, generator=gen)
    rows = (labels * (size - 1)) // max(len(names) - 1, 1)
    images[torch.arange(n), :, rows, :] = 0.9
    ids = tuple(f"{prefix}-{i:04d}" for i in range(n))
    return ImageSet(images.clamp(-1, 1).float(), labels, ids, names)


def tiny_bundle(
    per_class: int = 4,
    classes: Iterable[str] = ("a", "b"),
    size: int = 8,
    channels: int = 1,
    seed: int = 0,
    splits: Iterable[str] = ("train", "test"),
) -> DataBundle:
    """A :class:`DataBundle` with ``per_class`` images of each class in every split."""
    names = tuple(classes)
    parts = {
        split: tiny_images(per_class * len(names), names, size, channels, seed + 1000 * i, split)
        for i, split in enumerate(splits)
    }
    return DataBundle(names, parts)


@attrs.frozen
class TinySourceOptions:
    """Options of the ``tiny`` data source."""

    classes: list[str] = attrs.Factory(lambda: ["a", "b"])
    per_class: int = attrs.field(default=8, validator=attrs.validators.ge(1))
    size: int = attrs.field(default=16, validator=attrs.validators.ge(4))
    channels: int = attrs.field(default=1, validator=attrs.validators.in_((1, 3)))
    splits: list[str] = attrs.Factory(lambda: ["train", "test"])


class TinySource:
    """In-memory seeded images (see :func:`tiny_images`); nothing read from disk."""

    def __init__(self, options: TinySourceOptions) -> None:
        self.options = options

    def declared_splits(self) -> list[str]:
        return list(self.options.splits)

    def declared_classes(self) -> list[str]:
        return list(self.options.classes)

    def load(self, ctx: Any) -> DataBundle:
        o = self.options
        return tiny_bundle(o.per_class, o.classes, o.size, o.channels, int(ctx.seed), o.splits)


@attrs.frozen
class TinyNetOptions:
    """Options of the ``tiny`` generator and discriminator."""

    latent_dim: int = attrs.field(default=8, validator=attrs.validators.ge(1))
    hidden: int = attrs.field(default=32, validator=attrs.validators.ge(1))
    conditional: bool = False


#: Default sizes: checks use 8x8 images (``SMALL``), ``check_component`` builds networks at 16x16.
SMALL = ImageSpec(1, 8)
MEDIUM = ImageSpec(1, 16)
NET = TinyNetOptions()


class TinyGenerator(nn.Module):
    """A one-hidden-layer MLP generator; conditional on ``x`` when asked. Output in [-1, 1]."""

    def __init__(self, options: TinyNetOptions = NET, image: ImageSpec = SMALL):
        super().__init__()
        self.latent_dim, self.conditional, self.image = options.latent_dim, options.conditional, image
        pixels = image.channels * image.size * image.size
        inputs = options.latent_dim + (pixels if options.conditional else 0)
        self.net = nn.Sequential(
            nn.Linear(inputs, options.hidden), nn.ReLU(), nn.Linear(options.hidden, pixels)
        )

    def forward(self, z: Tensor, x: Tensor | None = None) -> Tensor:
        if self.conditional:
            if x is None:
                raise ValueError("this generator is conditional: pass x")
            z = torch.cat([z, x.flatten(1)], dim=1)
        return torch.tanh(self.net(z)).view(-1, *self.image.shape)


class TinyDiscriminator(nn.Module):
    """A one-hidden-layer MLP discriminator returning ``(logits[N], features[N, hidden])``."""

    def __init__(self, options: TinyNetOptions = NET, image: ImageSpec = SMALL):
        super().__init__()
        pixels = image.channels * image.size * image.size
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(pixels, options.hidden), nn.LeakyReLU(0.2))
        self.head = nn.Linear(options.hidden, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        features = self.features(x)
        return self.head(features).squeeze(1), features


class TinyEncoder(nn.Module):
    """A one-hidden-layer MLP encoder ``forward(x) -> z[N, latent_dim]`` (``latent_dim`` defaults to
    the options'; an encoder stage passes its generator's)."""

    def __init__(
        self, options: TinyNetOptions = NET, image: ImageSpec = SMALL, latent_dim: int | None = None
    ):
        super().__init__()
        self.latent_dim = options.latent_dim if latent_dim is None else latent_dim
        pixels = image.channels * image.size * image.size
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(pixels, options.hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(options.hidden, self.latent_dim),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class TinyPlugin:
    """Registers ``tiny`` as a data source, a generator, a discriminator and an encoder, for quick runs."""

    plugin_name = "ganaug.testing:tiny"

    @hookimpl
    def register_data_sources(self, register: Register) -> None:
        register("tiny", TinySource, options=TinySourceOptions, description="Tiny seeded in-memory images")

    @hookimpl
    def register_generators(self, register: Register) -> None:
        register("tiny", TinyGenerator, options=TinyNetOptions, description="Tiny MLP generator")

    @hookimpl
    def register_discriminators(self, register: Register) -> None:
        register("tiny", TinyDiscriminator, options=TinyNetOptions, description="Tiny MLP discriminator")

    @hookimpl
    def register_encoders(self, register: Register) -> None:
        register("tiny", TinyEncoder, options=TinyNetOptions, description="Tiny MLP encoder")


TINY = TinyPlugin()


def tiny_recipe(
    *stages: dict[str, Any], data: dict[str, Any] | None = None, run: dict[str, Any] | None = None
) -> str:
    """TOML text of a recipe on the ``tiny`` data source (CPU, seed 0) with the given stages.

    ``stages``: one dict per ``[[stages]]`` table, in order (``{"kind": "train", "name": ..., ...}``);
    nested dicts and lists become TOML tables and arrays, so any stage option can be given.
    ``data``: ``[data]`` options laid over ``{"source": "tiny"}``; a ``"source"`` key picks another
    data source (``{"source": "mnist-5k", "classes": ["8", "3"], "split": {...}}``).
    ``run``: ``[run]`` options laid over ``{"name": "tiny", "seed": 0, "device": "cpu"}``.
    Raises ``ValueError`` without a stage. Resolve the text with :func:`recipe_from` or run it
    with :func:`run_text`, or write it to a file for the command line.
    """
    if not stages:
        raise ValueError("tiny_recipe needs at least one stage table")
    table = {
        "run": {"name": "tiny", "seed": 0, "device": "cpu", **(run or {})},
        "data": {"source": "tiny", **(data or {})},
        "stages": [dict(stage) for stage in stages],
    }
    return tomli_w.dumps(table)


def recipe_from(text: str, host: PluginHost, overrides: Iterable[str] = ()) -> Recipe:
    """Parse and resolve recipe text against ``host``'s registry (raises ``RecipeError``)."""
    from ganaug.recipe.load import parse_recipe

    return parse_recipe(text, source="<test recipe>", overrides=overrides, registry=host.registry)


def run_text(text: str, host: PluginHost, out: Path, overrides: Iterable[str] = ()) -> Any:
    """Resolve and run recipe text with ``host``'s plugins into ``out``; returns the RunResult."""
    from ganaug.runner.engine import run_recipe

    return run_recipe(recipe_from(text, host, overrides), out=Path(out), host=host)
