"""The pair discriminator (DAGAN's D, ``iagan`` with ``pairs = true``): shapes, what the train step
shows it, and that it pushes a copying generator away from copying where a plain D does not."""

from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import Tensor, nn

from ganaug.api.capabilities import JudgesPairs
from ganaug.api.interfaces import ImageSpec
from ganaug_plugins.losses.gan import LeastSquaresLoss
from ganaug_plugins.models.iagan.discriminator import IaganDiscriminator, IaganPairDiscriminator
from ganaug_plugins.models.iagan.plugin import IaganDiscriminatorOptions, build_discriminator
from ganaug_plugins.stages.gan_step import GanStep, partners
from ganaug_plugins.weighters.plugin import NoWeighter

IMAGE = ImageSpec(channels=1, size=16)


def _images(n: int, seed: int = 0) -> Tensor:
    return torch.rand(n, *IMAGE.shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_pair_discriminator_shapes_and_the_pair_it_judges() -> None:
    d = IaganPairDiscriminator(IMAGE, width=8).eval()
    x, cond = _images(3, 0), _images(3, 1)
    logits, features = d(x, cond)
    assert logits.shape == (3,) and features.shape[0] == 3
    alone, _ = d(x)
    assert torch.allclose(alone, d(x, x)[0])  # one image: the pair (x, x)
    assert not torch.allclose(logits, alone)  # the conditioning image changes the verdict
    x.requires_grad_(True)
    cond.requires_grad_(True)
    d(x, cond)[0].sum().backward()
    assert x.grad is not None and cond.grad is not None and cond.grad.abs().sum() > 0


def test_the_option_builds_a_pair_discriminator_and_the_default_does_not() -> None:
    paired = build_discriminator(IaganDiscriminatorOptions(width=8, pairs=True), IMAGE)
    plain = build_discriminator(IaganDiscriminatorOptions(width=8), IMAGE)
    assert isinstance(paired, JudgesPairs) and isinstance(paired, IaganPairDiscriminator)
    assert not isinstance(plain, JudgesPairs) and type(plain) is IaganDiscriminator


@given(st.integers(min_value=2, max_value=64), st.integers(min_value=0, max_value=2**31 - 1))
def test_every_image_gets_another_image_as_its_partner(n: int, seed: int) -> None:
    index = partners(n, torch.Generator().manual_seed(seed))
    assert sorted(index.tolist()) == list(range(n))  # a permutation
    assert all(index[i] != i for i in range(n))  # never the image itself


def test_a_batch_of_one_pairs_the_image_with_itself() -> None:
    assert partners(1, torch.Generator().manual_seed(0)).tolist() == [0]


class _Spy(nn.Module):
    """A pair discriminator that records the pairs it is shown."""

    judges_pairs = True

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(2 * 16 * 16, 1)
        self.calls: list[tuple[Tensor, Tensor | None]] = []

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        self.calls.append((x.detach().clone(), None if cond is None else cond.detach().clone()))
        pair = torch.cat([x, x if cond is None else cond], dim=1).flatten(1)
        return self.head(pair).view(-1), pair


class _Copier(nn.Module):
    """G(z, x) = a x + (1 - a) dec(z): ``a`` is how much of x it copies (starts near 0.9)."""

    conditional = True
    latent_dim = 4

    def __init__(self) -> None:
        super().__init__()
        self.copy_logit = nn.Parameter(torch.tensor(2.0))
        self.decode = nn.Sequential(nn.Linear(4, 16 * 16), nn.Tanh())

    @property
    def copy_share(self) -> float:
        return float(torch.sigmoid(self.copy_logit.detach()))

    def forward(self, z: Tensor, x: Tensor | None = None) -> Tensor:
        assert x is not None
        a = torch.sigmoid(self.copy_logit)
        return a * x + (1 - a) * self.decode(z).view(-1, *IMAGE.shape)


class _Plain(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(16 * 16, 32), nn.LeakyReLU(0.2))
        self.head = nn.Linear(32, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        features = self.body(x)
        return self.head(features).view(-1), features


class _Pair(_Plain):
    judges_pairs = True

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(2 * 16 * 16, 32), nn.LeakyReLU(0.2))

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return super().forward(torch.cat([x, x if cond is None else cond], dim=1))


def _step(g: nn.Module, d: nn.Module, seed: int = 0) -> GanStep:
    return GanStep(
        g,
        d,
        LeastSquaresLoss(),
        NoWeighter(),
        torch.optim.Adam(g.parameters(), lr=2e-2),
        torch.optim.Adam(d.parameters(), lr=2e-3),
        seed=seed,
    )


def test_the_train_step_shows_another_real_image_as_real_and_the_output_as_fake() -> None:
    torch.manual_seed(0)
    spy, real = _Spy(), _images(6)
    _step(_Copier(), spy)(real, torch.randn(6, 4))
    (shown_real, cond_real), (shown_fake, cond_fake) = spy.calls[:2]
    assert torch.equal(cond_real, real) and torch.equal(cond_fake, real)
    assert not torch.equal(shown_real, real)  # another image beside each x ...
    assert sorted(shown_real.flatten(1).sum(1).tolist()) == sorted(real.flatten(1).sum(1).tolist())
    assert not torch.allclose(shown_fake, real)  # ... and G(z, x) beside x for the fake pair


def _copy_share_after_training(d: nn.Module, steps: int = 150) -> float:
    torch.manual_seed(0)
    g, real = _Copier(), _images(64, 3)
    step = _step(g, d)
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        batch = real[torch.randperm(64, generator=gen)[:16]]
        step(batch, torch.randn(16, 4, generator=gen))
    return g.copy_share


def test_a_pair_discriminator_pushes_a_copier_away_from_copying_a_plain_one_does_not() -> None:
    start = _Copier().copy_share
    plain, paired = _copy_share_after_training(_Plain()), _copy_share_after_training(_Pair())
    assert paired < start - 0.2  # a copy (x, x) is easy to tell from (x', x): G stops copying
    assert plain > start  # a copy of a real image is real to a plain D: G copies more
