"""IAGAN cost by component: GFLOP per image and time per image of encoder, projection, decoder
blocks and output layer (forward, batch of 64, eval mode)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from benchmarks.common import Settings, build_nets, flops_of, queries, timed


def bench_iagan_components(s: Settings, batch: int = 64) -> list[dict[str, Any]]:
    """Forward cost of each part of the IAGAN generator and of the discriminator, per image."""
    device = torch.device(s.device)
    g, d = build_nets("iagan", s.size, device)
    x = queries(batch, s.size, seed=4).to(device)
    z = torch.randn(batch, int(g.latent_dim), device=device)
    with torch.no_grad():
        encoded = g.encoder(x)
        noise = g.act(g.project_norm(g.project(z).view(batch, -1, *encoded.shape[2:])))
        inputs = [torch.cat([encoded, noise], dim=1)]
        for block in g.decoder:
            inputs.append(block(inputs[-1]))
    parts: list[tuple[str, Callable[[], Tensor]]] = [
        ("G encoder (+attention)", lambda: g.encoder(x)),
        (
            "G projection of z",
            lambda: g.act(g.project_norm(g.project(z).view(batch, -1, *encoded.shape[2:]))),
        ),
    ]
    for i, block in enumerate(g.decoder):
        parts.append((f"G decoder {i} {type(block).__name__}", _bind(block, inputs[i])))
    parts.append(("G to_image", _bind(g.to_image, inputs[-1])))
    parts.append(("G total", lambda: g(z, x)))
    parts.append(("D total", lambda: d(x)))
    rows = []
    with torch.no_grad():
        for label, fn in parts:
            seconds = timed(fn, device, warmup=1, reps=2)
            flops = flops_of(fn)
            rows.append(
                {
                    "component": label,
                    "gflop_per_image": flops / batch / 1e9,
                    "ms_per_image": seconds / batch * 1e3,
                    "gflops_achieved": flops / seconds / 1e9,
                }
            )
    return rows


def _bind(module: torch.nn.Module, x: Tensor) -> Callable[[], Tensor]:
    return lambda: module(x)
