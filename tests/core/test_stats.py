"""Paired AUC statistics checked against known cases and independent slow computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from sklearn.metrics import roc_auc_score

from ganaug.numeric.stats import auc, delong, over_seeds, paired_bootstrap


def _brute_delong(a: np.ndarray, b: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """DeLong's variance of AUC(a) - AUC(b) from the O(m n) kernel psi, as in the 1988 paper."""

    def components(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos, neg = s[y], s[~y]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        return psi.mean(1), psi.mean(0)

    (pa, na), (pb, nb) = components(a), components(b)
    m, n = len(pa), len(na)
    s10 = np.cov(np.stack([pa, pb]))
    s01 = np.cov(np.stack([na, nb]))
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n
    return float(pa.mean() - pb.mean()), float(var)


def _data(seed: int, n: int = 80, ties: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3 == 0
    a = rng.normal(size=n) + 1.0 * y
    b = 0.6 * a + rng.normal(size=n) * 0.8
    if ties:
        a, b = np.round(a), np.round(b * 2) / 2
    return a, b, y


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_delong_matches_the_quadratic_definition(seed: int, ties: bool) -> None:
    a, b, y = _data(seed, ties=ties)
    result = delong(a, b, y)
    diff, var = _brute_delong(a, b, y)
    assert result.difference == pytest.approx(diff, abs=1e-12)
    assert result.std_error == pytest.approx(math.sqrt(var), rel=1e-9)
    assert result.auc_a == pytest.approx(roc_auc_score(y, a))
    assert result.auc_b == pytest.approx(roc_auc_score(y, b))
    z = diff / math.sqrt(var)
    assert result.p_value == pytest.approx(2 * sps.norm.sf(abs(z)))


def test_identical_scores_differ_by_nothing() -> None:
    a, _, y = _data(3)
    result = delong(a, a, y)
    assert result.difference == 0.0 and result.std_error == 0.0 and result.p_value == 1.0
    boot = paired_bootstrap(a, a, y, resamples=300)
    assert boot.difference == 0.0 and boot.low == 0.0 and boot.high == 0.0


def test_a_perfect_detector_beats_a_random_one() -> None:
    rng = np.random.default_rng(0)
    y = np.arange(200) % 2 == 0
    perfect = y.astype(float) + rng.uniform(0, 0.1, 200)
    noise = rng.uniform(size=200)
    result = delong(perfect, noise, y)
    assert result.auc_a == 1.0
    assert result.p_value < 1e-6 and result.low > 0
    boot = paired_bootstrap(perfect, noise, y, resamples=500, seed=1)
    assert boot.low > 0 and boot.high < 1


def test_bootstrap_and_delong_intervals_agree_roughly() -> None:
    a, b, y = _data(5, n=300)
    d = delong(a, b, y)
    boot = paired_bootstrap(a, b, y, resamples=2000, seed=2)
    assert boot.difference == pytest.approx(d.difference)
    assert boot.high - boot.low == pytest.approx(d.high - d.low, rel=0.25)


def test_swapping_the_scorings_flips_the_sign() -> None:
    a, b, y = _data(7)
    ab, ba = delong(a, b, y), delong(b, a, y)
    assert ab.difference == pytest.approx(-ba.difference)
    assert ab.p_value == pytest.approx(ba.p_value)


def test_one_class_is_refused() -> None:
    with pytest.raises(ValueError, match="both classes"):
        delong([1.0, 2.0], [2.0, 1.0], [True, True])


def test_over_seeds_uses_the_t_distribution() -> None:
    summary = over_seeds([0.7, 0.8, 0.9])
    assert summary.mean == pytest.approx(0.8) and summary.std == pytest.approx(0.1)
    half = sps.t.ppf(0.975, 2) * 0.1 / math.sqrt(3)
    assert (summary.low, summary.high) == pytest.approx((0.8 - half, 0.8 + half))
    assert math.isnan(over_seeds([0.5]).std) and over_seeds([0.5]).mean == 0.5
    assert over_seeds([float("nan"), 0.5, 0.7]).n == 2


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-5, 5, allow_nan=False), min_size=4, max_size=40),
    st.integers(0, 2**31 - 1),
)
def test_auc_equals_sklearn(values: list[float], seed: int) -> None:
    y = np.random.default_rng(seed).permutation(np.arange(len(values)) % 2 == 0)
    assert auc(np.asarray(values), y) == pytest.approx(roc_auc_score(y, values))
