"""Tests of the WGAN-GP loss, written with ganaug.testing as any plugin author would."""

from __future__ import annotations

import attrs
import pytest
import torch
from ganaug_wgan_gp import WganGp, WganGpOptions
from ganaug_wgan_gp import plugin as wgan_plugin
from torch import Tensor, nn

from ganaug.api.interfaces import ImageSpec
from ganaug.runtime.errors import RecipeError
from ganaug.testing import (
    TINY,
    TinyDiscriminator,
    check_component,
    check_gan_loss,
    plugin_host,
    run_text,
    tiny_recipe,
)


class LinearCritic(nn.Module):
    """``D(x) = <w, x>``: its input gradient is ``w`` everywhere, so the penalty is exact."""

    def __init__(self, weight: Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        features = x.flatten(1)
        return features @ self.weight.flatten(), features


@pytest.fixture
def host():
    return plugin_host(wgan_plugin, builtins=False)


def test_registered_and_meets_the_gan_loss_contract(host) -> None:
    assert host.registry.names("gan_losses") == ["wgan-gp"]
    loss = check_component(host, "gan_losses", "wgan-gp")
    assert isinstance(loss, WganGp)
    assert loss.options == WganGpOptions(gp_weight=10.0, seed=0)


def test_critic_and_generator_losses() -> None:
    loss = WganGp(WganGpOptions())
    real, fake = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.0, 0.0, 3.0])
    assert float(loss.discriminator_loss(real, fake)) == pytest.approx(1.0 - 2.0)
    assert torch.equal(loss.generator_loss(fake), -fake)


@pytest.mark.parametrize(("norm", "weight"), [(3.0, 10.0), (1.0, 10.0), (0.5, 2.0)])
def test_penalty_is_exact_on_a_linear_critic(norm: float, weight: float) -> None:
    direction = torch.ones(1, 4, 4)
    critic = LinearCritic(direction / direction.norm() * norm)
    real, fake = torch.rand(5, 1, 4, 4), torch.rand(5, 1, 4, 4)
    penalty = WganGp(WganGpOptions(gp_weight=weight)).discriminator_penalty(critic, real, fake)
    assert float(penalty.detach()) == pytest.approx(weight * (norm - 1) ** 2, rel=1e-5, abs=1e-6)


def test_penalty_trains_the_critic_and_not_the_images() -> None:
    image = ImageSpec(1, 8)
    critic = TinyDiscriminator(image=image)
    real = torch.rand(4, *image.shape) * 2 - 1
    fake = (torch.rand(4, *image.shape) * 2 - 1).requires_grad_(True)
    penalty = WganGp(WganGpOptions()).discriminator_penalty(critic, real, fake)
    penalty.backward()
    first_layer = critic.features[1].weight
    assert first_layer.grad is not None and float(first_layer.grad.abs().sum()) > 0
    assert fake.grad is None  # the generator is not trained through the penalty
    assert check_gan_loss(WganGp(WganGpOptions()), critic, image)["discriminator_penalty"] >= 0


def test_interpolates_follow_the_seed() -> None:
    image = ImageSpec(1, 8)
    critic = TinyDiscriminator(image=image)
    real, fake = -torch.ones(6, *image.shape), torch.ones(6, *image.shape)

    def penalties(seed: int) -> list[float]:
        loss = WganGp(WganGpOptions(seed=seed))
        return [float(loss.discriminator_penalty(critic, real, fake).detach()) for _ in range(3)]

    assert penalties(1) == penalties(1)
    assert penalties(1) != penalties(2)
    assert len(set(penalties(1))) == 3  # a fresh draw each call, not one fixed interpolate


def test_state_dict_resumes_the_random_stream() -> None:
    image = ImageSpec(1, 8)
    critic = TinyDiscriminator(image=image)
    real, fake = -torch.ones(4, *image.shape), torch.ones(4, *image.shape)
    first = WganGp(WganGpOptions(seed=3))
    first.discriminator_penalty(critic, real, fake)
    saved = first.state_dict()
    expected = float(first.discriminator_penalty(critic, real, fake).detach())
    resumed = WganGp(WganGpOptions(seed=3))
    resumed.load_state_dict(saved)
    assert float(resumed.discriminator_penalty(critic, real, fake).detach()) == expected


@pytest.mark.parametrize(
    ("table", "path"),
    [({"gp_weight": -1.0}, "gp_weight"), ({"gp_weight": "10"}, "gp_weight"), ({"sed": 3}, "sed")],
)
def test_options_are_checked_with_their_recipe_path(host, table: dict, path: str) -> None:
    with pytest.raises(RecipeError) as caught:
        check_component(host, "gan_losses", "wgan-gp", table)
    assert [problem.path for problem in caught.value.problems] == [f"gan_losses.wgan-gp.{path}"]


def _train(tmp_path, gp_weight: float) -> str:
    """Train tiny networks with the real train stage and this loss; returns losses.csv."""
    host = plugin_host(TINY, wgan_plugin)  # the built-ins, ganaug.testing's tiny parts, this plugin
    if "loss" not in attrs.fields_dict(host.registry.get("stages", "train").options):
        pytest.skip("the installed ganaug's train stage takes no loss option")
    stage = {
        "kind": "train",
        "name": "gan",
        "generator": "tiny",
        "discriminator": "tiny",
        "loss": {"name": "wgan-gp", "gp_weight": gp_weight},
        "weighter": "none",
        "epochs": 2,
        "batch_size": 4,
        "samples": 4,
    }
    result = run_text(tiny_recipe(stage, data={"size": 8}), host, tmp_path / f"gp{gp_weight}")
    assert result.outputs["gan"].model is not None
    return (result.run_dir / "gan" / "losses.csv").read_text()


def test_trains_end_to_end_and_the_penalty_is_applied(tmp_path) -> None:
    with_penalty, without = _train(tmp_path, 10.0), _train(tmp_path, 0.0)
    assert with_penalty != without
    assert _train(tmp_path / "again", 10.0) == with_penalty  # seeded: the same numbers again
