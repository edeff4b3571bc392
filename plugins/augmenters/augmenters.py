"""DiffAugment (every op on every image) and ADA (each op with an adaptive probability p)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ganaug.api.networks import flat_logits
from ganaug_plugins.augmenters.ops import Op, apply, policy_ops


class DiffAugment:
    """DiffAugment: the policy's ops applied to every image D sees, real and generated alike, so
    D cannot tell them apart by the augmentation and G's gradient flows through it."""

    def __init__(self, ops: Sequence[Op]) -> None:
        self.ops = list(ops)

    def __call__(self, images: Tensor, rng: torch.Generator) -> Tensor:
        for op in self.ops:
            images = op(images, rng)
        return images


class AdaptiveAugment:
    """ADA's feedback loop (Karras et al., 2020) on DiffAugment's ops: each op is applied to an image
    with probability p; every ``interval`` steps p moves by ``sign(r_t - target) * images / speed``
    where r_t = E[sign(D(real))] over those steps (D over-confident on reals: r_t near 1, p rises).

    p and the running sums are 0-dim tensors on the training device: no host read per step. They
    are saved in checkpoints (``state_dict``) and logged per step as ``ada_p`` and ``ada_rt``.
    """

    def __init__(
        self,
        ops: Sequence[Op],
        target: float = 0.6,
        speed: int = 10_000,
        interval: int = 4,
        initial_p: float = 0.0,
        max_p: float = 1.0,
    ) -> None:
        self.ops = list(ops)
        self.target, self.speed, self.interval, self.max_p = target, speed, interval, max_p
        self.p = torch.tensor(float(initial_p))
        self.signs = torch.tensor(0.0)  # sum of sign(D(real)) since the last adjustment
        self.seen = torch.tensor(0.0)  # real images since the last adjustment
        self.steps = 0  # observed steps since the last adjustment
        self.rt = torch.tensor(float("nan"))

    def __call__(self, images: Tensor, rng: torch.Generator) -> Tensor:
        p = self.p.to(images.device)
        for op in self.ops:
            images = apply(op, images, rng, p)
        return images

    def observe(self, real_logits: Tensor) -> None:
        """Count one D step's logits on (augmented) real images; adjust p every ``interval`` steps."""
        logits = flat_logits(real_logits.detach()).float()
        device = logits.device
        self.signs = self.signs.to(device) + torch.sign(logits).sum()
        self.seen = self.seen.to(device) + len(logits)
        self.steps += 1
        if self.steps < self.interval:
            return
        self.rt = self.signs / self.seen
        step = torch.sign(self.rt - self.target) * self.seen / self.speed
        self.p = (self.p.to(device) + step).clamp(0.0, self.max_p)
        self.signs, self.seen, self.steps = torch.zeros((), device=device), torch.zeros((), device=device), 0

    def figures(self) -> dict[str, Tensor]:
        return {"ada_p": self.p, "ada_rt": self.rt}

    def state_dict(self) -> dict[str, object]:
        return {"p": self.p, "signs": self.signs, "seen": self.seen, "rt": self.rt, "steps": self.steps}

    def load_state_dict(self, state: dict[str, object]) -> None:
        for key in ("p", "signs", "seen", "rt"):
            value = state[key]
            assert isinstance(value, Tensor)
            setattr(self, key, value.clone())
        self.steps = int(state["steps"])  # type: ignore[call-overload]


def ops_for(
    policy: Sequence[str],
    translation_ratio: float,
    cutout_ratio: float,
    fill: float,
    rotation: float = 10.0,
    scale: float = 0.1,
) -> list[Op]:
    """The ops of a policy list, in its order."""
    return [
        op
        for name in policy
        for op in policy_ops(name, translation_ratio, cutout_ratio, fill, rotation, scale)
    ]
