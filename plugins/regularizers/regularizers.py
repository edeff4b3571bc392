"""R1 (Mescheder et al., 2018) and LeCam (Tseng et al., 2021): penalties added to D's loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganaug.api.networks import flat_logits


class R1Penalty:
    """``gamma / 2 * E[||grad_x D(x)||^2]`` on the real images D sees (augmented, when augmenters
    are on): D is pushed to be flat around the data, which keeps it from memorising a small set.
    With ``every`` > 1 it is computed every ``every`` steps and scaled by ``every`` (lazy R1)."""

    def __init__(self, gamma: float = 10.0, every: int = 1) -> None:
        self.gamma, self.every = gamma, every
        self.calls = 0
        self.last = torch.tensor(float("nan"))

    def penalty(
        self, discriminator: nn.Module, real: Tensor, fake: Tensor, real_logits: Tensor, fake_logits: Tensor
    ) -> Tensor:
        self.calls += 1
        if (self.calls - 1) % self.every:
            return real_logits.new_zeros(())
        x = real.detach().requires_grad_(True)
        logits, _ = discriminator(x)
        (grad,) = torch.autograd.grad(flat_logits(logits).sum(), x, create_graph=True)
        value = grad.pow(2).reshape(len(x), -1).sum(dim=1).mean()
        self.last = value.detach()
        return 0.5 * self.gamma * self.every * value

    def figures(self) -> dict[str, Tensor]:
        return {"r1": self.last}

    def state_dict(self) -> dict[str, object]:
        return {"calls": self.calls, "last": self.last}

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.calls = int(state["calls"])  # type: ignore[call-overload]
        last = state["last"]
        assert isinstance(last, Tensor)
        self.last = last.clone()


class LeCamPenalty:
    """``weight * (E[relu(D(x) - a_fake)^2] + E[relu(a_real - D(G(z)))^2])``, where a_real and a_fake
    are moving averages of D's mean logits on real and generated images: D's outputs are held near
    their recent past, which bounds how far it can separate a small training set."""

    def __init__(self, weight: float = 0.3, decay: float = 0.99) -> None:
        self.weight, self.decay = weight, decay
        self.ema_real = torch.tensor(0.0)
        self.ema_fake = torch.tensor(0.0)
        self.last = torch.tensor(float("nan"))

    def penalty(
        self, discriminator: nn.Module, real: Tensor, fake: Tensor, real_logits: Tensor, fake_logits: Tensor
    ) -> Tensor:
        real_l, fake_l = flat_logits(real_logits), flat_logits(fake_logits)
        d = self.decay
        self.ema_real = d * self.ema_real.to(real_l.device) + (1 - d) * real_l.detach().mean().float()
        self.ema_fake = d * self.ema_fake.to(real_l.device) + (1 - d) * fake_l.detach().mean().float()
        value = F.relu(real_l - self.ema_fake).pow(2).mean() + F.relu(self.ema_real - fake_l).pow(2).mean()
        self.last = value.detach()
        return self.weight * value

    def figures(self) -> dict[str, Tensor]:
        return {"lecam": self.last}

    def state_dict(self) -> dict[str, object]:
        return {"ema_real": self.ema_real, "ema_fake": self.ema_fake, "last": self.last}

    def load_state_dict(self, state: dict[str, object]) -> None:
        for key in ("ema_real", "ema_fake", "last"):
            value = state[key]
            assert isinstance(value, Tensor)
            setattr(self, key, value.clone())
