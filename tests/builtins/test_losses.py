"""GAN losses: least squares (the paper's MSE) and BCE, on known logits."""

from __future__ import annotations

import math

import pytest
import torch

from ganaug.host.loading import make_plugin_host
from ganaug.runtime.errors import RecipeError
from ganaug.testing import check_component
from ganaug_plugins.losses.gan import BceLoss, LeastSquaresLoss

HOST = make_plugin_host(builtins=("ganaug_plugins.losses.plugin",), entry_points=False)


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


def test_least_squares_values() -> None:
    loss = LeastSquaresLoss()
    assert loss.discriminator_loss(t(1, 1), t(0, 0)).item() == 0.0
    # real (0.5, 1) -> mean((x-1)^2) = 0.125; fake (1, 0) -> mean(x^2) = 0.5; halved sum
    assert loss.discriminator_loss(t(0.5, 1), t(1, 0)).item() == pytest.approx(0.3125)
    per_sample = loss.generator_loss(t(0, 1, 3))
    assert per_sample.shape == (3,)
    assert per_sample.tolist() == [1.0, 0.0, 4.0]


def test_least_squares_targets_are_options() -> None:
    loss = check_component(HOST, "gan_losses", "least-squares", {"real_target": 0.9, "fake_target": -1.0})
    assert loss.generator_loss(t(0.9)).item() == pytest.approx(0.0)
    assert loss.discriminator_loss(t(0.9), t(-1.0)).item() == pytest.approx(0.0)


def test_bce_values() -> None:
    loss = BceLoss()
    log2 = math.log(2)
    assert loss.discriminator_loss(t(0, 0), t(0, 0)).item() == pytest.approx(2 * log2)
    assert loss.generator_loss(t(0, 0)).tolist() == pytest.approx([log2, log2])
    # non-saturating: a confident D (fake logit -100) still gives G a loss of ~100, finite
    strong = loss.generator_loss(t(-100.0, 100.0))
    assert strong.tolist() == pytest.approx([100.0, 0.0], abs=1e-4)
    assert loss.discriminator_loss(t(100.0), t(-100.0)).item() == pytest.approx(0.0, abs=1e-6)


def test_bce_generator_gradient_does_not_vanish() -> None:
    logits = t(-20.0).requires_grad_(True)
    BceLoss().generator_loss(logits).sum().backward()
    assert logits.grad is not None and logits.grad.item() == pytest.approx(-1.0, abs=1e-6)


def test_label_smoothing_moves_the_minimum() -> None:
    loss = BceLoss(real_label=0.9)
    logit = math.log(0.9 / 0.1)
    real = torch.tensor([logit], requires_grad=True)
    loss.discriminator_loss(real, t(-50.0)).backward()
    assert real.grad is not None and abs(real.grad.item()) < 1e-6


@pytest.mark.parametrize("name", ["least-squares", "bce"])
def test_losses_accept_column_logits_and_meet_the_contract(name: str) -> None:
    loss = check_component(HOST, "gan_losses", name)
    column = torch.tensor([[0.2], [-0.4]])
    assert loss.generator_loss(column).shape == (2,)
    assert torch.equal(loss.generator_loss(column), loss.generator_loss(column.view(-1)))
    assert loss.discriminator_loss(column, column).ndim == 0


def test_bce_options_are_validated() -> None:
    with pytest.raises(RecipeError, match="real_label"):
        check_component(HOST, "gan_losses", "bce", {"real_label": 1.5})
