"""The ``spectral_norm`` switch of the DCGAN and IAGAN networks (``ganaug.api.networks``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import safetensors.torch
import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ganaug.api.interfaces import ImageSpec
from ganaug.api.networks import SPECTRAL_NORM_LAYERS, apply_spectral_norm, generate
from ganaug.kit.training.checkpoint import latest_checkpoint, load_checkpoint
from ganaug.runner.engine import run_recipe
from ganaug.runtime.errors import RecipeError, RunInterrupted
from ganaug_plugins.models.dcgan.networks import DcganDiscriminator, DcganGenerator
from ganaug_plugins.models.dcgan.plugin import DcganDiscriminatorOptions, DcganGeneratorOptions
from ganaug_plugins.models.dcgan.plugin import build_discriminator as build_dcgan_d
from ganaug_plugins.models.dcgan.plugin import build_generator as build_dcgan_g
from ganaug_plugins.models.iagan.discriminator import IaganDiscriminator
from ganaug_plugins.models.iagan.generator import IaganGenerator
from ganaug_plugins.models.iagan.plugin import IaganDiscriminatorOptions, IaganGeneratorOptions
from ganaug_plugins.models.iagan.plugin import build_discriminator as build_iagan_d
from ganaug_plugins.models.iagan.plugin import build_generator as build_iagan_g
from tests.training_toys import CALLS, HOST, TRIGGERS, iagan, run

pytestmark = pytest.mark.usefixtures("one_thread", "reset_triggers")

IMAGE = ImageSpec(1, 32)
SN_ON = ("stages.iagan.generator.spectral_norm=true", "stages.iagan.discriminator.spectral_norm=true")


def _networks(spectral_norm: bool) -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return {
        "dcgan-g": DcganGenerator(IMAGE, latent_dim=8, width=8, spectral_norm=spectral_norm),
        "dcgan-d": DcganDiscriminator(IMAGE, width=8, spectral_norm=spectral_norm),
        "iagan-g": IaganGenerator(IMAGE, latent_dim=8, width=8, spectral_norm=spectral_norm),
        "iagan-d": IaganDiscriminator(IMAGE, width=8, spectral_norm=spectral_norm),
    }


def _layers(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, SPECTRAL_NORM_LAYERS)]


def _sigma(layer: nn.Module, weight: Tensor) -> float:
    """Largest singular value of ``weight`` as a matrix [out, rest] (dim 1 is "out" in a transposed conv)."""
    if isinstance(layer, nn.ConvTranspose2d):
        weight = weight.transpose(0, 1)
    return float(torch.linalg.matrix_norm(weight.reshape(weight.shape[0], -1), ord=2))


def _forward(name: str, net: nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(4, *IMAGE.shape, generator=gen) * 2 - 1
    if name.endswith("-d"):
        net(x)
    else:
        generate(net, torch.randn(4, 8, generator=gen), x)


@pytest.mark.parametrize("name", ["dcgan-g", "dcgan-d", "iagan-g", "iagan-d"])
def test_wrapped_layers_have_unit_spectral_norm(name: str) -> None:
    net = _networks(spectral_norm=True)[name].train()
    layers = _layers(net)
    assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
    raw = [_sigma(m, m.parametrizations.weight.original.detach()) for m in layers]
    assert any(abs(s - 1.0) > 0.1 for s in raw)  # the test would pass without normalisation otherwise
    with torch.no_grad():
        for seed in range(10):
            _forward(name, net, seed)
        net.eval()
        sigmas = [_sigma(m, m.weight) for m in layers]
    assert sigmas == pytest.approx([1.0] * len(layers), abs=0.1)


def test_off_is_unchanged() -> None:
    plain = {
        "dcgan-g": lambda: DcganGenerator(IMAGE, latent_dim=8, width=8),
        "dcgan-d": lambda: DcganDiscriminator(IMAGE, width=8),
        "iagan-g": lambda: IaganGenerator(IMAGE, latent_dim=8, width=8),
        "iagan-d": lambda: IaganDiscriminator(IMAGE, width=8),
    }
    built = {
        "dcgan-g": lambda: build_dcgan_g(DcganGeneratorOptions(latent_dim=8, width=8), IMAGE),
        "dcgan-d": lambda: build_dcgan_d(DcganDiscriminatorOptions(width=8), IMAGE),
        "iagan-g": lambda: build_iagan_g(IaganGeneratorOptions(latent_dim=8, width=8), IMAGE),
        "iagan-d": lambda: build_iagan_d(IaganDiscriminatorOptions(width=8), IMAGE),
    }
    for name, make in plain.items():
        torch.manual_seed(0)
        reference, after_reference = make().state_dict(), torch.randn(3)
        torch.manual_seed(0)
        net, after = built[name](), torch.randn(3)
        assert not any(parametrize.is_parametrized(m) for m in net.modules()), name
        state = net.state_dict()
        assert list(state) == list(reference), name
        assert all(torch.equal(state[k], reference[k]) for k in state), name
        assert torch.equal(after, after_reference), name  # no extra draws from the global stream


def test_on_keeps_the_power_iteration_vectors_in_the_state_dict() -> None:
    for name, net in _networks(spectral_norm=True).items():
        keys = set(net.state_dict())
        wrapped = [prefix for prefix, m in net.named_modules() if isinstance(m, SPECTRAL_NORM_LAYERS)]
        assert wrapped, name
        for prefix in wrapped:
            base = f"{prefix}.parametrizations.weight"
            assert {f"{base}.original", f"{base}.0._u", f"{base}.0._v"} <= keys, (name, prefix)
            assert f"{prefix}.weight" not in keys, (name, prefix)


def test_apply_spectral_norm_is_idempotent_and_returns_the_module() -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Linear(2, 1), nn.BatchNorm1d(1))
    assert apply_spectral_norm(net) is net
    keys = list(net.state_dict())
    apply_spectral_norm(net)
    assert list(net.state_dict()) == keys
    assert parametrize.is_parametrized(net[0], "weight") and parametrize.is_parametrized(net[2], "weight")
    assert not parametrize.is_parametrized(net[3])


def test_option_is_a_bool_with_its_recipe_path() -> None:
    recipe = iagan(0, "least-squares", *SN_ON)
    options = recipe.stages[0].options
    assert options.generator.options.spectral_norm is True
    assert options.discriminator.options.spectral_norm is True
    assert iagan().stages[0].options.discriminator.options.spectral_norm is False
    with pytest.raises(RecipeError) as err:
        iagan(0, "least-squares", "stages.iagan.discriminator.spectral_norm=1")
    assert [p.path for p in err.value.problems] == ["stages[0].discriminator.spectral_norm"]
    with pytest.raises(RecipeError) as err:
        iagan(0, "least-squares", 'stages.iagan.generator.spectral_norm="yes"')
    assert [p.path for p in err.value.problems] == ["stages[0].generator.spectral_norm"]


def _bytes(run_dir: Path, name: str) -> bytes:
    return (run_dir / "iagan" / name).read_bytes()


def _sn(*overrides: str) -> Any:
    return iagan(0, "watched", *SN_ON, *overrides)


def test_training_with_spectral_norm_resumes_bit_identically(tmp_path: Path) -> None:
    reference = run(_sn(), tmp_path / "reference")
    model = reference.outputs["iagan"].model
    assert reference.outputs["iagan"].metrics["steps"] == 6
    assert all(parametrize.is_parametrized(m, "weight") for m in _layers(model.discriminator))
    saved = safetensors.torch.load_file(reference.run_dir / "iagan" / "discriminator.safetensors")
    assert "head.parametrizations.weight.0._u" in saved

    CALLS["n"] = 0
    TRIGGERS["interrupt"] = 5  # during the 2nd batch of epoch 2
    out = tmp_path / "interrupted"
    with pytest.raises((KeyboardInterrupt, RunInterrupted)):
        run(_sn(), out)
    latest = latest_checkpoint(out / "iagan" / "checkpoints")
    assert latest is not None and load_checkpoint(latest).meta["position"]["step"] == 5
    TRIGGERS["interrupt"] = None
    resumed = run_recipe(_sn(), resume=out, host=HOST)
    assert resumed.outputs["iagan"].metrics["steps"] == 6
    for name in ("generator.safetensors", "discriminator.safetensors", "losses.csv"):
        assert _bytes(out, name) == _bytes(reference.run_dir, name), name
