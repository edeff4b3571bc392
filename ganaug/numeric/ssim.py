"""SSIM (Wang et al. 2004) per image, batched and differentiable, matching scikit-image.

The reference settings: an 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, population
(co)variances. Only window positions that lie fully inside the image are averaged; this equals
scikit-image's ``structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False)``, which filters with reflected borders and then crops them.
Inputs must be non-negative intensities (map [-1, 1] images with :func:`to_unit` first).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

#: The reference window: 11x11 Gaussian, sigma 1.5 (radius int(3.5 * sigma + 0.5) = 5).
WINDOW = 11
SIGMA = 1.5
K1 = 0.01
K2 = 0.03


def gaussian_window(size: int = WINDOW, sigma: float = SIGMA, dtype: torch.dtype = torch.float32) -> Tensor:
    """The normalised 1-D Gaussian of odd length ``size``."""
    offsets = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return (kernel / kernel.sum()).to(dtype)


def _filter(images: Tensor, kernel: Tensor) -> Tensor:
    """Separable 'valid' Gaussian filtering of every channel of ``[N, C, H, W]``."""
    channels = images.shape[1]
    k = kernel.to(images.dtype)
    rows = k.view(1, 1, 1, -1).expand(channels, 1, 1, -1)
    cols = k.view(1, 1, -1, 1).expand(channels, 1, -1, 1)
    return F.conv2d(F.conv2d(images, rows, groups=channels), cols, groups=channels)


def ssim(
    x: Tensor,
    y: Tensor,
    *,
    data_range: float = 1.0,
    window: int = WINDOW,
    sigma: float = SIGMA,
    k1: float = K1,
    k2: float = K2,
) -> Tensor:
    """Mean SSIM of each image pair: ``x, y [N, C, H, W] -> [N]`` (channels averaged).

    Images smaller than the window use the largest odd window that fits (same ``sigma``).
    """
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"ssim needs two [N, C, H, W] tensors of one shape, got {x.shape} and {y.shape}")
    side = min(window, *x.shape[-2:])
    side -= 1 - side % 2
    kernel = gaussian_window(side, sigma, torch.float64).to(x.device)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    n, c = x.shape[:2]
    stacked = _filter(torch.cat([x, y, x * x, y * y, x * y], dim=1), kernel)
    mu_x, mu_y, xx, yy, xy = stacked.split(c, dim=1)
    var_x = xx - mu_x * mu_x
    var_y = yy - mu_y * mu_y
    cov = xy - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    denominator = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    return (numerator / denominator).reshape(n, -1).mean(dim=1)


def to_unit(images: Tensor) -> Tensor:
    """Map images from [-1, 1] to [0, 1] (SSIM is undefined for negative intensities)."""
    return (images + 1) / 2
