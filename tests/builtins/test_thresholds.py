"""Decision thresholds: F1-max and fixed-FPR fitting, rates at a threshold, the stored record."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score

from ganaug.numeric.thresholds import Threshold, at_fpr, f1_max, rates
from ganaug.runtime.errors import RecipeError
from ganaug.testing import recipe_from
from ganaug_plugins.evaluators.roc import roc_metrics
from ganaug_plugins.stages.thresholds import fit
from tests.model_run import RECIPE, host

SCORES = np.array([0.1, 0.2, 0.3, 0.35, 0.4, 0.5, 0.6, 0.8, 0.9])
POSITIVE = np.array([0, 0, 0, 1, 0, 1, 0, 1, 1], dtype=bool)


def brute_f1(scores: np.ndarray, positive: np.ndarray) -> float:
    return max(f1_score(positive, scores >= t) for t in np.unique(scores))


def test_f1_max_finds_the_best_cut_and_lies_between_scores() -> None:
    found = f1_max(SCORES, POSITIVE)
    assert found is not None
    threshold, f1 = found
    assert f1 == pytest.approx(brute_f1(SCORES, POSITIVE))
    assert rates(SCORES, POSITIVE, threshold)["f1"] == pytest.approx(f1)
    assert threshold not in SCORES  # halfway between the lowest flagged score and the next lower


@pytest.mark.parametrize("seed", range(5))
def test_f1_max_matches_brute_force_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, 40).astype(float)
    positive = rng.random(40) < 0.4
    threshold, f1 = f1_max(scores, positive)  # type: ignore[misc]
    assert f1 == pytest.approx(brute_f1(scores, positive))
    assert rates(scores, positive, threshold)["f1"] == pytest.approx(f1)


def test_at_fpr_keeps_the_false_positive_rate_and_is_the_most_sensitive() -> None:
    for target in (0.0, 0.2, 0.4, 1.0):
        t = at_fpr(SCORES, POSITIVE, target)
        assert t is not None
        fpr = 1 - rates(SCORES, POSITIVE, t)["specificity"]
        assert fpr <= target + 1e-12
        lower = SCORES[t > SCORES]
        if lower.size:  # the next lower cut breaks the rate
            assert 1 - rates(SCORES, POSITIVE, lower.max())["specificity"] > target


def test_at_fpr_flags_nothing_when_the_top_score_is_a_negative_too_many() -> None:
    scores, positive = np.array([1.0, 2.0, 3.0]), np.array([True, True, False])
    t = at_fpr(scores, positive, 0.0)
    assert t is not None and t > 3.0 and rates(scores, positive, t)["fp"] == 0


def test_without_one_class_no_threshold_is_fitted() -> None:
    assert f1_max(SCORES, np.zeros(9, dtype=bool)) is None
    assert at_fpr(SCORES, np.ones(9, dtype=bool), 0.1) is None


def test_rates_count_every_outcome() -> None:
    r = rates(SCORES, POSITIVE, 0.45)
    assert (r["tp"], r["fp"], r["tn"], r["fn"]) == (3, 1, 4, 1)
    assert r["sensitivity"] == pytest.approx(0.75) and r["specificity"] == pytest.approx(0.8)
    assert rates(np.array([]), np.array([], dtype=bool), 0.5)["sensitivity"] is None


def test_threshold_round_trips_and_decides_at_or_above() -> None:
    t = Threshold(
        value=0.5, rule="fpr", method="anogan", positive="3", fitted_on="split val", target_fpr=0.05
    )
    assert Threshold.from_json(t.to_json()) == t
    assert t.decide(0.5) and not t.decide(0.49)


def test_fit_reports_test_rates_at_validation_thresholds() -> None:
    def rows(scores: np.ndarray, positive: np.ndarray) -> list[dict]:
        return [
            {"model": "m", "method": "anogan", "label": "3" if p else "8", "score": float(s)}
            for s, p in zip(scores, positive, strict=True)
        ]

    test_scores = SCORES + 0.05
    found = fit(rows(SCORES, POSITIVE), rows(test_scores, POSITIVE), "3", 0.2, "split val")
    entry = found[("m", "anogan")]
    value = entry["f1-max"]["threshold"]["value"]
    assert value == pytest.approx(f1_max(SCORES, POSITIVE)[0])  # type: ignore[index]
    assert entry["f1-max"]["test"] == rates(test_scores, POSITIVE, value)
    assert entry["fpr"]["threshold"]["target_fpr"] == 0.2
    assert entry["fpr"]["validation"]["specificity"] >= 0.8


def test_roc_reports_aupr_and_f1_max() -> None:
    labels = ["3" if p else "8" for p in POSITIVE]
    found = roc_metrics(SCORES, labels, "3", resamples=0, confidence=0.95, seed=0)
    assert found["aupr"] == pytest.approx(average_precision_score(POSITIVE, SCORES))
    assert found["f1_max"] == pytest.approx(brute_f1(SCORES, POSITIVE))
    assert rates(SCORES, POSITIVE, found["f1_max_threshold"])["f1"] == pytest.approx(found["f1_max"])
    one_class = roc_metrics(SCORES, ["8"] * 9, "3", resamples=0, confidence=0.95, seed=0)
    assert one_class["aupr"] is None and one_class["f1_max"] is None


def test_the_validation_selection_must_not_be_the_test_split() -> None:
    text = RECIPE.replace('validation = { split = "val" }', 'validation = { split = "test" }')
    with pytest.raises(RecipeError) as caught:
        recipe_from(text, host())
    problems = [(p.path, p.message) for p in caught.value.problems]
    assert len(problems) == 1 and problems[0][0] == "stages[2].validation"
    assert "must not be the test split" in problems[0][1]


def test_threshold_options_are_checked() -> None:
    text = RECIPE.replace('threshold = "f1-max"', 'threshold = "youden"').replace("0.2", "1.5")
    with pytest.raises(RecipeError) as caught:
        recipe_from(text, host())
    assert sorted(p.path for p in caught.value.problems) == ["stages[2].threshold", "stages[2].threshold_fpr"]


def test_an_unknown_validation_split_is_a_recipe_problem() -> None:
    text = RECIPE.replace('validation = { split = "val" }', 'validation = { split = "vall" }')
    with pytest.raises(RecipeError) as caught:
        recipe_from(text, host())
    assert [p.path for p in caught.value.problems] == ["stages[2].validation.split"]
