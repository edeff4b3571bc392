"""Statistics for comparing detectors: AUC, DeLong's paired test, a paired bootstrap, seed summaries.

- :func:`delong` compares two scorings of the *same* images (DeLong, DeLong & Clarke-Pearson 1988,
  in the O(n log n) midrank form of Sun & Xu 2014): the AUC difference, its standard error, a
  normal-theory interval and a two-sided p-value.
- :func:`paired_bootstrap` resamples images (the same draw for both scorings): a percentile
  interval of the AUC difference that assumes nothing about its distribution.
- :func:`over_seeds` summarises one figure over training seeds: mean, standard deviation and a
  Student-t interval (the seeds are the replicates a GAN result needs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import numpy as np
from scipy import stats


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC (higher score = positive) with average ranks for ties; NaN with one class only."""
    return float(rank_auc(np.asarray(scores, dtype=float)[None], np.asarray(positive, dtype=bool)[None])[0])


def rank_auc(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """AUC of each row of ``scores [R, N]`` against ``positive [R, N]`` (Mann-Whitney U with average
    ranks for ties); NaN for one-class rows. Vectorised over rows, so bootstraps rank in blocks."""
    ranks = stats.rankdata(scores, axis=1)
    n_pos = positive.sum(1)
    n_neg = positive.shape[1] - n_pos
    with np.errstate(divide="ignore", invalid="ignore"):
        values = ((ranks * positive).sum(1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), values, np.nan)


@attrs.frozen
class PairedDifference:
    """AUC(a) - AUC(b) on the same images, with an interval and (DeLong only) a p-value."""

    auc_a: float
    auc_b: float
    difference: float
    low: float
    high: float
    p_value: float | None = None
    std_error: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        return attrs.asdict(self)


def _structural_components(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, ...]:
    """AUCs and DeLong's placement values of each row of ``scores [K, N]`` (Sun & Xu's midranks)."""
    pos, neg = scores[:, positive], scores[:, ~positive]
    m, n = pos.shape[1], neg.shape[1]
    tx = stats.rankdata(pos, axis=1)
    ty = stats.rankdata(neg, axis=1)
    tz = stats.rankdata(np.concatenate([pos, neg], axis=1), axis=1)
    aucs = (tz[:, :m].sum(1) - m * (m + 1) / 2) / (m * n)
    v_pos = (tz[:, :m] - tx) / n  # for each positive: share of negatives it outranks
    v_neg = 1 - (tz[:, m:] - ty) / m  # for each negative: share of positives that outrank it
    return aucs, v_pos, v_neg


def delong(
    scores_a: Sequence[float], scores_b: Sequence[float], positive: Sequence[bool], confidence: float = 0.95
) -> PairedDifference:
    """DeLong's test of AUC(a) = AUC(b) for two scorings of the same images."""
    y = np.asarray(positive, dtype=bool)
    if y.all() or not y.any():
        raise ValueError("DeLong's test needs images of both classes")
    scores = np.stack([np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float)])
    if scores.shape[1] != y.size:
        raise ValueError(f"{scores.shape[1]} scores for {y.size} labels")
    aucs, v_pos, v_neg = _structural_components(scores, y)
    m, n = v_pos.shape[1], v_neg.shape[1]
    cov_pos = np.atleast_2d(np.cov(v_pos)) if m > 1 else np.zeros((2, 2))
    cov_neg = np.atleast_2d(np.cov(v_neg)) if n > 1 else np.zeros((2, 2))
    cov = cov_pos / m + cov_neg / n
    variance = max(float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]), 0.0)
    difference = float(aucs[0] - aucs[1])
    se = math.sqrt(variance)
    quantile = float(stats.norm.ppf(0.5 + confidence / 2))
    if se == 0.0:
        p_value = 1.0 if difference == 0.0 else 0.0
    else:
        p_value = float(2 * stats.norm.sf(abs(difference) / se))
    return PairedDifference(
        float(aucs[0]),
        float(aucs[1]),
        difference,
        difference - quantile * se,
        difference + quantile * se,
        p_value,
        se,
    )


def paired_bootstrap(
    scores_a: Sequence[float],
    scores_b: Sequence[float],
    positive: Sequence[bool],
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    block: int = 250,
) -> PairedDifference:
    """Percentile interval of AUC(a) - AUC(b) over image resamples shared by both scorings."""
    y = np.asarray(positive, dtype=bool)
    a, b = np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float)
    rng = np.random.default_rng(seed)
    diffs: list[np.ndarray] = []
    for start in range(0, resamples, block):
        idx = rng.integers(0, y.size, size=(min(block, resamples - start), y.size))
        diffs.append(rank_auc(a[idx], y[idx]) - rank_auc(b[idx], y[idx]))
    values = np.concatenate(diffs) if diffs else np.zeros(0)
    values = values[np.isfinite(values)]
    auc_a, auc_b = auc(a, y), auc(b, y)
    if values.size == 0:
        nan = float("nan")
        return PairedDifference(auc_a, auc_b, auc_a - auc_b, nan, nan)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return PairedDifference(auc_a, auc_b, auc_a - auc_b, float(low), float(high))


@attrs.frozen
class SeedSummary:
    """One figure over seeds: mean, sample standard deviation, Student-t interval of the mean."""

    n: int
    mean: float
    std: float
    low: float
    high: float
    values: tuple[float, ...]

    def as_dict(self) -> dict[str, object]:
        return {**attrs.asdict(self), "values": list(self.values)}


def over_seeds(values: Sequence[float], confidence: float = 0.95) -> SeedSummary:
    """Mean, SD and t-interval of ``values`` (NaNs dropped; one value: SD and interval NaN)."""
    kept = tuple(float(v) for v in values if v is not None and math.isfinite(v))
    nan = float("nan")
    if not kept:
        return SeedSummary(0, nan, nan, nan, nan, ())
    mean = float(np.mean(kept))
    if len(kept) == 1:
        return SeedSummary(1, mean, nan, nan, nan, kept)
    std = float(np.std(kept, ddof=1))
    half = float(stats.t.ppf(0.5 + confidence / 2, len(kept) - 1)) * std / math.sqrt(len(kept))
    return SeedSummary(len(kept), mean, std, mean - half, mean + half, kept)
