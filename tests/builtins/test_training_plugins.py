"""Third-party augmenters and regularizers in the train stage, and the step's torchrun contract."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor

from ganaug.api.hookspecs import Register, hookimpl
from ganaug.host.loading import make_plugin_host
from ganaug.recipe.load import parse_recipe
from ganaug.runner.engine import run_recipe
from ganaug.runtime.errors import PluginError
from ganaug_plugins.losses.gan import BceLoss
from ganaug_plugins.stages.gan_step import GanStep
from tests.training_toys import (
    BUILTINS,
    NoWeights,
    RecordingDiscriminator,
    TestPlugin,
    ToyGenerator,
    limited_text,
    random_batch,
)

pytestmark = pytest.mark.usefixtures("one_thread")

# --- third-party augmenters and regularizers ------------------------------------------------------


class Constant:
    """A third-party regularizer adding a constant to D's loss, with a figure of its own."""

    def penalty(
        self, discriminator: Any, real: Tensor, fake: Tensor, real_logits: Tensor, fake_logits: Tensor
    ) -> Tensor:
        return real_logits.new_tensor(5.0)

    def figures(self) -> dict[str, Tensor]:
        return {"constant": torch.tensor(5.0)}


class Flip:
    """A third-party augmenter: every image flipped left to right, counted."""

    calls = 0

    def __call__(self, images: Tensor, rng: torch.Generator) -> Tensor:
        Flip.calls += 1
        return images.flip(-1)


class ThirdParty:
    @hookimpl
    def register_augmenters(self, register: Register) -> None:
        register("flip", lambda options: Flip())

    @hookimpl
    def register_regularizers(self, register: Register) -> None:
        register("constant", lambda options: Constant())


def test_third_party_augmenters_and_regularizers_plug_in(tmp_path: Path) -> None:
    host = make_plugin_host(
        builtins=BUILTINS,
        entry_points=False,
        extra=[("testdata", TestPlugin()), ("thirdparty", ThirdParty())],
    )
    text = limited_text(epochs=1)

    def losses(name: str, *overrides: str) -> list[dict[str, str]]:
        recipe = parse_recipe(text, registry=host.registry, overrides=overrides)
        result = run_recipe(recipe, out=tmp_path / name, host=host)
        return list(csv.DictReader((result.run_dir / "gan" / "losses.csv").open()))

    plain = losses("plain")
    constant = losses("constant", 'stages.gan.regularizers=["constant"]')
    # a constant term moves D's loss, not its gradient: the same training, every loss 5 higher
    for a, b in zip(plain, constant, strict=True):
        assert float(b["d_loss"]) == pytest.approx(float(a["d_loss"]) + 5.0, abs=1e-4)
        assert b["g_loss"] == a["g_loss"] and b["constant"] == "5.0"
    Flip.calls = 0
    flipped = losses("flip", 'stages.gan.augmenters=["flip"]')
    assert Flip.calls == 3 * 3  # 3 steps (24 images, batch 8): real and fake in D's step, fake in G's
    assert flipped[0]["d_loss"] != plain[0]["d_loss"]


class _TwoRanks:
    """A stand-in torchrun world of 2 ranks: gather appends the other rank's (negated) rows."""

    rank, size, distributed = 1, 2, True

    def gather(self, tensor: Tensor) -> Tensor:
        return torch.cat([-tensor, tensor])


class _Watcher:
    def __init__(self) -> None:
        self.seen: list[Tensor] = []

    def __call__(self, images: Tensor, rng: torch.Generator) -> Tensor:
        return images

    def observe(self, real_logits: Tensor) -> None:
        self.seen.append(real_logits)


def test_under_torchrun_an_observer_sees_the_whole_global_batch() -> None:
    watcher = _Watcher()
    torch.manual_seed(0)
    g, d = ToyGenerator(), RecordingDiscriminator()
    opt_g, opt_d = (torch.optim.Adam(m.parameters(), lr=1e-3) for m in (g, d))
    step = GanStep(g, d, BceLoss(), NoWeights(), opt_g, opt_d, [watcher], seed=3, world=_TwoRanks())
    step(random_batch(4), torch.randn(4, 4))
    (seen,) = watcher.seen
    assert seen.shape == (8,)  # both ranks' rows: every rank steers p by the same logits
    torch.testing.assert_close(seen[:4], -seen[4:])


def test_a_figure_name_already_written_is_refused(tmp_path: Path) -> None:
    class Clash(Constant):
        def figures(self) -> dict[str, Tensor]:
            return {"d_loss": torch.tensor(1.0)}

    class Clashing:
        @hookimpl
        def register_regularizers(self, register: Register) -> None:
            register("clash", lambda options: Clash())

    host = make_plugin_host(
        builtins=BUILTINS, entry_points=False, extra=[("testdata", TestPlugin()), ("clashing", Clashing())]
    )
    text = limited_text(epochs=1)
    recipe = parse_recipe(text, registry=host.registry, overrides=('stages.gan.regularizers=["clash"]',))
    with pytest.raises(PluginError, match=r"'d_loss'.*must be unique"):
        run_recipe(recipe, out=tmp_path / "run", host=host)
