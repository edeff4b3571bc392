"""SSIM against scikit-image, and the SSIM dissimilarity weighter in both modes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from ganaug.host.loading import make_plugin_host
from ganaug.numeric.ssim import gaussian_window, ssim, to_unit
from ganaug.runtime.errors import RecipeError
from ganaug.testing import check_component
from ganaug_plugins.weighters.plugin import NoWeighter, SsimWeighter

HOST = make_plugin_host(builtins=("ganaug_plugins.weighters.plugin",), entry_points=False)


def _pair(n: int, channels: int, size: int, dtype: torch.dtype, seed: int = 0) -> tuple:
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, channels, size, size, generator=gen, dtype=dtype)
    y = (x + 0.3 * torch.randn(n, channels, size, size, generator=gen, dtype=dtype)).clamp(0, 1)
    return x, y


def _skimage(x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    return np.array(
        [
            structural_similarity(
                a.double().numpy(),
                b.double().numpy(),
                gaussian_weights=True,
                sigma=1.5,
                use_sample_covariance=False,
                data_range=1.0,
                channel_axis=0,
            )
            for a, b in zip(x, y, strict=True)
        ]
    )


@pytest.mark.parametrize(("channels", "size"), [(1, 32), (3, 32), (1, 64), (3, 17)])
def test_ssim_matches_scikit_image(channels: int, size: int) -> None:
    x, y = _pair(3, channels, size, torch.float64)
    reference = _skimage(x, y)
    assert np.abs(ssim(x, y).numpy() - reference).max() < 1e-12
    x32, y32 = x.float(), y.float()
    assert np.abs(ssim(x32, y32).numpy() - reference).max() < 1e-5


def test_gaussian_window_is_the_reference_one() -> None:
    window = gaussian_window().double()
    assert window.shape == (11,) and window.sum().item() == pytest.approx(1.0)
    offsets = torch.arange(11, dtype=torch.float64) - 5
    expected = torch.exp(-(offsets**2) / (2 * 1.5**2))
    assert torch.allclose(window, expected / expected.sum())


def test_ssim_of_an_image_with_itself_is_one_and_small_images_work() -> None:
    x, _ = _pair(2, 1, 32, torch.float32)
    assert torch.allclose(ssim(x, x), torch.ones(2))
    tiny, _ = _pair(2, 1, 8, torch.float32)  # smaller than the 11x11 window
    assert torch.allclose(ssim(tiny, tiny), torch.ones(2))
    with pytest.raises(ValueError, match="one shape"):
        ssim(x, tiny)


def test_weight_is_zero_for_a_copy_and_about_half_for_unrelated_noise() -> None:
    weighter = SsimWeighter()
    gen = torch.Generator().manual_seed(3)
    real = torch.rand(4, 1, 64, 64, generator=gen) * 2 - 1
    assert torch.allclose(weighter.weights(real, real), torch.zeros(4), atol=1e-6)
    noise = torch.rand(4, 1, 64, 64, generator=gen) * 2 - 1
    weights = weighter.weights(real, noise)
    assert weights.shape == (4,)
    assert torch.allclose(weights, torch.full((4,), 0.5), atol=0.03)
    # the inverted image is structurally opposite: more dissimilar than noise
    assert (weighter.weights(real, -real) > 0.6).all()


def test_weights_use_images_mapped_to_unit_range() -> None:
    real, fake = _pair(2, 3, 32, torch.float32)
    real, fake = real * 2 - 1, fake * 2 - 1
    expected = 1 - (ssim(to_unit(real), to_unit(fake)) + 1) / 2
    assert torch.allclose(SsimWeighter().weights(real, fake), expected)


def test_detached_weights_carry_no_gradient() -> None:
    real, _ = _pair(2, 1, 32, torch.float32)
    fake = (real.clone() * 0.5).requires_grad_(True)
    weights = SsimWeighter("detached").weights(real, fake)
    assert not weights.requires_grad
    (weights * fake.mean(dim=(1, 2, 3))).sum().backward()
    # the gradient is the loss's own: each weight times d(mean)/d(pixel), nothing from SSIM
    expected = (weights / fake[0].numel()).view(-1, 1, 1, 1).expand_as(fake)
    assert fake.grad is not None and torch.allclose(fake.grad, expected)


def test_differentiable_weights_pass_the_ssim_gradient() -> None:
    real, other = _pair(2, 1, 32, torch.float32)
    fake = other.clone().requires_grad_(True)
    weights = SsimWeighter("differentiable").weights(real, fake)
    assert weights.requires_grad
    weights.sum().backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    # the gradient matches finite differences (float64, a small image)
    x, y = _pair(1, 1, 12, torch.float64, seed=4)
    y.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda b: ssim(x, b), (y,))


def test_none_weighter_and_plugin_options() -> None:
    none = check_component(HOST, "loss_weighters", "none")
    weights = none.weights(torch.zeros(3, 1, 8, 8), torch.ones(3, 1, 8, 8))
    assert torch.equal(weights, torch.ones(3))
    assert isinstance(check_component(HOST, "loss_weighters", "none"), NoWeighter)
    built = check_component(HOST, "loss_weighters", "ssim", {"mode": "differentiable"})
    assert isinstance(built, SsimWeighter) and built.mode == "differentiable"
    assert check_component(HOST, "loss_weighters", "ssim").mode == "detached"
    with pytest.raises(RecipeError, match="mode"):
        check_component(HOST, "loss_weighters", "ssim", {"mode": "both"})
