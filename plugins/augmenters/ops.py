"""Differentiable image operations of DiffAugment (Zhao et al., 2020), one draw per image.

Each op takes a batch ``[N, C, H, W]`` and a CPU ``torch.Generator`` and returns a batch of the
same shape whose gradient flows to the input; the per-image parameters are drawn on the CPU (the
same on every device) and moved to the batch's device. ``apply`` mixes an op's output into the
batch image by image with a probability (ADA's p), without reading it back to the host.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

Op = Callable[[Tensor, torch.Generator], Tensor]


def _uniform(n: int, rng: torch.Generator, like: Tensor) -> Tensor:
    """``[N, 1, 1, 1]`` draws from U(0, 1) on ``like``'s device and dtype."""
    return torch.rand(n, 1, 1, 1, generator=rng).to(device=like.device, dtype=like.dtype)


def brightness(x: Tensor, rng: torch.Generator) -> Tensor:
    """Add U(-0.5, 0.5) to each image."""
    return x + (_uniform(len(x), rng, x) - 0.5)


def contrast(x: Tensor, rng: torch.Generator) -> Tensor:
    """Scale each image about its mean by U(0.5, 1.5)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(len(x), rng, x) + 0.5) + mean


def saturation(x: Tensor, rng: torch.Generator) -> Tensor:
    """Scale each pixel's channels about their mean by U(0, 2) (colour images only)."""
    if x.shape[1] < 3:
        return x
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (_uniform(len(x), rng, x) * 2.0) + mean


def translation(ratio: float = 0.125, fill: float = 0.0) -> Op:
    """Shift each image by whole pixels, up to ``ratio`` of its size each way, padding with ``fill``."""

    def translate(x: Tensor, rng: torch.Generator) -> Tensor:
        n, _, h, w = x.shape
        sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
        if sh == 0 and sw == 0:
            return x
        dy = torch.randint(-sh, sh + 1, (n, 1), generator=rng).to(x.device)
        dx = torch.randint(-sw, sw + 1, (n, 1), generator=rng).to(x.device)
        padded = torch.nn.functional.pad(x, [sw, sw, sh, sh], value=fill)
        rows = torch.arange(h, device=x.device)[None, :] + sh - dy  # [N, H]
        cols = torch.arange(w, device=x.device)[None, :] + sw - dx  # [N, W]
        picked = padded[
            torch.arange(n, device=x.device)[:, None, None], :, rows[:, :, None], cols[:, None, :]
        ]
        return picked.permute(0, 3, 1, 2)  # advanced indexing put the channels last

    return translate


def cutout(ratio: float = 0.5, fill: float = 0.0) -> Op:
    """Set a square of ``ratio`` of the image's size, at a random place in each image, to ``fill``."""

    def cut(x: Tensor, rng: torch.Generator) -> Tensor:
        n, _, h, w = x.shape
        ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
        if ch == 0 or cw == 0:
            return x
        top = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=rng).to(x.device) - ch // 2
        left = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=rng).to(x.device) - cw // 2
        r = torch.arange(h, device=x.device)[None, :, None]
        c = torch.arange(w, device=x.device)[None, None, :]
        inside = (r >= top) & (r < top + ch) & (c >= left) & (c < left + cw)  # [N, H, W]
        keep = (~inside)[:, None].to(x.dtype)
        return x * keep + fill * (1.0 - keep)

    return cut


def affine(rotation: float = 10.0, scale: float = 0.1, fill: float = 0.0) -> Op:
    """Rotate each image by up to ``rotation`` degrees either way and scale it by U(1 - scale,
    1 + scale) about its centre (bilinear), filling what comes in from outside with ``fill``."""

    def transform(x: Tensor, rng: torch.Generator) -> Tensor:
        n = len(x)
        if rotation == 0.0 and scale == 0.0:
            return x
        angle = (_uniform(n, rng, x).view(n) * 2.0 - 1.0) * math.radians(rotation)
        factor = 1.0 + (_uniform(n, rng, x).view(n) * 2.0 - 1.0) * scale
        cos, sin = torch.cos(angle) / factor, torch.sin(angle) / factor
        zero = torch.zeros_like(cos)
        theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
        grid = torch.nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
        # zeros padding: shift so that "zero" outside the image becomes ``fill``
        moved = torch.nn.functional.grid_sample(x - fill, grid, mode="bilinear", align_corners=False)
        return moved + fill

    return transform


def apply(op: Op, x: Tensor, rng: torch.Generator, p: Tensor | float) -> Tensor:
    """``op(x)`` for each image with probability ``p`` (a 0-dim tensor or a float), else ``x``."""
    if isinstance(p, float) and p >= 1.0:
        return op(x, rng)
    draw = torch.rand(len(x), 1, 1, 1, generator=rng).to(x.device)
    chosen = (draw < p).to(x.dtype)
    return chosen * op(x, rng) + (1.0 - chosen) * x


#: Op groups by the policy names of DiffAugment.
def policy_ops(
    name: str,
    translation_ratio: float,
    cutout_ratio: float,
    fill: float,
    rotation: float = 10.0,
    scale: float = 0.1,
) -> list[Op]:
    """The ops one policy name stands for: ``color`` (brightness, saturation, contrast),
    ``translation``, ``cutout``, ``affine`` (small rotation and scaling)."""
    if name == "color":
        return [brightness, saturation, contrast]
    if name == "translation":
        return [translation(translation_ratio, fill)]
    if name == "cutout":
        return [cutout(cutout_ratio, fill)]
    if name == "affine":
        return [affine(rotation, scale, fill)]
    raise ValueError(f"unknown augmentation policy {name!r}; known: color, translation, cutout, affine")
