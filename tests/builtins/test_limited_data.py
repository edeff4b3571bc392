"""Limited-data training switches: DiffAugment and ADA (augmenters), R1 and LeCam (regularizers)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from ganaug.api.capabilities import ObservesDiscriminator, ReportsFigures, Stateful
from ganaug.host.loading import make_plugin_host
from ganaug.kit.training.checkpoint import latest_checkpoint, load_checkpoint
from ganaug.recipe.load import parse_recipe
from ganaug.runner.engine import run_recipe
from ganaug.runtime.errors import RecipeError, RunInterrupted
from ganaug_plugins.augmenters import ops
from ganaug_plugins.augmenters.augmenters import AdaptiveAugment, DiffAugment, ops_for
from ganaug_plugins.losses.gan import BceLoss
from ganaug_plugins.regularizers.regularizers import LeCamPenalty, R1Penalty
from ganaug_plugins.stages.gan_step import GanStep
from ganaug_plugins.stages.loss_log import FIELDS
from tests.training_toys import (
    BUILTINS,
    CALLS,
    TRIGGERS,
    NoWeights,
    RecordingDiscriminator,
    TestPlugin,
    ToyGenerator,
    limited_text,
    random_batch,
)

pytestmark = pytest.mark.usefixtures("one_thread", "reset_triggers")

HOST = make_plugin_host(
    builtins=(*BUILTINS, "ganaug_plugins.augmenters.plugin", "ganaug_plugins.regularizers.plugin"),
    entry_points=False,
    extra=[("testdata", TestPlugin())],
)


def recipe(*overrides: str, n: int = 24, epochs: int = 2, lr_d: float = 4e-4) -> Any:
    text = limited_text(n=n, epochs=epochs, lr_d=lr_d)
    return parse_recipe(text, registry=HOST.registry, overrides=overrides)


ALL = (
    'stages.gan.augmenters=[{name = "diffaugment"}, '
    '{name = "ada", policy = ["translation"], initial_p = 0.5}]',
    'stages.gan.regularizers=[{name = "r1", gamma = 1.0}, {name = "lecam"}]',
)


def _rng(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- the ops -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["color", "translation", "cutout"])
def test_every_op_is_differentiable_keeps_the_shape_and_is_seeded(name: str) -> None:
    x = random_batch(channels=3).requires_grad_(True)
    augment = DiffAugment(ops_for([name], 0.25, 0.5, 0.0))
    out = augment(x, _rng(1))
    assert out.shape == x.shape
    assert not torch.equal(out, x)
    (out * torch.linspace(0, 1, out.numel()).reshape(out.shape)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert torch.equal(augment(x.detach(), _rng(1)), out.detach())  # same seed, same draw
    assert not torch.equal(augment(x.detach(), _rng(2)), out.detach())


def test_translation_shifts_whole_pixels_and_fills_the_gap() -> None:
    x = torch.zeros(64, 1, 8, 8)
    x[:, :, 4, 4] = 1.0
    out = ops.translation(0.25, fill=-1.0)(x, _rng())
    for image in out[:, 0]:
        ones = (image == 1.0).nonzero()
        assert len(ones) == 1  # the bright pixel moved by at most 2 each way, never lost
        assert (ones[0] - torch.tensor([4, 4])).abs().max() <= 2
    assert (out == -1.0).any()  # pixels shifted in take the fill value
    shifts = {tuple((img == 1.0).nonzero()[0].tolist()) for img in out[:, 0]}
    assert len(shifts) > 5  # each image draws its own shift


def test_cutout_blanks_a_square_of_the_asked_size() -> None:
    x = torch.ones(16, 1, 8, 8)
    out = ops.cutout(0.5, fill=0.0)(x, _rng())
    blanked = (out == 0.0).sum(dim=(1, 2, 3))
    assert blanked.max() == 16 and blanked.min() >= 4  # a 4x4 square, clipped at the border


def test_saturation_leaves_grayscale_alone_and_apply_mixes_per_image() -> None:
    x = random_batch(8)
    assert torch.equal(ops.saturation(x, _rng()), x)
    assert torch.equal(ops.apply(ops.brightness, x, _rng(), torch.tensor(0.0)), x)
    assert not torch.equal(ops.apply(ops.brightness, x, _rng(), torch.tensor(1.0)), x)
    mixed = ops.apply(ops.brightness, random_batch(200), _rng(), torch.tensor(0.5))
    changed = (mixed != random_batch(200)).flatten(1).any(dim=1).float().mean()
    assert 0.35 < changed < 0.65


# --- in the training step ----------------------------------------------------------------------


class Marker:
    """An augmenter that adds a constant, so a test can tell which batches went through it."""

    def __call__(self, images: Tensor, rng: torch.Generator) -> Tensor:
        return images + 100.0


def _step(
    *augmenters: Any, regularizers: tuple[Any, ...] = ()
) -> tuple[GanStep, ToyGenerator, RecordingDiscriminator]:
    torch.manual_seed(0)
    g, d = ToyGenerator(), RecordingDiscriminator()
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-3)
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-3)
    step = GanStep(g, d, BceLoss(), NoWeights(), opt_g, opt_d, augmenters, regularizers, seed=3)
    return step, g, d


def test_the_augmenter_is_applied_to_real_and_fake_in_both_steps() -> None:
    step, _, d = _step(Marker())
    real = random_batch(4)
    step(real, torch.randn(4, 4))
    assert len(d.seen) == 3  # D step: real, fake; G step: fake
    assert all(bool((batch > 50).all()) for batch in d.seen)
    torch.testing.assert_close(d.seen[0], real + 100.0)


def test_gs_gradient_flows_through_the_augmentation() -> None:
    grads = []
    for augment in (None, DiffAugment(ops_for(["translation", "cutout"], 0.25, 0.5, 0.0))):
        step, g, _ = _step(*([augment] if augment else []))
        step(random_batch(4), torch.randn(4, 4, generator=_rng()))
        grads.append(torch.cat([p.grad.flatten() for p in g.parameters() if p.grad is not None]))
    assert grads[1].abs().sum() > 0  # G learns through the augmented D input
    assert not torch.allclose(grads[0], grads[1])  # ... and the augmentation changed what it learns


def test_ada_p_follows_the_sign_of_ds_real_logits() -> None:
    ada = AdaptiveAugment(ops_for(["translation"], 0.125, 0.5, 0.0), target=0.6, speed=100, interval=2)
    assert isinstance(ada, ObservesDiscriminator | ReportsFigures | Stateful)
    for _ in range(4):  # D sure of every real image: r_t = 1 > 0.6, p up by 16 / 100 per 2 steps
        ada.observe(torch.full((8,), 3.0))
    assert ada.p.item() == pytest.approx(0.32)
    assert ada.rt.item() == 1.0
    for _ in range(20):  # D wrong on every real image: p back down, never below 0
        ada.observe(torch.full((8,), -3.0))
    assert ada.p.item() == 0.0


def test_ada_p_rises_when_d_memorises_a_tiny_set(tmp_path: Path) -> None:
    ada = 'stages.gan.augmenters=[{name = "ada", speed = 200, interval = 1}]'
    result = run_recipe(recipe(ada, n=8, epochs=30, lr_d=5e-3), out=tmp_path / "run", host=HOST)
    rows = list(csv.DictReader((result.run_dir / "gan" / "losses.csv").open()))
    p = [float(r["ada_p"]) for r in rows]
    assert p[0] < 0.05 and p[-1] > 0.2  # D got sure of its 8 real images; ADA answered
    assert result.outputs["gan"].metrics["ada_p"] > 0.2


# --- the regularizers ----------------------------------------------------------------------------


def test_r1_is_half_gamma_times_the_squared_gradient_norm_at_real_images() -> None:
    d = RecordingDiscriminator()
    real = random_batch(4)
    r1 = R1Penalty(gamma=4.0)
    value = r1.penalty(d, real, real, torch.zeros(4), torch.zeros(4))
    w = d.lin.weight.detach()  # linear D: the gradient is its weight for every image
    assert value.item() == pytest.approx(0.5 * 4.0 * w.pow(2).sum().item(), rel=1e-5)
    assert value.requires_grad  # it trains D
    assert r1.figures()["r1"].item() == pytest.approx(w.pow(2).sum().item(), rel=1e-5)
    lazy = R1Penalty(gamma=4.0, every=2)
    first = lazy.penalty(d, real, real, torch.zeros(4), torch.zeros(4))
    second = lazy.penalty(d, real, real, torch.zeros(4), torch.zeros(4))
    assert first.item() == pytest.approx(2 * value.item(), rel=1e-5) and second.item() == 0.0


def test_lecam_pulls_logits_towards_the_moving_averages() -> None:
    lecam = LeCamPenalty(weight=0.5, decay=0.9)
    real, fake = torch.tensor([2.0, 4.0]), torch.tensor([-1.0, -3.0])
    value = lecam.penalty(nn.Identity(), real, fake, real, fake)
    ema_real, ema_fake = 0.1 * 3.0, 0.1 * -2.0
    expected = ((real - ema_fake).clamp(min=0) ** 2).mean() + ((ema_real - fake).clamp(min=0) ** 2).mean()
    assert value.item() == pytest.approx(0.5 * expected.item())
    assert lecam.ema_real.item() == pytest.approx(ema_real) and lecam.ema_fake.item() == pytest.approx(
        ema_fake
    )


def test_regularizers_add_to_ds_loss_only() -> None:
    plain, _, _ = _step()
    regular, _, _ = _step(regularizers=(R1Penalty(gamma=10.0),))
    real, z = random_batch(4), torch.randn(4, 4, generator=_rng())
    a, b = plain(real, z), regular(real, z)
    assert b["d_loss"] > a["d_loss"] and b["r1"] > 0
    assert "r1" not in a


# --- through the engine ------------------------------------------------------------------------


def test_switches_off_write_the_plain_loss_columns(tmp_path: Path) -> None:
    result = run_recipe(recipe(), out=tmp_path / "run", host=HOST)
    header = (result.run_dir / "gan" / "losses.csv").read_text().splitlines()[0]
    assert tuple(header.split(",")) == FIELDS


def test_every_switch_logs_its_figures_and_checkpoints_its_state(tmp_path: Path) -> None:
    result = run_recipe(recipe(*ALL), out=tmp_path / "run", host=HOST)
    header = (result.run_dir / "gan" / "losses.csv").read_text().splitlines()[0].split(",")
    assert header[len(FIELDS) :] == ["ada_p", "ada_rt", "r1", "lecam"]
    latest = latest_checkpoint(result.run_dir / "gan" / "checkpoints")
    assert latest is not None
    tensors = load_checkpoint(latest).tensors
    assert {"augmenter_1/p", "regularizer_0/last", "regularizer_1/ema_real"} <= set(tensors)
    assert "augmenter_0/p" not in tensors  # DiffAugment holds no state


def test_interrupt_and_resume_is_bit_identical_with_every_switch(tmp_path: Path) -> None:
    reference = run_recipe(recipe(*ALL), out=tmp_path / "reference", host=HOST).run_dir
    CALLS["n"] = 0
    TRIGGERS["interrupt"] = 4  # during step 4 of 6 (epoch 2)
    out = tmp_path / "interrupted"
    with pytest.raises((KeyboardInterrupt, RunInterrupted)):
        run_recipe(recipe(*ALL), out=out, host=HOST)
    TRIGGERS["interrupt"] = None
    run_recipe(recipe(*ALL), resume=out, host=HOST)
    for name in ("generator.safetensors", "discriminator.safetensors", "losses.csv"):
        assert (out / "gan" / name).read_bytes() == (reference / "gan" / name).read_bytes(), name


def test_bad_switches_are_reported_with_their_paths() -> None:
    with pytest.raises(RecipeError) as err:
        recipe(
            'stages.gan.augmenters=[{name = "diffaugmnt"}, {name = "ada", target = 2.0}]',
            'stages.gan.regularizers=[{name = "r1", gamma = -1.0}]',
            'stages.gan.augmenters[0].policy=["zoom"]',
        )
    text = str(err.value)
    assert "diffaugment" in text  # did you mean
    paths = {p.path for p in err.value.problems}
    assert any(p.startswith("stages[0].augmenters[1]") for p in paths), paths
    assert any(p.startswith("stages[0].regularizers[0]") for p in paths), paths


def test_every_switch_trains_a_conditional_generator_with_least_squares(tmp_path: Path) -> None:
    overrides = (
        *ALL,
        'stages.gan.generator={name = "iagan", latent_dim = 8, width = 8}',
        'stages.gan.discriminator={name = "iagan", width = 8}',
        'stages.gan.loss="least-squares"',
        'stages.gan.weighter="ssim"',
    )
    result = run_recipe(recipe(*overrides, epochs=1), out=tmp_path / "run", host=HOST)
    assert result.outputs["gan"].model.generator.conditional
    rows = list(csv.DictReader((result.run_dir / "gan" / "losses.csv").open()))
    assert len(rows) == 3 and all(float(r["r1"]) > 0 and float(r["weight"]) < 1 for r in rows)
