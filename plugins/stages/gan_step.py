"""One adversarial training step (D then G), and the seeds that make a run reproducible."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from ganaug.device import generator_for

STATS = ("d_loss", "g_loss", "weight", "d_real", "d_fake")


def derive_seed(base: int, *parts: object) -> int:
    """A 63-bit seed from a base seed and labels (``"order", epoch``): independent streams
    that do not depend on how many numbers were drawn elsewhere, so a resumed run draws the same."""
    text = ":".join(str(p) for p in (base, *parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") >> 1


def noise(seed: int, n: int, dim: int, device: torch.device) -> Tensor:
    """Standard normal ``[n, dim]`` drawn on the CPU from ``seed`` (the same on every device)."""
    return torch.randn(n, dim, generator=generator_for(seed)).to(device)


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Turn off parameter gradients of ``module`` for a while (D during G's step)."""
    flags = [p.requires_grad for p in module.parameters()]
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags, strict=True):
            p.requires_grad_(flag)


class GanStep:
    """Alternating updates: D on a real and a generated batch, then G on the same generated batch
    through the updated D, its per-sample loss multiplied by the weighter's weights and averaged."""

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        loss: Any,
        weighter: Any,
        opt_g: Optimizer,
        opt_d: Optimizer,
    ) -> None:
        self.generator, self.discriminator = generator, discriminator
        self.loss, self.weighter = loss, weighter
        self.opt_g, self.opt_d = opt_g, opt_d
        penalty = getattr(loss, "discriminator_penalty", None)
        self.penalty = penalty if callable(penalty) else None
        g_penalty = getattr(weighter, "penalty", None)
        self.g_penalty = g_penalty if callable(g_penalty) else None

    def generate(self, z: Tensor, real: Tensor) -> Tensor:
        """G(z, x) with the real batch as conditioning images when G is conditional, else G(z)."""
        return self.generator(z, real) if getattr(self.generator, "conditional", False) else self.generator(z)

    def __call__(self, real: Tensor, z: Tensor) -> dict[str, float]:
        d, loss = self.discriminator, self.loss
        fake = self.generate(z, real)

        self.opt_d.zero_grad(set_to_none=True)
        real_logits, _ = d(real)
        fake_logits, _ = d(fake.detach())
        d_loss = loss.discriminator_loss(real_logits, fake_logits)
        if self.penalty is not None:
            d_loss = d_loss + self.penalty(d, real, fake.detach())
        d_loss.backward()
        self.opt_d.step()

        self.opt_g.zero_grad(set_to_none=True)
        with frozen(d):
            logits, _ = d(fake)
            weights = self.weighter.weights(real, fake)
            per_sample = loss.generator_loss(logits) * weights
            extra = self.g_penalty(real, fake) if self.g_penalty is not None else None
            g_loss = (per_sample if extra is None else per_sample + extra).mean()
            g_loss.backward()
        self.opt_g.step()
        with torch.no_grad():  # one host transfer for all five figures (one sync on a GPU)
            stats = torch.stack(
                [
                    d_loss.detach().float(),
                    g_loss.detach().float(),
                    weights.mean().float(),
                    real_logits.mean().float(),
                    fake_logits.mean().float(),
                ]
            ).tolist()
        return dict(zip(STATS, (float(v) for v in stats), strict=True))


def all_finite(*modules: nn.Module) -> bool:
    """Whether every parameter and buffer of the modules is finite."""
    return all(
        bool(torch.isfinite(t).all())
        for m in modules
        for t in [*m.parameters(), *m.buffers()]
        if t.is_floating_point()
    )
