"""Latent search throughput: public-port style vs frozen one-at-a-time vs ganaug's batched search."""

from __future__ import annotations

from typing import Any

import attrs
import torch
from torch import Tensor, nn

from benchmarks.common import (
    Settings,
    build_nets,
    current_rss_mb,
    flops_of,
    peak_rss_mb,
    queries,
    reset_peak_rss,
    timed,
)
from ganaug.api.networks import frozen
from ganaug_plugins.searchers.backprop import BackpropOptions, BackpropSearcher

LAMBDA = 0.2


def _g(generator: nn.Module, z: Tensor, x: Tensor) -> Tensor:
    return generator(z, x) if generator.conditional else generator(z)


def port_style(generator: nn.Module, discriminator: nn.Module, x: Tensor, steps: int) -> None:
    """How public AnoGAN ports search: one image at a time, networks not frozen (parameter
    gradients computed and thrown away), f(x) recomputed every step. Eval mode (train mode is a bug)."""
    for i in range(x.shape[0]):
        xi = x[i : i + 1]
        z = torch.randn(1, int(generator.latent_dim), device=x.device, requires_grad=True)
        optimizer = torch.optim.Adam([z], lr=0.05)
        for _ in range(steps):
            optimizer.zero_grad()
            fake = _g(generator, z, xi)
            _, fx = discriminator(xi)
            _, f_fake = discriminator(fake)
            residual = (xi - fake).abs().sum()
            loss = (1 - LAMBDA) * residual + LAMBDA * (fx - f_fake).abs().sum()
            generator.zero_grad()
            discriminator.zero_grad()
            loss.backward()
            optimizer.step()


def _searcher(steps: int, **kw: Any) -> BackpropSearcher:
    return BackpropSearcher(BackpropOptions(steps=steps, feature_weight=LAMBDA, **kw))


def search_rate(
    searcher: BackpropSearcher, g: nn.Module, d: nn.Module, x: Tensor, device: torch.device
) -> float:
    """Image-steps per second of ``searcher`` on ``x``, after a one-step warm-up on one chunk."""
    warm = BackpropSearcher(attrs.evolve(searcher.options, steps=1))
    warm.search(g, d, x[: searcher.options.chunk_size], seed=0)
    seconds = timed(lambda: searcher.search(g, d, x, seed=0), device, warmup=0)
    return x.shape[0] * searcher.options.steps / seconds


def step_flops(g: nn.Module, d: nn.Module, size: int, device: torch.device) -> int:
    """FLOPs of one search step for one image: the searcher's ops (frozen nets, G and D forward,
    backward to z; f(x) cached). z enters through a no-op add: FlopCounterMode's module tracker
    refuses a leaf tensor as a module input."""
    n = 8
    x = queries(n, size).to(device)
    with torch.no_grad():
        fx = d(x)[1]
    leaf = torch.zeros(n, int(g.latent_dim), device=device, requires_grad=True)

    def step() -> None:
        fake = _g(g, leaf + 0, x)
        f_fake = d(fake)[1]
        residual = (x - fake).abs().flatten(1).sum(1)
        loss = (1 - LAMBDA) * residual + LAMBDA * (fx - f_fake).abs().flatten(1).sum(1)
        loss.sum().backward()

    with frozen(g, d):
        return flops_of(step) // n


def bench_search(name: str, s: Settings, peak: float, chunk_sizes: tuple[int, ...]) -> dict[str, Any]:
    """All search measurements for one model (``dcgan`` or ``iagan``)."""
    device = torch.device(s.device)
    g, d = build_nets(name, s.size, device)
    xs = queries(max(s.port_images, s.batched_images), s.size).to(device)
    one = xs[: s.port_images]
    steps = s.search_steps
    port_style(g, d, one[:1], 2)  # warm-up
    port = one.shape[0] * steps / timed(lambda: port_style(g, d, one, steps), device, warmup=0)
    frozen_one = search_rate(_searcher(steps, chunk_size=1), g, d, one, device)
    batched = xs[: s.batched_images]
    by_chunk: dict[str, float] = {}
    for chunk in chunk_sizes:
        for cl in (False, True):
            rate = search_rate(_searcher(steps, chunk_size=chunk, channels_last=cl), g, d, batched, device)
            by_chunk[f"{chunk}{'_cl' if cl else ''}"] = rate
    default = BackpropOptions()
    default_rate = by_chunk.get(f"{default.chunk_size}{'_cl' if default.channels_last else ''}")
    best_key = max(by_chunk, key=by_chunk.__getitem__)
    flops = step_flops(g, d, s.size, device)
    best = by_chunk[best_key]
    return {
        "model": name,
        "steps_measured": steps,
        "port_images": int(one.shape[0]),
        "batched_images": int(batched.shape[0]),
        "gflop_per_image_step": flops / 1e9,
        "port_style": port,
        "frozen_one_at_a_time": frozen_one,
        "batched_by_chunk": by_chunk,
        "batched_default": default_rate,
        "batched_best": best,
        "batched_best_setting": best_key,
        "speedup_vs_port": best / port,
        "speedup_vs_frozen_one": best / frozen_one,
        "gflops_achieved": best * flops / 1e9,
        "fraction_of_matmul": best * flops / 1e9 / peak,
    }


def bench_early_stop(s: Settings) -> dict[str, Any]:
    """Early stop against the fixed-step protocol on the DCGAN: image-steps saved, score change."""
    device = torch.device(s.device)
    g, d = build_nets("dcgan", s.size, device)
    x = queries(s.early_stop_images, s.size, seed=1).to(device)
    fixed = _searcher(s.early_stop_steps, chunk_size=64, channels_last=True)
    early = _searcher(
        s.early_stop_steps, chunk_size=64, channels_last=True, early_stop_patience=10, early_stop_tol=1e-3
    )
    a, b = fixed.search(g, d, x, seed=0), early.search(g, d, x, seed=0)
    relative = ((b.score - a.score) / a.score).abs()
    return {
        "images": int(x.shape[0]),
        "steps": s.early_stop_steps,
        "patience": 10,
        "tol": 1e-3,
        "image_steps_fixed": fixed.steps_run,
        "image_steps_early": early.steps_run,
        "saved_fraction": 1 - early.steps_run / max(fixed.steps_run, 1),
        "score_mean_fixed": float(a.score.mean()),
        "score_mean_early": float(b.score.mean()),
        "score_rel_diff_mean": float(relative.mean()),
        "score_rel_diff_max": float(relative.max()),
    }


def bench_memory(s: Settings) -> dict[str, Any]:
    """Peak resident set while searching ``memory_images`` images (1 step each) in chunks of 64,
    channels_last: bounded by one chunk's activations plus the inputs and outputs, not by the image count."""
    device = torch.device(s.device)
    g, d = build_nets("dcgan", s.size, device)
    x = queries(s.memory_images, s.size, seed=2)
    before = current_rss_mb()
    reset = reset_peak_rss()
    result = _searcher(1, chunk_size=64, channels_last=True).search(g, d, x, seed=0)
    peak = peak_rss_mb()
    data_mb = 2 * x.numel() * 4 / 2**20  # queries in, generated images out
    return {
        "images": int(x.shape[0]),
        "rss_before_mb": before,
        "peak_rss_mb": peak,
        "peak_is_of_this_run": reset,
        "queries_and_results_mb": data_mb,
        "generated_shape": list(result.generated.shape),
        "under_2gb": peak < 2048,
    }
