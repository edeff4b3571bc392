"""scripts/augmentation_levers.py on synthetic lever sweeps whose AUCs are known exactly.

Each run scores two normal and two anomalous test images per (model, detector); where the anomalies
sit among the normal scores fixes the AUC to a quarter step, so every paired delta is known.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
NORMAL_SCORES = (1.0, 3.0)
ANOMALY_SCORES = {1.0: (4.0, 5.0), 0.75: (2.0, 4.0), 0.5: (0.0, 4.0), 0.25: (0.0, 2.0)}
MODELS = {
    "none": "anogan_real_steps",
    "iagan": "anogan_iagan",
    "copies 2": "anogan_iagan_copies2",
    "share 0.25": "anogan_iagan_mix25",
    "share 0.5": "anogan_iagan_mix50",
}


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("augmentation_levers", SCRIPTS / "augmentation_levers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def planned_auc(lever: str, method: str, seed: int) -> float:
    """AnoGAN: share 0.25 beats the control on every seed, copies 2 loses to it; kNN all level."""
    if method == "anogan":
        return {"share 0.25": (1.0, 1.0, 0.75)[seed], "copies 2": 0.25, "iagan": 0.75}.get(lever, 0.5)
    return 0.5


def scores_csv(trained: str, anomaly: str, seed: int, encoder: bool) -> str:
    lines = ["image,label,model,method,residual,discrimination,score"]
    methods = ["encoder"] if encoder else ["anogan", "knn", "pca", "ocsvm"]
    for lever, model in MODELS.items():
        for method in methods:
            positives = ANOMALY_SCORES[planned_auc(lever, method, seed)]
            name = model + ("_encoder" if encoder else "")
            lines += [f"mnist5k:{i},{trained},{name},{method},0,0,{s}" for i, s in enumerate(NORMAL_SCORES)]
            lines += [f"mnist5k:{100 + i},{anomaly},{name},{method},0,0,{s}" for i, s in enumerate(positives)]
    return "\n".join(lines) + "\n"


def make_run(folder: Path, trained: str, anomaly: str, seed: int) -> None:
    folder.mkdir(parents=True)
    (folder / "recipe.toml").write_text(f'[data]\nclasses = ["{trained}", "{anomaly}"]\n')
    for stage, encoder in (("evaluate", False), ("evaluate_encoder", True)):
        (folder / stage).mkdir()
        (folder / stage / "scores.csv").write_text(scores_csv(trained, anomaly, seed, encoder))
        (folder / stage / "done.json").write_text("{}")


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], dict[str, Any]]:
    root = tmp_path_factory.mktemp("levers")
    sweep = root / "levers-8-3-25"
    for seed in (0, 1, 2):
        make_run(sweep / "default" / f"seed-{seed}", "8", "3", seed)
    out = root / "out"
    assert load_script().main([str(sweep), "--out", str(out)]) == 0
    data = json.loads((out / "levers.json").read_text())
    assert (out / "levers.md").read_text().count("| 8-3 | 25 |") == 5 * 4  # detectors x levers but none
    return {(r["detector"], r["lever"]): r for r in data["levers"]}


def test_a_lever_that_helps_has_its_interval_above_zero(rows: dict[tuple[str, str], dict[str, Any]]) -> None:
    row = rows[("AnoGAN", "share 0.25")]
    assert row["auc"]["per_seed"] == {"0": 1.0, "1": 1.0, "2": 0.75}
    assert row["delta"]["mean"] == pytest.approx(5 / 12) and row["delta"]["ci_low"] > 0
    assert row["delta_vs_iagan"]["per_seed"] == {"0": 0.25, "1": 0.25, "2": 0.0}
    assert row["seeds"] == [0, 1, 2] and (row["pair"], row["n_train"]) == ("8-3", 25)


def test_a_lever_that_harms_and_a_level_detector(rows: dict[tuple[str, str], dict[str, Any]]) -> None:
    harm = rows[("AnoGAN", "copies 2")]["delta"]
    assert harm["mean"] == pytest.approx(-0.25) and harm["ci_high"] == pytest.approx(-0.25)
    level = rows[("kNN", "share 0.5")]["delta"]
    assert (level["mean"], level["ci_low"], level["ci_high"]) == (0.0, 0.0, 0.0)


def test_a_folder_of_another_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="levers-T-A-N"):
        load_script().main([str(tmp_path / "map-8-3-25"), "--out", str(tmp_path / "out")])
