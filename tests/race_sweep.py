"""A hand-written 3-seed sweep of one evaluate stage with role-tagged methods (the aggregate tests)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ganaug.apps.sweep import plan_sweep, write_manifest
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
