"""Toys for the train-stage tests: a blob data source, a loss that can interrupt or go NaN, the
tiny IAGAN recipe on them, and the small networks and batches of the limited-data step tests.

Shared by tests/builtins (train stage, EMA, spectral norm, limited data, training plugins,
quality), so no test module imports another.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import Tensor, nn

from ganaug.api.hookspecs import Register, hookimpl
from ganaug.api.interfaces import DataBundle, ImageSet
from ganaug.host.loading import make_plugin_host
from ganaug.recipe.load import parse_recipe
from ganaug.runner.engine import run_recipe
from ganaug.testing import tiny_recipe
from ganaug_plugins.losses.gan import LeastSquaresLoss
from ganaug_plugins.stages.train import TrainOptions, TrainStage

# --- blobs and the watched loss --------------------------------------------------------------------


@attrs.frozen
class BlobOptions:
    n: int = 24
    size: int = 32
    channels: int = 1


class Blobs:
    """Seeded bright blobs on a dark background, labelled by their side of the image."""

    def __init__(self, options: BlobOptions) -> None:
        self.options = options

    def declared_splits(self) -> list[str]:
        return ["train"]

    def declared_classes(self) -> list[str]:
        return ["left", "right"]

    def load(self, ctx: Any) -> DataBundle:
        o = self.options
        gen = torch.Generator().manual_seed(7)
        axis = torch.linspace(-1, 1, o.size)
        yy, xx = torch.meshgrid(axis, axis, indexing="ij")
        centres = torch.rand(o.n, 2, generator=gen) * 1.2 - 0.6
        cx, cy = centres[:, 0, None, None], centres[:, 1, None, None]
        blobs = torch.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 0.1)
        images = (blobs * 2 - 1).unsqueeze(1).repeat(1, o.channels, 1, 1)
        labels = (centres[:, 0] > 0).long()
        split = ImageSet(images, labels, tuple(f"blob{i}" for i in range(o.n)), ("left", "right"))
        return DataBundle(("left", "right"), {"train": split})


#: Calls of ``generator_loss`` after which the ``watched`` loss sends SIGINT / returns NaN
#: (tests/builtins/conftest.py's ``reset_triggers`` fixture clears both around a test).
TRIGGERS: dict[str, int | None] = {"interrupt": None, "nan": None}
CALLS = {"n": 0}


class WatchedLoss(LeastSquaresLoss):
    """Least squares, but it can interrupt the run or go NaN at a chosen G step (test hooks)."""

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        CALLS["n"] += 1
        if TRIGGERS["interrupt"] == CALLS["n"]:
            os.kill(os.getpid(), signal.SIGINT)
        loss = super().generator_loss(fake_logits)
        return loss * float("nan") if TRIGGERS["nan"] == CALLS["n"] else loss


class TestPlugin:
    """Registers the ``blobs`` source, the ``watched`` loss and the train stage."""

    __test__ = False  # a plugin, not a test class: pytest leaves it alone where it is imported

    @hookimpl
    def register_data_sources(self, register: Register) -> None:
        register("blobs", Blobs, options=BlobOptions)

    @hookimpl
    def register_gan_losses(self, register: Register) -> None:
        register("watched", lambda options: WatchedLoss())

    @hookimpl
    def register_stages(self, register: Register) -> None:
        register("train", TrainStage, options=TrainOptions)


BUILTINS = tuple(
    f"ganaug_plugins.{name}.plugin" for name in ("models.iagan", "models.dcgan", "losses", "weighters")
)
HOST = make_plugin_host(builtins=BUILTINS, entry_points=False, extra=[("testdata", TestPlugin())])

# --- the tiny IAGAN recipe on blobs ----------------------------------------------------------------

#: 24 blobs / batch 8 = 3 G steps an epoch x 2 epochs, a checkpoint and a sample grid every epoch
IAGAN_STAGE: dict[str, Any] = {
    "kind": "train",
    "name": "iagan",
    "epochs": 2,
    "batch_size": 8,
    "checkpoint_every": 1,
    "sample_every": 1,
    "samples": 6,
    "generator": {"name": "iagan", "latent_dim": 16, "width": 16},
    "discriminator": {"name": "iagan", "width": 16},
}


def iagan_text(seed: int = 0, loss: str = "least-squares") -> str:
    """The tiny IAGAN recipe on blobs as TOML text (run name ``tiny``, CPU)."""
    return tiny_recipe({**IAGAN_STAGE, "loss": loss}, data={"source": "blobs"}, run={"seed": seed})


def iagan(seed: int = 0, loss: str = "least-squares", *overrides: str) -> Any:
    """The tiny IAGAN recipe resolved against :data:`HOST` with ``overrides``."""
    return parse_recipe(iagan_text(seed, loss), registry=HOST.registry, overrides=overrides)


def run(recipe: Any, out: Path, **kwargs: Any) -> Any:
    """Run ``recipe`` with :data:`HOST`'s plugins into ``out``; returns the RunResult."""
    return run_recipe(recipe, out=out, host=HOST, **kwargs)


# --- the limited-data recipe and step toys ---------------------------------------------------------


def limited_text(n: int = 24, epochs: int = 2, lr_d: float = 4e-4) -> str:
    """A DCGAN ``gan`` stage on ``n`` blobs with the ``watched`` loss, as TOML text (seed 0, CPU)."""
    stage = {
        "kind": "train",
        "name": "gan",
        "epochs": epochs,
        "batch_size": 8,
        "checkpoint_every": 1,
        "sample_every": 100,
        "samples": 4,
        "generator": {"name": "dcgan", "latent_dim": 8, "width": 8},
        "discriminator": {"name": "dcgan", "width": 8},
        "loss": "watched",
        "weighter": "none",
        "lr_d": lr_d,
    }
    return tiny_recipe(stage, data={"source": "blobs", "n": n})


def random_batch(n: int = 4, size: int = 16, channels: int = 1, seed: int = 0) -> Tensor:
    """``n`` seeded uniform images in [-1, 1]."""
    return torch.rand(n, channels, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


class RecordingDiscriminator(nn.Module):
    """A tiny linear D on 16x16 images that records every batch it is shown."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(16 * 16, 1)
        self.seen: list[Tensor] = []

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self.seen.append(x.detach().clone())
        return self.lin(x.flatten(1)).squeeze(1), x


class ToyGenerator(nn.Module):
    """A tiny linear G from 4 latent dimensions to 16x16 images."""

    latent_dim, conditional = 4, False

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 16 * 16)

    def forward(self, z: Tensor, x: Tensor | None = None) -> Tensor:
        return torch.tanh(self.lin(z)).reshape(-1, 1, 16, 16)


class NoWeights:
    """A loss weighter that weights every image 1."""

    def weights(self, real: Tensor, fake: Tensor) -> Tensor:
        return real.new_ones(len(real))
