"""Training throughput with the real train step (``GanStep``: D then G, SSIM weights for IAGAN)."""

from __future__ import annotations

from typing import Any

import torch

from benchmarks.common import Settings, build_nets, flops_of, queries, timed
from ganaug.host.loading import make_plugin_host
from ganaug_plugins.stages.gan_step import GanStep


def make_step(name: str, size: int, device: torch.device, channels_last: bool = False) -> GanStep:
    """The train stage's step for model ``name``: least-squares loss, Adam as in the paper, and
    the SSIM weighter for the conditional IAGAN (no weighting for the DCGAN)."""
    registry = make_plugin_host().registry
    g, d = build_nets(name, size, device)
    g.train(), d.train()
    if channels_last:
        g, d = g.to(memory_format=torch.channels_last), d.to(memory_format=torch.channels_last)
    loss_c = registry.get("gan_losses", "least-squares")
    weighter_c = registry.get("loss_weighters", "ssim" if g.conditional else "none")
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=4e-4, betas=(0.5, 0.999))
    loss = loss_c.build(loss_c.options())
    weighter = weighter_c.build(weighter_c.options())
    return GanStep(g, d, loss, weighter, opt_g, opt_d)


def bench_train(
    name: str, batch: int, s: Settings, peak: float, channels_last: bool = False
) -> dict[str, Any]:
    """Images per second and achieved GFLOP/s of the train step at ``batch``."""
    device = torch.device(s.device)
    step = make_step(name, s.size, device, channels_last)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    real = queries(batch, s.size, seed=3).to(device).contiguous(memory_format=fmt)
    z = torch.randn(batch, int(step.generator.latent_dim), device=device)
    seconds = timed(lambda: step(real, z), device, warmup=1, reps=s.train_steps)
    flops = flops_of(lambda: step(real, z))
    return {
        "model": name,
        "batch": batch,
        "channels_last": channels_last,
        "images_per_s": batch / seconds,
        "gflop_per_image": flops / batch / 1e9,
        "gflops_achieved": flops / seconds / 1e9,
        "fraction_of_matmul": flops / seconds / 1e9 / peak,
    }
