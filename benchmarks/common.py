"""Shared benchmark helpers: networks from the registry, timing, FLOP counting, peak memory."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ganaug.api.interfaces import ImageSpec
from ganaug.host.loading import make_plugin_host

SIZE = 64  # the benchmark's images: 64x64 grayscale, as in the paper


@attrs.frozen
class Settings:
    """Sizes of one benchmark run: ``quick`` for a smoke run, ``tiny`` for tests."""

    device: str = "cpu"
    size: int = SIZE
    search_steps: int = 5  # measured steps per search after a warm-up
    port_images: int = 2  # images searched one at a time (port style, frozen one-at-a-time)
    batched_images: int = 128  # images searched batched
    chunk_sizes: tuple[int, ...] = (32, 64, 128)  # DCGAN
    iagan_chunk_sizes: tuple[int, ...] = (64,)
    train_steps: int = 2
    train_batches: tuple[int, ...] = (16, 64)
    memory_images: int = 10_000
    early_stop_images: int = 32
    early_stop_steps: int = 200
    matmul_n: int = 2048


def sync(device: torch.device) -> None:
    """Wait for queued device work, so a timer measures work done and not work queued."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device, warmup: int = 1, reps: int = 1) -> float:
    """Seconds per call of ``fn``, after ``warmup`` untimed calls (a fixed count, no time windows)."""
    for _ in range(warmup):
        fn()
    sync(device)
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    sync(device)
    return (time.perf_counter() - start) / reps


def flops_of(fn: Callable[[], Any]) -> int:
    """FLOPs of one call of ``fn`` (forward and backward) as torch's FlopCounterMode counts them."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def matmul_gflops(n: int, device: torch.device) -> float:
    """Achieved GFLOP/s of a large fp32 matrix product: the machine's practical peak."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    reps = 20 if device.type == "cuda" else 4
    seconds = timed(lambda: a @ b, device, warmup=2, reps=reps)
    return 2 * n**3 / seconds / 1e9


def build_nets(name: str, size: int, device: torch.device) -> tuple[nn.Module, nn.Module]:
    """Generator and discriminator ``name`` built through the plugin registry, in eval mode,
    with BatchNorm running statistics from one pass over random data (as after training)."""
    registry = make_plugin_host().registry
    image = ImageSpec(1, size)
    torch.manual_seed(0)
    nets = []
    for kind in ("generators", "discriminators"):
        component = registry.get(kind, name)
        nets.append(component.build(component.options(), image=image).to(device))
    g, d = nets
    x = torch.rand(32, 1, size, size, device=device) * 2 - 1
    z = torch.randn(32, int(g.latent_dim), device=device)
    with torch.no_grad():
        g.train(), d.train()
        fake = g(z, x) if g.conditional else g(z)
        d(x), d(fake)
    return g.eval(), d.eval()


def queries(n: int, size: int, seed: int = 0) -> torch.Tensor:
    """``n`` random query images in [-1, 1] (search cost does not depend on content)."""
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def peak_rss_mb() -> float:
    """Peak resident set of this process (VmHWM) in MiB; 0 where /proc is missing."""
    status = Path("/proc/self/status")
    if not status.exists():
        return 0.0
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def current_rss_mb() -> float:
    """Resident set of this process now (VmRSS) in MiB."""
    status = Path("/proc/self/status")
    if not status.exists():
        return 0.0
    for line in status.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current resident set (Linux ``clear_refs`` 5); whether it worked."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # a kernel control file, not data: no ganaug.runtime.io
    except OSError:
        return False
    return True
