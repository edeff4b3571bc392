"""Sample-quality metrics on feature vectors: KID (Binkowski et al., 2018), precision, recall,
density and coverage (Naeem et al., 2020), and the mean pairwise SSIM of images (diversity)."""

from __future__ import annotations

import itertools

import torch
from torch import Tensor

from ganaug.numeric.ssim import ssim, to_unit
from ganaug.runtime.device import generator_for


def _mmd2_unbiased(x: Tensor, y: Tensor) -> Tensor:
    """Unbiased MMD^2 with the cubic polynomial kernel ``(a.b / d + 1)^3``."""
    d, m = x.shape[1], len(x)
    kxx, kyy, kxy = ((a @ b.T / d + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))
    off = m * (m - 1)
    return (
        (kxx.sum() - kxx.diagonal().sum()) / off + (kyy.sum() - kyy.diagonal().sum()) / off - 2 * kxy.mean()
    )


def kid(real: Tensor, fake: Tensor, *, subsets: int, subset_size: int, seed: int) -> tuple[float, float]:
    """Kernel inception distance on ``subsets`` random subsets of ``subset_size`` (capped at the
    smaller set): mean and standard deviation over subsets. Unbiased: near 0 (may be below) when
    both sets come from one distribution."""
    m = min(subset_size, len(real), len(fake))
    if m < 2:
        raise ValueError(f"KID needs at least 2 images on each side, got {len(real)} and {len(fake)}")
    gen = generator_for(seed)
    real64, fake64 = real.double().cpu(), fake.double().cpu()
    values = torch.stack(
        [
            _mmd2_unbiased(
                real64[torch.randperm(len(real64), generator=gen)[:m]],
                fake64[torch.randperm(len(fake64), generator=gen)[:m]],
            )
            for _ in range(subsets)
        ]
    )
    return float(values.mean()), float(values.std()) if subsets > 1 else 0.0


def _kth_neighbour(x: Tensor, k: int) -> Tensor:
    """Distance of each row to its k-th nearest other row."""
    distances = torch.cdist(x, x)
    return distances.kthvalue(k + 1, dim=1).values  # the 1st is the row itself (0)


def prdc(real: Tensor, fake: Tensor, *, k: int) -> dict[str, float]:
    """Precision (fakes inside some real's k-NN ball), recall (reals inside some fake's ball),
    density (mean count of real balls holding a fake, over k) and coverage (reals whose ball holds
    a fake)."""
    if min(len(real), len(fake)) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} images on each side")
    real, fake = real.double().cpu(), fake.double().cpu()
    real_radius, fake_radius = _kth_neighbour(real, k), _kth_neighbour(fake, k)
    between = torch.cdist(real, fake)  # [real, fake]
    inside_real = between <= real_radius[:, None]
    return {
        "precision": float(inside_real.any(dim=0).double().mean()),
        "recall": float((between <= fake_radius[None, :]).any(dim=1).double().mean()),
        "density": float(inside_real.double().sum(dim=0).mean() / k),
        "coverage": float((between.min(dim=1).values <= real_radius).double().mean()),
    }


def mean_pairwise_ssim(images: Tensor, *, limit: int = 100) -> float:
    """Mean SSIM over all pairs of the first ``limit`` images (in [-1, 1]): lower is more diverse."""
    picked = to_unit(images[:limit].double().cpu())
    pairs = list(itertools.combinations(range(len(picked)), 2))
    if not pairs:
        return float("nan")
    first, second = (torch.tensor(side) for side in zip(*pairs, strict=True))
    return float(ssim(picked[first], picked[second]).mean())
