"""IAGAN and DCGAN networks: shapes for every size and channel count, gradients, plugin options."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganaug.api.interfaces import ImageSpec
from ganaug.host.loading import make_plugin_host
from ganaug.runtime.errors import RecipeError
from ganaug.testing import check_component
from ganaug_plugins.models.dcgan.networks import DcganDiscriminator, DcganGenerator
from ganaug_plugins.models.iagan.blocks import InceptionBlock, ResidualUpBlock, SelfAttention
from ganaug_plugins.models.iagan.discriminator import IaganDiscriminator
from ganaug_plugins.models.iagan.generator import IaganGenerator

SIZES = [(size, channels) for size in (32, 64, 128) for channels in (1, 3)]
HOST = make_plugin_host(
    builtins=("ganaug_plugins.models.iagan.plugin", "ganaug_plugins.models.dcgan.plugin"), entry_points=False
)


def _images(n: int, image: ImageSpec, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, *image.shape, generator=gen) * 2 - 1


def _z(n: int, dim: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("size", "channels"), SIZES)
def test_iagan_shapes(size: int, channels: int) -> None:
    image = ImageSpec(channels, size)
    g, d = IaganGenerator(image, latent_dim=125, width=16), IaganDiscriminator(image, width=16)
    assert g.conditional is True and g.latent_dim == 125
    out = g(_z(2, 125), _images(2, image))
    assert out.shape == (2, channels, size, size) and out.dtype == torch.float32
    assert out.abs().max() <= 1.0
    logits, features = d(out)
    assert logits.shape == (2,)
    assert features.shape == (2, 8 * 16, size // 16, size // 16)


@pytest.mark.parametrize(("size", "channels"), SIZES)
def test_dcgan_shapes(size: int, channels: int) -> None:
    image = ImageSpec(channels, size)
    g, d = DcganGenerator(image, latent_dim=100, width=8), DcganDiscriminator(image, width=8)
    assert g.conditional is False and g.latent_dim == 100
    out = g(_z(2, 100))
    assert out.shape == (2, channels, size, size) and out.abs().max() <= 1.0
    logits, features = d(out)
    assert logits.shape == (2,)
    # features: the last conv block, at 4x4, with width * 2^(layers-1) channels
    assert features.shape == (2, 8 * size // 8, 4, 4)


def test_dcgan_64_matches_the_anogan_layout() -> None:
    g, d = DcganGenerator(ImageSpec(1, 64)), DcganDiscriminator(ImageSpec(1, 64))
    convs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [m.out_channels for m in convs] == [512, 256, 128, 64, 1]
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [m.out_channels for m in convs] == [64, 128, 256, 512, 1]
    assert d(torch.zeros(2, 1, 64, 64))[1].shape == (2, 512, 4, 4)


def test_dcgan_ignores_x_and_iagan_uses_it() -> None:
    image = ImageSpec(1, 32)
    z = _z(2, 100)
    dcgan = DcganGenerator(image).eval()
    assert torch.equal(dcgan(z), dcgan(z, _images(2, image)))
    iagan = IaganGenerator(image, latent_dim=100, width=16).eval()
    a, b = iagan(z, _images(2, image, 1)), iagan(z, _images(2, image, 2))
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="conditional"):
        iagan(z)


def _grads_everywhere(module: nn.Module) -> list[str]:
    """Names of parameters whose gradient is missing or all zero."""
    return [name for name, p in module.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]


def _weighted_sum(out: torch.Tensor) -> torch.Tensor:
    """A loss with varied upstream gradients (a plain sum cancels in train-mode BatchNorm)."""
    return (out * torch.randn(out.shape, generator=torch.Generator().manual_seed(5))).sum()


def test_gradients_reach_every_iagan_generator_parameter() -> None:
    image = ImageSpec(1, 32)
    g = IaganGenerator(image, latent_dim=16, width=16)
    attention = next(m for m in g.modules() if isinstance(m, SelfAttention))
    assert attention.gamma.item() == 0.0
    _weighted_sum(g(_z(4, 16), _images(4, image))).backward()
    assert attention.gamma.grad is not None and attention.gamma.grad.abs().item() > 0
    g.zero_grad(set_to_none=True)
    with torch.no_grad():
        attention.gamma.fill_(0.5)  # once gamma moves, f, g and h get gradients too
    _weighted_sum(g(_z(4, 16), _images(4, image))).backward()
    assert _grads_everywhere(g) == []


@pytest.mark.parametrize("factory", [IaganDiscriminator, DcganDiscriminator])
def test_gradients_reach_every_discriminator_parameter(factory: type) -> None:
    image = ImageSpec(3, 32)
    d = factory(image, width=8)
    x = _images(4, image).requires_grad_(True)
    logits, _ = d(x)
    _weighted_sum(logits).backward()
    assert _grads_everywhere(d) == []
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_gradients_reach_every_dcgan_generator_parameter() -> None:
    g = DcganGenerator(ImageSpec(1, 32), latent_dim=8, width=8)
    _weighted_sum(g(_z(4, 8))).backward()
    assert _grads_everywhere(g) == []


def test_self_attention_starts_as_identity_and_mixes_positions() -> None:
    layer = SelfAttention(16)
    x = _images(2, ImageSpec(16, 8))
    assert torch.equal(layer(x), x)
    with torch.no_grad():
        layer.gamma.fill_(1.0)
    out = layer(x)
    y = x.clone()
    y[:, :, 0, 0] += 1.0  # one input position changes every output position
    assert (layer(y) - out)[:, :, 7, 7].abs().sum() > 0


def test_inception_and_residual_blocks() -> None:
    block = InceptionBlock(12, 32)
    branches = [block.branch1, block.branch3[-1], block.branch5[-1], block.branch_pool[-1]]
    assert [b.out_channels for b in branches] == [8, 16, 4, 4]
    assert block(torch.randn(2, 12, 8, 8)).shape == (2, 32, 8, 8)
    assert block.norm.num_features == 32  # normalised over channels, not height
    with pytest.raises(ValueError, match="multiple of 8"):
        InceptionBlock(12, 20)
    assert ResidualUpBlock(32, 16)(torch.randn(2, 32, 8, 8)).shape == (2, 16, 16, 16)


def test_bad_sizes_are_refused() -> None:
    for factory in (IaganGenerator, IaganDiscriminator, DcganGenerator, DcganDiscriminator):
        with pytest.raises(ValueError, match="power of two"):
            factory(ImageSpec(1, 48))


@pytest.mark.parametrize(("kind", "name"), [("generators", "iagan"), ("discriminators", "iagan")])
def test_iagan_plugin_contract(kind: str, name: str) -> None:
    built = check_component(HOST, kind, name, {"width": 16}, image=ImageSpec(1, 32))
    assert isinstance(built, IaganGenerator | IaganDiscriminator)


@pytest.mark.parametrize(("kind", "name"), [("generators", "dcgan"), ("discriminators", "dcgan")])
def test_dcgan_plugin_contract(kind: str, name: str) -> None:
    built = check_component(HOST, kind, name, {"width": 8}, image=ImageSpec(3, 32))
    assert isinstance(built, DcganGenerator | DcganDiscriminator)


def test_plugin_defaults_are_the_papers() -> None:
    g = check_component(HOST, "generators", "iagan", image=ImageSpec(1, 64))
    assert g.latent_dim == 125
    assert check_component(HOST, "generators", "dcgan", image=ImageSpec(1, 64)).latent_dim == 100


def test_plugin_options_are_validated() -> None:
    with pytest.raises(RecipeError, match="width"):
        check_component(HOST, "generators", "iagan", {"width": 12})
    with pytest.raises(RecipeError, match="latent_dim"):
        check_component(HOST, "generators", "dcgan", {"latent_dim": 0})


@pytest.mark.parametrize("name", ["dcgan", "iagan"])
def test_the_former_z_dim_option_names_latent_dim(name: str) -> None:
    with pytest.raises(RecipeError) as info:
        check_component(HOST, "generators", name, {"z_dim": 8})
    messages = {p.path: p.message for p in info.value.problems}
    assert messages == {f"generators.{name}.z_dim": "renamed: use latent_dim"}
    g = check_component(HOST, "generators", name, {"latent_dim": 8, "width": 16}, image=ImageSpec(1, 32))
    assert g.latent_dim == 8
