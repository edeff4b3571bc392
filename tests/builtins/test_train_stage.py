"""The train stage end to end through the engine, on 32x32 blobs (tests/training_toys.py)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import safetensors.torch
import torch
from PIL import Image
from torch import Tensor, nn

from ganaug.api.context import StageContext
from ganaug.api.interfaces import ImageSpec, TrainedModel
from ganaug.kit.training.checkpoint import (
    Position,
    latest_checkpoint,
    load_checkpoint,
    restore_checkpoint,
    save_checkpoint,
)
from ganaug.recipe.load import parse_recipe
from ganaug.runner.engine import run_recipe
from ganaug.runtime.errors import CheckpointError, DataError, DivergenceError, RecipeError, RunInterrupted
from ganaug.testing import TinyDiscriminator, TinyGenerator, TinyNetOptions, tiny_recipe
from ganaug_plugins.losses.gan import LeastSquaresLoss
from ganaug_plugins.models.iagan.discriminator import IaganDiscriminator
from ganaug_plugins.models.iagan.generator import IaganGenerator
from ganaug_plugins.stages.gan_step import GanStep
from ganaug_plugins.stages.loss_log import FIELDS
from ganaug_plugins.weighters.plugin import SsimWeighter
from tests.training_toys import CALLS, HOST, TRIGGERS, BlobOptions, Blobs, iagan, run

pytestmark = pytest.mark.usefixtures("one_thread", "reset_triggers")

#: An unconditional DCGAN (AnoGAN) stage on RGB blobs, 3 G steps an epoch x 2.
ANOGAN = tiny_recipe(
    {
        "kind": "train",
        "name": "anogan",
        "epochs": 2,
        "batch_size": 8,
        "generator": {"name": "dcgan", "latent_dim": 8, "width": 8},
        "discriminator": {"name": "dcgan", "width": 8},
        "loss": "bce",
        "weighter": "none",
    },
    data={"source": "blobs", "channels": 3},
)


def test_defaults_are_the_papers() -> None:
    options = parse_recipe('[data]\nsource = "blobs"\n[[stages]]\nkind = "train"\n', registry=HOST.registry)
    o = options.stages[0].options
    assert (o.generator.name, o.discriminator.name, o.loss.name, o.weighter.name) == (
        "iagan",
        "iagan",
        "least-squares",
        "ssim",
    )
    assert (o.epochs, o.batch_size, o.lr_d, o.lr_g) == (150, 16, 4e-4, 1e-4)
    assert o.betas_d == o.betas_g == (0.5, 0.999)
    assert o.generator.options.latent_dim == 125


def test_bad_options_are_located() -> None:
    with pytest.raises(RecipeError) as err:
        iagan(0, "least-squares", "stages.iagan.betas_d=[0.5, 1.5]", "stages.iagan.lr_g=0")
    paths = {p.path for p in err.value.problems}
    assert {"stages[0].betas_d", "stages[0].lr_g"} <= paths


def test_iagan_run_writes_everything(tmp_path: Path) -> None:
    result = run(iagan(), tmp_path / "run")
    folder = result.run_dir / "iagan"
    out = result.outputs["iagan"]
    model = out.model
    assert isinstance(model, TrainedModel) and model.name == "iagan"
    assert model.image == ImageSpec(1, 32)
    assert not model.generator.training and not model.discriminator.training
    assert model.train_mean is not None and model.train_mean.shape == (1, 32, 32)
    with torch.no_grad():
        generated = model.generator(torch.zeros(2, 16), torch.zeros(2, 1, 32, 32))
    assert generated.shape == (2, 1, 32, 32)
    assert set(out.metrics) >= {"d_loss", "g_loss", "weight", "images_per_s", "steps"}
    assert out.metrics["steps"] == 6 and out.metrics["images_per_s"] > 0
    assert 0.0 < out.metrics["weight"] < 1.0  # the SSIM weighter was applied

    with (folder / "losses.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == FIELDS and len(rows) == 6
    assert [int(r["step"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [int(r["epoch"]) for r in rows] == [1, 1, 1, 2, 2, 2]
    with Image.open(folder / "losses.png") as plot:
        assert plot.format == "PNG" and plot.size[0] > 200
    for name in ("epoch-0001.png", "epoch-0002.png", "conditioning.png"):
        with Image.open(folder / "samples" / name) as grid:
            assert grid.mode == "L" and grid.size == (2 + 3 * 34, 2 + 2 * 34)  # 6 images, 3 columns

    latest = latest_checkpoint(folder / "checkpoints")
    assert latest is not None and latest.name == "step-00000006.json"
    assert load_checkpoint(latest).meta["position"]["epoch"] == 2
    assert sorted(p.name for p in (folder / "checkpoints").glob("*.json")) == [
        "latest.json",
        "step-00000003.json",
        "step-00000006.json",
    ]
    weights = safetensors.torch.load_file(folder / "generator.safetensors")
    for key, value in model.generator.state_dict().items():
        assert torch.equal(weights[key], value)
    assert {p.name for p in out.files} >= {"generator.safetensors", "discriminator.safetensors", "losses.csv"}
    assert json.loads((folder / "training.json").read_text())["image"] == {"channels": 1, "size": 32}


def test_anogan_run_with_rgb_images(tmp_path: Path) -> None:
    result = run(parse_recipe(ANOGAN, registry=HOST.registry), tmp_path / "run")
    out = result.outputs["anogan"]
    assert out.metrics["weight"] == 1.0
    assert out.model.image == ImageSpec(3, 32)
    assert out.model.generator.conditional is False
    with Image.open(result.run_dir / "anogan" / "samples" / "epoch-0002.png") as grid:
        assert grid.mode == "RGB"
    assert not (result.run_dir / "anogan" / "samples" / "conditioning.png").exists()


def _bytes(run_dir: Path, name: str) -> bytes:
    return (run_dir / "iagan" / name).read_bytes()


def test_same_seed_same_weights(tmp_path: Path) -> None:
    a = run(iagan(seed=3), tmp_path / "a").run_dir
    b = run(iagan(seed=3), tmp_path / "b").run_dir
    c = run(iagan(seed=4), tmp_path / "c").run_dir
    for name in ("generator.safetensors", "discriminator.safetensors", "losses.csv"):
        assert _bytes(a, name) == _bytes(b, name)
    assert _bytes(a, "generator.safetensors") != _bytes(c, "generator.safetensors")


@pytest.mark.parametrize(
    ("at", "epoch", "batch"),
    [(5, 1, 2), (3, 1, 0)],
    ids=["mid-epoch", "last-batch-of-an-epoch"],
)
def test_interrupt_checkpoints_and_resume_is_bit_identical(
    tmp_path: Path, at: int, epoch: int, batch: int
) -> None:
    """A Ctrl-C during step ``at`` (3 per epoch) checkpoints the position after it; after an
    epoch's last batch that is the next epoch's first batch, which resume accepts."""
    reference = run(iagan(loss="watched"), tmp_path / "reference").run_dir
    CALLS["n"] = 0
    TRIGGERS["interrupt"] = at
    out = tmp_path / "interrupted"
    with pytest.raises((KeyboardInterrupt, RunInterrupted)):  # the engine turns one into the other
        run(iagan(loss="watched"), out)
    latest = latest_checkpoint(out / "iagan" / "checkpoints")
    assert latest is not None
    assert load_checkpoint(latest).meta["position"] | {"seconds": 0} == {
        "epoch": epoch,
        "batch": batch,
        "step": at,
        "images": 8 * at,
        "seconds": 0,
    }
    assert not (out / "iagan" / "generator.safetensors").exists()
    TRIGGERS["interrupt"] = None
    resumed = run_recipe(iagan(loss="watched"), resume=out, host=HOST)
    assert resumed.outputs["iagan"].metrics["steps"] == 6
    for name in ("generator.safetensors", "discriminator.safetensors", "losses.csv"):
        assert _bytes(out, name) == _bytes(reference, name), name


def test_finished_stage_is_restored_from_its_files(tmp_path: Path) -> None:
    first = run(iagan(), tmp_path / "run")
    again = run_recipe(iagan(), resume=first.run_dir, host=HOST)
    old, new = first.outputs["iagan"].model, again.outputs["iagan"].model
    assert new.image == old.image and new.checkpoint == old.checkpoint
    assert not new.generator.training
    for a, b in zip(old.generator.state_dict().values(), new.generator.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert torch.equal(old.train_mean, new.train_mean)
    assert again.outputs["iagan"].metrics == first.outputs["iagan"].metrics


def test_nan_loss_raises_divergence_naming_the_checkpoint(tmp_path: Path) -> None:
    TRIGGERS["nan"] = 4  # first step of epoch 2; epoch 1 left a checkpoint at step 3
    with pytest.raises(DivergenceError) as err:
        run(iagan(loss="watched"), tmp_path / "run")
    message = str(err.value)
    assert "'iagan'" in message and "epoch 2" in message and "step 4" in message
    assert "step-00000003.json" in message


def test_nan_weights_raise_divergence(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    from ganaug_plugins.stages.train import _Training

    training = _Training(ctx, iagan().stages[0].options)
    with torch.no_grad():
        next(training.nets.generator.parameters()).fill_(float("inf"))
    with pytest.raises(DivergenceError, match="weight"):
        training.checkpoint(0, 0)
    assert latest_checkpoint(tmp_path / "checkpoints") is None


def _context(folder: Path) -> StageContext:
    import logging

    from ganaug.recipe.schema import RunSection

    bundle = Blobs(BlobOptions()).load(None)
    return StageContext(
        name="iagan",
        dir=folder,
        run=RunSection(device="cpu"),
        device=torch.device("cpu"),
        data=bundle,
        outputs={},
        registry=HOST.registry,
        log=logging.getLogger("test"),
    )


def test_checkpoint_round_trip_restores_optimizer_state(tmp_path: Path) -> None:
    image = ImageSpec(1, 32)
    torch.manual_seed(0)
    g, d = IaganGenerator(image, latent_dim=8, width=16), IaganDiscriminator(image, width=8)
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=4e-4, betas=(0.5, 0.999))
    step = GanStep(g, d, LeastSquaresLoss(), SsimWeighter(), opt_g, opt_d)
    real = Blobs(BlobOptions(n=4)).load(None).splits["train"].images
    for i in range(2):
        step(real, torch.randn(4, 8, generator=torch.Generator().manual_seed(i)))
    optimizers = {"og": opt_g, "od": opt_d}
    path = save_checkpoint(tmp_path, 2, {"g": g, "d": d}, optimizers, Position(epoch=0, batch=2))
    rng = torch.get_rng_state()
    torch.manual_seed(99)

    g2, d2 = IaganGenerator(image, latent_dim=8, width=16), IaganDiscriminator(image, width=8)
    with pytest.raises(CheckpointError, match="differ from the recipe's"):  # built with other settings
        restore_checkpoint(
            load_checkpoint(path), {"g": g2, "d": d2}, {"og": torch.optim.Adam(g2.parameters(), lr=1.0)}
        )
    opt_g2 = torch.optim.Adam(g2.parameters(), lr=1e-4, betas=(0.5, 0.999))  # as the recipe builds them
    opt_d2 = torch.optim.Adam(d2.parameters(), lr=4e-4, betas=(0.5, 0.999))
    restore_checkpoint(load_checkpoint(path), {"g": g2, "d": d2}, {"og": opt_g2, "od": opt_d2})
    for a, b in ((g, g2), (d, d2)):
        for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(x, y), name
    for saved, loaded in ((opt_g, opt_g2), (opt_d, opt_d2)):
        s, t = saved.state_dict(), loaded.state_dict()
        assert s["param_groups"] == t["param_groups"]
        assert s["state"].keys() == t["state"].keys() and len(s["state"]) > 0
        for index, entry in s["state"].items():
            for key, value in entry.items():
                assert torch.equal(value, t["state"][index][key]), (index, key)
    assert torch.equal(torch.get_rng_state(), rng)
    assert json.loads((tmp_path / "latest.json").read_text())["checkpoint"] == path.name


class Stream:
    """A non-module component with state: a private random stream and a counter."""

    def __init__(self) -> None:
        self.random, self.count = torch.Generator().manual_seed(5), 0

    def state_dict(self) -> dict[str, Any]:
        return {"random": self.random.get_state(), "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.random.set_state(state["random"])
        self.count = state["count"]


def test_checkpoint_saves_any_object_with_a_state_dict(tmp_path: Path) -> None:
    saved = Stream()
    torch.rand(3, generator=saved.random)
    saved.count = 7
    path = save_checkpoint(tmp_path, 1, {"loss": saved}, {}, Position(epoch=0, batch=0))
    expected = torch.rand(3, generator=saved.random)
    loaded = Stream()
    restore_checkpoint(load_checkpoint(path), {"loss": loaded}, {})
    assert loaded.count == 7 and torch.equal(torch.rand(3, generator=loaded.random), expected)


def test_corrupt_checkpoint_is_refused(tmp_path: Path) -> None:
    g = IaganDiscriminator(ImageSpec(1, 32), width=8)
    path = save_checkpoint(tmp_path, 1, {"d": g}, {}, Position(epoch=0, batch=0))
    blob = tmp_path / "step-00000001.safetensors"
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="digest"):
        load_checkpoint(path)


def test_old_checkpoints_are_pruned(tmp_path: Path) -> None:
    d = IaganDiscriminator(ImageSpec(1, 32), width=8)
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, step, {"d": d}, {}, Position(epoch=step, batch=0), keep=2)
    assert sorted(p.name for p in tmp_path.glob("step-*")) == [
        "step-00000002.json",
        "step-00000002.safetensors",
        "step-00000003.json",
        "step-00000003.safetensors",
    ]


def test_too_few_images_for_a_batch(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="batch_size"):
        run(iagan(0, "least-squares", "stages.iagan.batch_size=32"), tmp_path / "run")


class Recorder(nn.Module):
    """A conditional generator that remembers the images it was conditioned on."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = TinyGenerator(TinyNetOptions(conditional=True), ImageSpec(1, 8))
        self.latent_dim, self.conditional = self.inner.latent_dim, True
        self.seen: list[Tensor] = []

    def forward(self, z: Tensor, x: Tensor | None = None) -> Tensor:
        assert x is not None
        self.seen.append(x)
        return self.inner(z, x)


class ZeroWeights:
    def weights(self, real: Tensor, fake: Tensor) -> Tensor:
        return torch.zeros(fake.shape[0])


class Penalised(LeastSquaresLoss):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[bool, bool]] = []

    def discriminator_penalty(self, discriminator: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
        self.calls.append((fake.requires_grad, discriminator.training))
        return torch.tensor(100.0)


def _tiny_step(loss: Any, weighter: Any) -> tuple[GanStep, Recorder, nn.Module]:
    torch.manual_seed(0)
    g, d = Recorder(), TinyDiscriminator(TinyNetOptions(), ImageSpec(1, 8))
    opt_g, opt_d = torch.optim.Adam(g.parameters(), 1e-3), torch.optim.Adam(d.parameters(), 1e-3)
    return GanStep(g, d, loss, weighter, opt_g, opt_d), g, d


def test_step_conditions_on_the_real_batch_and_weights_the_generator_loss() -> None:
    step, g, d = _tiny_step(LeastSquaresLoss(), ZeroWeights())
    real = torch.rand(4, 1, 8, 8) * 2 - 1
    g_before = [p.detach().clone() for p in g.parameters()]
    d_before = [p.detach().clone() for p in d.parameters()]
    stats = step(real, torch.randn(4, g.latent_dim))
    assert len(g.seen) == 1 and g.seen[0] is real
    assert stats["g_loss"] == 0.0 and stats["weight"] == 0.0
    # weights of zero: G gets no gradient and does not move; D does
    assert all(torch.equal(a, b) for a, b in zip(g_before, g.parameters(), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(d_before, d.parameters(), strict=True))


def test_step_adds_the_discriminator_penalty() -> None:
    loss = Penalised()
    step, g, _ = _tiny_step(loss, SsimWeighter())
    real = torch.rand(4, 1, 8, 8) * 2 - 1
    z = torch.randn(4, g.latent_dim)
    stats = step(real, z)
    assert loss.calls == [(False, True)]  # a detached fake, D in training mode
    plain, _, _ = _tiny_step(LeastSquaresLoss(), SsimWeighter())
    assert stats["d_loss"] == pytest.approx(plain(real, z)["d_loss"] + 100.0)
