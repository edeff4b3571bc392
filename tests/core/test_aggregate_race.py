"""``ganaug aggregate``'s race section: every detector against the best baseline, over seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from ganaug.apps.aggregate import aggregate
from ganaug.numeric.stats import over_seeds
from tests.race_sweep import LABELS, columns, write_sweep


def test_every_detector_is_paired_with_the_best_baseline_over_seeds(tmp_path: Path) -> None:
    result = aggregate(write_sweep(tmp_path), resamples=50)
    block = result["evaluate"]["race"]["race"]["default"]
    y = np.array([label == "3" for label in LABELS])
    assert block["best_baseline"] == "gan/knn" and block["best_detector"] == "gan/anogan"
    assert "gan/anogan@init" not in block["entries"]  # a control is not in the race
    (row,) = block["comparisons"]
    diffs = [roc_auc_score(y, columns(s)["anogan"]) - roc_auc_score(y, columns(s)["knn"]) for s in range(3)]
    assert row["difference"]["mean"] == pytest.approx(over_seeds(diffs).mean)
    assert row["seeds"] == 3 and row["wins"] == sum(d > 0 for d in diffs)
    assert row["verdict"] == "loses by more than the interval"
    text = (tmp_path / "s" / "aggregate.md").read_text()
    assert "every detector against the best baseline" in text
    assert "| gan/anogan (best) |" in text and "loses by more than the interval" in text


def test_runs_without_recorded_roles_have_no_race(tmp_path: Path) -> None:
    result = aggregate(write_sweep(tmp_path, roles=None), resamples=50)
    assert result["evaluate"]["race"]["race"] == {}
    assert "best baseline" not in (tmp_path / "s" / "aggregate.md").read_text()
