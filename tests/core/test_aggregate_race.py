"""``ganaug aggregate``'s race section: every detector against the best baseline, over seeds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from ganaug.aggregate import aggregate
from ganaug.stats import over_seeds
from ganaug.sweep import plan_sweep, write_manifest
from tests.killhooks.runner import TINY

LABELS = ["3"] * 30 + ["8"] * 30
ROLES = [
    {"name": "anogan", "title": "AnoGAN", "role": "detector"},
    {"name": "anogan@init", "title": "AnoGAN@init", "role": "control"},
    {"name": "knn", "title": "kNN", "role": "baseline"},
    {"name": "pca", "title": "PCA", "role": "baseline"},
]


def columns(seed: int) -> dict[str, np.ndarray]:
    """A weak detector, a weaker and a strong baseline, and a control (ignored by the race)."""
    rng = np.random.default_rng(seed)
    truth = np.r_[np.ones(30), np.zeros(30)]
    return {
        "anogan": truth + rng.normal(0, 1.5, 60),
        "anogan@init": rng.normal(0, 1, 60),
        "knn": truth + rng.normal(0, 0.3, 60),
        "pca": truth + rng.normal(0, 3.0, 60),
    }


def write_sweep(tmp_path: Path, roles: list[dict[str, str]] | None = ROLES) -> Path:
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY)
    plan = plan_sweep(recipe, [0, 1, 2], out=tmp_path / "s")
    write_manifest(plan)
    for run in plan.runs:
        stage = run.dir / "race"
        stage.mkdir(parents=True)
        (stage / "done.json").write_text("{}")
        (run.dir / "recipe.toml").write_text(
            '[[stages]]\nkind = "evaluate"\nname = "race"\nmodels = ["gan"]\npositive = "3"\n'
        )
        if roles is not None:
            (stage / "methods.json").write_text(json.dumps(roles))
        lines = ["image,label,model,method,residual,discrimination,score"]
        for method, values in columns(run.seed).items():
            lines += [f"img{i},{LABELS[i]},gan,{method},,,{float(values[i])!r}" for i in range(60)]
        (stage / "scores.csv").write_text("\n".join(lines) + "\n")
    return tmp_path / "s"


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
