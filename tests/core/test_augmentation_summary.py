"""scripts/augmentation_summary.py on synthetic map sweeps whose AUCs are known exactly.

Each run scores two normal and two anomalous test images; where the anomalies sit among the normal
scores fixes the AUC to a quarter step, so every per-seed AUC, paired delta and interval below is
known in advance.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "augmentation_summary.py"
MODELS = {
    "none": "anogan_real_steps",
    "self": "anogan_self",
    "iagan": "anogan_iagan",
    "classical": "anogan_classical",
}
NORMAL_SCORES = (1.0, 3.0)
#: AUC -> the two anomalies' scores against NORMAL_SCORES
ANOMALY_SCORES = {1.0: (4.0, 5.0), 0.75: (2.0, 4.0), 0.5: (0.0, 4.0), 0.25: (0.0, 2.0), 0.0: (0.0, 0.5)}
T_975_2 = 4.302652729911275  # Student t, 2 degrees of freedom, 97.5%


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("augmentation_summary", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def planned_auc(pair: str, method: str, aug: str, seed: int) -> float:
    """The AUC each synthetic run is built to give."""
    if method == "anogan":  # IAGAN beats the control and classical on both pairs
        return {"iagan": (1.0, 1.0, 0.75)[seed], "self": 0.25}.get(aug, 0.5)
    if method == "knn":  # ... on 8-3 only
        return 1.0 if aug == "iagan" and pair == "8-3" else 0.5
    if method == "pca":  # beats the control, ties classical
        return 1.0 if aug in ("iagan", "classical") else 0.5
    if method == "encoder":
        return (1.0, 0.75, 0.5)[seed] if aug == "none" else 0.5
    return 0.5


def scores_csv(pair: str, seed: int, encoder: bool) -> str:
    trained, anomaly = pair.split("-")
    lines = ["image,label,model,method,residual,discrimination,score"]
    methods = ["encoder"] if encoder else ["anogan", "anogan@init", "knn", "pca", "ocsvm"]
    for aug, model in MODELS.items():
        model += "_encoder" if encoder else ""
        for method in methods:
            # anogan@init is reversed: reading it as AnoGAN would change every AnoGAN AUC
            target = 1.0 - planned_auc(pair, "anogan", aug, seed) if method == "anogan@init" else None
            positives = ANOMALY_SCORES[target if target is not None else planned_auc(pair, method, aug, seed)]
            for i, score in enumerate(NORMAL_SCORES):
                lines.append(f"mnist5k:{i},{trained},{model},{method},0,0,{score}")
            for i, score in enumerate(positives):
                lines.append(f"mnist5k:{100 + i},{anomaly},{model},{method},0,0,{score}")
    return "\n".join(lines) + "\n"


def conversion(label: str, query: str, rate: float) -> str:
    per_class = {query: {"conversion_rate": rate, "copy_ssim": 0.05, "images": 4}}
    return json.dumps({"conversion": {"per_query_class": per_class}, "images": 4, "label": label})


def make_run(folder: Path, pair: str, seed: int, finished: bool = True) -> None:
    trained, anomaly = pair.split("-")
    folder.mkdir(parents=True)
    (folder / "recipe.toml").write_text(f'[data]\nclasses = ["{trained}", "{anomaly}"]\n')
    for stage, encoder in (("evaluate", False), ("evaluate_encoder", True)):
        (folder / stage).mkdir()
        (folder / stage / "scores.csv").write_text(scores_csv(pair, seed, encoder))
    (folder / "evaluate" / "done.json").write_text("{}")
    if finished:
        (folder / "evaluate_encoder" / "done.json").write_text("{}")
    for query, rate in ((anomaly, (0.5, 0.75, 1.0)[seed]), (trained, 0.1)):
        (folder / f"aug_iagan_{query}").mkdir()
        (folder / f"aug_iagan_{query}" / "summary.json").write_text(conversion(trained, query, rate))


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two pairs at N=25 with three seeds; 8-3 at N=50 with seed 0, seed 1 unfinished, seed 2 missing."""
    root = tmp_path_factory.mktemp("map")
    sweeps = []
    for pair, n, seeds in (("8-3", 25, (0, 1, 2)), ("9-4", 25, (0, 1, 2)), ("8-3", 50, (0,))):
        sweep = root / f"map-{pair}-{n}"
        for seed in seeds:
            make_run(sweep / "default" / f"seed-{seed}", pair, seed)
        sweeps.append(sweep)
    make_run(root / "map-8-3-50" / "default" / "seed-1", "8-3", 1, finished=False)
    out = root / "out"
    not_run = ["--not-run", "300=no machine time", "--not-run", "9-4:50=no time"]
    assert load_script().main([*map(str, sweeps), "--out", str(out), *not_run]) == 0
    summary = json.loads((out / "summary.json").read_text())
    cells = {(c["pair"], c["n_train"], c["detector"], c["augmentation"]): c for c in summary["cells"]}
    regimes = {(r["n_train"], r["detector"]): r for r in summary["regimes"]}
    return {"out": out, "summary": summary, "cells": cells, "regimes": regimes}


def test_per_seed_aucs_and_paired_delta(result: dict[str, Any]) -> None:
    cell = result["cells"][("8-3", 25, "AnoGAN", "iagan")]
    assert cell["auc"]["per_seed"] == {"0": 1.0, "1": 1.0, "2": 0.75}
    assert cell["delta"]["per_seed"] == {"0": 0.5, "1": 0.5, "2": 0.25}
    half = T_975_2 * 0.25 / math.sqrt(3) / math.sqrt(3)  # SD of (0.5, 0.5, 0.25) is 0.25 / sqrt(3)
    assert cell["delta"]["mean"] == pytest.approx(5 / 12)
    assert cell["delta"]["ci_low"] == pytest.approx(5 / 12 - half)
    assert cell["delta"]["ci_high"] == pytest.approx(5 / 12 + half)
    assert cell["delta"]["ci_low"] > 0
    assert cell["seeds"] == [0, 1, 2] and cell["wins"] == [0, 1, 2]
    assert cell["delta_vs_classical"]["mean"] == pytest.approx(5 / 12)
    assert cell["iagan_conversion"]["mean"] == pytest.approx(0.75)


def test_negative_and_control_cells(result: dict[str, Any]) -> None:
    worse = result["cells"][("9-4", 25, "AnoGAN", "self")]
    assert worse["auc"]["per_seed"] == {"0": 0.25, "1": 0.25, "2": 0.25}
    assert worse["delta"]["mean"] == pytest.approx(-0.25) and worse["wins"] == []
    assert worse["delta"]["ci_high"] == pytest.approx(-0.25)
    control = result["cells"][("8-3", 25, "f-AnoGAN encoder", "none")]
    assert control["auc"]["per_seed"] == {"0": 1.0, "1": 0.75, "2": 0.5}
    assert control["auc"]["mean"] == pytest.approx(0.75) and control["auc"]["sd"] == pytest.approx(0.25)
    zero = control["delta"]
    assert (zero["mean"], zero["ci_low"], zero["ci_high"]) == (0.0, 0.0, 0.0)
    assert "delta_vs_classical" not in control and control["wins"] == []
    tie = result["cells"][("8-3", 25, "f-AnoGAN encoder", "iagan")]
    assert tie["delta"]["per_seed"] == {"0": -0.5, "1": -0.25, "2": 0.0}
    assert tie["wins"] == []  # a tie is no win


def test_one_seed_cell_has_no_interval_and_is_left_out(result: dict[str, Any]) -> None:
    cell = result["cells"][("8-3", 50, "AnoGAN", "iagan")]
    assert cell["seeds"] == [0]
    assert cell["delta"]["mean"] == pytest.approx(0.5)
    assert cell["delta"]["ci_low"] is None and cell["delta"]["ci_high"] is None
    left_out = result["summary"]["left_out"]
    cells_out = {
        (e["pair"], e["n_train"], e["detector"], e["augmentation"]) for e in left_out if "detector" in e
    }
    assert ("8-3", 50, "AnoGAN", "iagan") in cells_out
    assert not any(key[1] == 25 for key in cells_out)
    runs_out = {(e["pair"], e["n_train"], e["seed"]): e["reason"] for e in left_out if "seed" in e}
    assert set(runs_out) == {("8-3", 50, 1), ("8-3", 50, 2)}
    assert "unfinished" in runs_out[("8-3", 50, 1)] and "missing" in runs_out[("8-3", 50, 2)]
    assert any(e.get("n_train") == 1000 for e in left_out)
    assert {"what": "N = 300", "n_train": 300, "reason": "no machine time"} in left_out
    assert {"what": "9-4 N=50", "n_train": 50, "pair": "9-4", "reason": "no time"} in left_out


def test_regimes_and_target(result: dict[str, Any]) -> None:
    regimes = result["regimes"]
    assert regimes[(25, "AnoGAN")]["pairs"] == {"8-3": True, "9-4": True}
    assert regimes[(25, "AnoGAN")]["met"] is True
    assert regimes[(25, "kNN")]["pairs"] == {"8-3": True, "9-4": False}
    assert regimes[(25, "kNN")]["met"] is False
    assert regimes[(25, "PCA")]["pairs"] == {"8-3": False, "9-4": False}  # ties classical
    assert regimes[(50, "AnoGAN")]["pairs"] == {"8-3": False}  # one seed: no interval
    assert regimes[(50, "AnoGAN")]["met"] is False
    target = result["summary"]["target"]
    assert target["met"] is True
    assert target["regimes_met"] == [{"n_train": 25, "detector": "AnoGAN"}]
    assert "N=25 AnoGAN" in target["text"]


def test_table_and_figure(result: dict[str, Any]) -> None:
    text = (result["out"] / "table.md").read_text()
    assert "## 8 vs 3" in text and "## 9 vs 4" in text
    assert "scripts/augmentation_summary.py" in text
    row = next(line for line in text.splitlines() if line.startswith("| 25 | AnoGAN |"))
    assert "| 0.500 ± 0.000 |" in row and "+0.417 [+0.058, +0.775]" in row and "0.75" in row
    assert "N = 1000" in text and "- N = 300: no machine time" in text and "- 9-4 N=50: no time" in text
    assert "--not-run '300=no machine time'" in text
    assert (result["out"] / "map.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_bad_folders_exit_clearly(tmp_path: Path) -> None:
    script = load_script()
    with pytest.raises(SystemExit, match="PAIR"):
        script.main([str(tmp_path / "map-8-3-25"), "--out", str(tmp_path / "o"), "--not-run", "300"])
    with pytest.raises(SystemExit, match="map-8-3-25"):
        script.main([str(tmp_path / "race-8-3"), "--out", str(tmp_path / "out")])
    (tmp_path / "map-8-3-25" / "default").mkdir(parents=True)
    with pytest.raises(SystemExit, match="no finished run"):
        script.main([str(tmp_path / "map-8-3-25"), "--out", str(tmp_path / "out")])
    make_run(tmp_path / "map-9-4-25" / "default" / "seed-0", "8-3", 0)
    with pytest.raises(SystemExit, match="classes"):
        script.main([str(tmp_path / "map-9-4-25"), "--out", str(tmp_path / "out")])
