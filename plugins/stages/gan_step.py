"""One adversarial training step (D then G).

Augmenters (DiffAugment, ADA) transform every batch D sees, real and generated, in both steps;
regularizers (R1, LeCam) add terms to D's loss. Their randomness comes from a generator seeded
per step (and rank), so a resumed run draws the same. A pair discriminator (``JudgesPairs``) judges
each image beside the batch's real image x: (another real image of the batch, x) is real,
(G(z, x), x) is fake. Under torchrun, augmenters that observe D
see the logits of the whole global batch, so every rank keeps the same state (ADA's p).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from ganaug.api.capabilities import (
    JudgesPairs,
    ObservesDiscriminator,
    PenalisedLoss,
    PenalisedWeighter,
    ReportsFigures,
)
from ganaug.api.networks import flat_logits, generate, without_param_grads
from ganaug.runtime.distributed import World
from ganaug.runtime.seeds import derive_seed

STATS = ("d_loss", "g_loss", "weight", "d_real", "d_fake")


class Paired(nn.Module):
    """A pair discriminator bound to a batch of conditioning images: ``forward(x)`` judges
    ``(x, cond)``, so losses, regularizers and penalties call it like any discriminator."""

    def __init__(self, discriminator: nn.Module, cond: Tensor) -> None:
        super().__init__()
        self.discriminator, self.cond = discriminator, cond

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.discriminator(x, self.cond)


def partners(n: int, rng: torch.Generator) -> Tensor:
    """For each of ``n`` images the index of another one (a random cyclic order, so no image is
    its own partner when ``n`` >= 2; a batch of one pairs the image with itself)."""
    order = torch.randperm(n, generator=rng)
    out = torch.empty(n, dtype=torch.long)
    out[order] = order.roll(-1)
    return out


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
        augmenters: Sequence[Any] = (),
        regularizers: Sequence[Any] = (),
        seed: int = 0,
        first_step: int = 0,
        world: World | None = None,
    ) -> None:
        self.generator, self.discriminator = generator, discriminator
        self.loss, self.weighter = loss, weighter
        self.opt_g, self.opt_d = opt_g, opt_d
        self.penalty = loss.discriminator_penalty if isinstance(loss, PenalisedLoss) else None
        self.g_penalty = weighter.penalty if isinstance(weighter, PenalisedWeighter) else None
        self.augmenters, self.regularizers = list(augmenters), list(regularizers)
        self.observers = [a for a in self.augmenters if isinstance(a, ObservesDiscriminator)]
        self.reporters = [c for c in (*self.augmenters, *self.regularizers) if isinstance(c, ReportsFigures)]
        self.seed, self.count, self.world = seed, first_step, world or World()
        self.rng = torch.Generator()
        self.pairs = isinstance(getattr(discriminator, "module", discriminator), JudgesPairs)

    def augment(self, images: Tensor) -> Tensor:
        """The images as D sees them: each augmenter in turn (none: unchanged)."""
        for augmenter in self.augmenters:
            images = augmenter(images, self.rng)
        return images

    def generate(self, z: Tensor, real: Tensor) -> Tensor:
        """G(z, x) with the real batch as conditioning images when G is conditional, else G(z)."""
        return generate(self.generator, z, real)

    def judged(self, real: Tensor) -> tuple[nn.Module, Tensor]:
        """D as this step uses it, and the real images it is shown: a pair discriminator bound to
        the batch, shown another real image of the batch beside each x; else D and the batch."""
        if not self.pairs:
            return self.discriminator, real
        rng = torch.Generator().manual_seed(derive_seed(self.seed, "pairs", self.count, self.world.rank))
        return Paired(self.discriminator, real), real[partners(len(real), rng).to(real.device)]

    def __call__(self, real: Tensor, z: Tensor) -> dict[str, float]:
        loss = self.loss
        d, shown = self.judged(real)
        if self.augmenters:
            self.rng.manual_seed(derive_seed(self.seed, "augment", self.count, self.world.rank))
        self.count += 1
        fake = self.generate(z, real)

        self.opt_d.zero_grad(set_to_none=True)
        seen_real, seen_fake = self.augment(shown), self.augment(fake.detach())
        real_logits, _ = d(seen_real)
        fake_logits, _ = d(seen_fake)
        d_loss = loss.discriminator_loss(real_logits, fake_logits)
        if self.penalty is not None:
            d_loss = d_loss + self.penalty(d, seen_real, seen_fake)
        for regularizer in self.regularizers:
            d_loss = d_loss + regularizer.penalty(d, seen_real, seen_fake, real_logits, fake_logits)
        d_loss.backward()
        self.opt_d.step()
        if self.observers:  # under torchrun every rank observes the whole global batch: one p for all
            seen = self.world.gather(flat_logits(real_logits.detach()))
            for observer in self.observers:
                observer.observe(seen)

        self.opt_g.zero_grad(set_to_none=True)
        with without_param_grads(d):
            logits, _ = d(self.augment(fake))
            weights = self.weighter.weights(real, fake)
            per_sample = loss.generator_loss(logits) * weights
            extra = self.g_penalty(real, fake) if self.g_penalty is not None else None
            g_loss = (per_sample if extra is None else per_sample + extra).mean()
            g_loss.backward()
        self.opt_g.step()
        figures = {k: v for c in self.reporters for k, v in c.figures().items()}
        with torch.no_grad():  # one host transfer for all figures (one sync on a GPU)
            device = d_loss.device
            stats = torch.stack(
                [
                    d_loss.detach().float(),
                    g_loss.detach().float(),
                    weights.mean().float(),
                    real_logits.mean().float(),
                    fake_logits.mean().float(),
                    *(v.detach().to(device).float().reshape(()) for v in figures.values()),
                ]
            ).tolist()
        return dict(zip((*STATS, *figures), (float(v) for v in stats), strict=True))
