"""A small finished run for the trained-model tests: real MNIST digits (mnist-5k) at 16x16.

``base`` is a DCGAN AnoGAN, ``cond`` a tiny conditional generator (``ganaug.testing``'s TINY
plugin), ``eval`` evaluates ``base`` (AnoGAN and the classical baselines) with thresholds fitted on
the ``val`` split, ``plain`` does the same without a validation selection (no thresholds).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from ganaug.api.context import DataContext
from ganaug.api.interfaces import ImageSet
from ganaug.host.loading import PluginHost
from ganaug.kit.imaging import save_png
from ganaug.runner.engine import run_recipe
from ganaug.testing import TINY, plugin_host, recipe_from

RECIPE = """
[run]
name = "model"
seed = 3
device = "cpu"

[data]
source = "mnist-5k"
classes = ["8", "3"]
image_size = 16

[data.split]
train = { "8" = 16 }
val = { "8" = 5, "3" = 5 }
test = { "8" = 5, "3" = 5 }

[[stages]]
kind = "train"
name = "base"
data = { split = "train", classes = ["8"] }
generator = { name = "dcgan", latent_dim = 8, width = 8 }
discriminator = { name = "dcgan", width = 8 }
loss = { name = "bce" }
weighter = { name = "none" }
epochs = 2
batch_size = 4
sample_every = 2
samples = 4

[[stages]]
kind = "train"
name = "cond"
data = { split = "train", classes = ["8"] }
generator = { name = "tiny", latent_dim = 4, hidden = 16, conditional = true }
discriminator = { name = "tiny", hidden = 16 }
loss = { name = "bce" }
weighter = { name = "none" }
epochs = 1
batch_size = 4
samples = 4

[[stages]]
kind = "evaluate"
name = "eval"
models = ["base"]
positive = "3"
test = { split = "test" }
validation = { split = "val" }
threshold = "f1-max"
threshold_fpr = 0.2
evaluators = [
  { name = "anogan", searcher = { name = "backprop", steps = 5 }, curves = 2, samples = 2 },
  { name = "l1-mean" },
  { name = "knn", k = 2 },
  { name = "pca" },
  { name = "ocsvm" },
  { name = "roc", bootstrap = 20 },
]

[[stages]]
kind = "evaluate"
name = "plain"
models = ["base"]
positive = "3"
test = { split = "test" }
evaluators = [
  { name = "anogan", searcher = { name = "backprop", steps = 5 }, curves = 2, samples = 2 },
  { name = "l1-mean" },
  { name = "knn", k = 2 },
  { name = "pca" },
  { name = "ocsvm" },
  { name = "roc", bootstrap = 20 },
]
"""


def host() -> PluginHost:
    """The built-ins plus TINY (the ``cond`` stage's networks)."""
    return plugin_host(TINY)


def make_run(folder: Path) -> Path:
    """Run :data:`RECIPE` into ``folder``; returns the run directory."""
    plugins = host()
    run_recipe(recipe_from(RECIPE, plugins), out=folder, host=plugins)
    return folder


def split_images(run_dir: Path, split: str) -> ImageSet:
    """The run's ``split`` as its data source loads it (same seed, same order)."""
    from ganaug.host.registry import builder
    from ganaug.runner.restore import run_recipe_of

    plugins = host()
    recipe = run_recipe_of(run_dir, plugins)
    source = builder(plugins.registry)(recipe.data)
    ctx = DataContext(
        seed=recipe.run.seed,
        cache_dir=run_dir.parent / "cache",
        report_dir=run_dir / "unused",
        log=logging.getLogger("t"),
    )
    return source.load(ctx).splits[split]


def write_pngs(images: ImageSet, folder: Path) -> list[Path]:
    """Each image as ``NNN-<label>.png`` (8-bit, lossless: the source reads back the same pixels)."""
    paths = []
    for i in range(len(images)):
        label = images.classes[int(images.labels[i])]
        paths.append(save_png(images.images[i], folder / f"{i:03d}-{label}.png"))
    return paths


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
