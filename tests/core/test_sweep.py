"""``ganaug sweep`` / ``aggregate``: planning, a killed and resumed 2 x 2 sweep, the aggregate's values."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import roc_auc_score

from ganaug.apps.aggregate import aggregate
from ganaug.apps.cli_sweep import parse_seeds
from ganaug.apps.sweep import check_consistent, parse_grid, plan_sweep, settings_of, split_values
from ganaug.runtime.errors import RecipeError, RunDirError
from tests.killhooks.runner import TINY, run_cli

GRID = "stages.base.epochs=2,3"
STEP = "call:ganaug_plugins.stages.gan_step:GanStep.__call__"


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def test_grid_values_keep_commas_inside_brackets_and_quotes() -> None:
    assert split_values("4,16") == ["4", "16"]
    assert split_values('[1, 2],"a,b", 3') == ["[1, 2]", '"a,b"', "3"]
    assert parse_grid(["a.b=1,2", "c=x"]) == [("a.b", ["1", "2"]), ("c", ["x"])]
    with pytest.raises(RecipeError, match=r"key\.path=value1"):
        parse_grid(["novalue"])


def test_settings_are_the_cross_product_in_order() -> None:
    settings = settings_of([("stages.g.code_dim", ["4", "16"]), ("run.x", ['"a b"'])])
    assert [s.overrides for s in settings] == [
        ("stages.g.code_dim=4", 'run.x="a b"'),
        ("stages.g.code_dim=16", 'run.x="a b"'),
    ]
    assert settings[0].name == "00-code_dim=4_x=a-b" and settings[1].name.startswith("01-code_dim=16")
    assert [s.name for s in settings_of([])] == ["default"]


def test_seed_lists_and_ranges() -> None:
    assert parse_seeds("0,1,2") == [0, 1, 2]
    assert parse_seeds("0-2,7") == [0, 1, 2, 7]


def test_a_bad_grid_key_fails_before_anything_runs(recipe: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    with pytest.raises(RecipeError) as caught:
        plan_sweep(recipe, [0, 1], grid=["stages.nope.epochs=1,2", "stages.base.epochz=3"], out=out)
    paths = {p.path for p in caught.value.problems}
    assert "--grid stages.nope.epochs" in paths
    assert any(p.endswith("epochz") for p in paths)
    assert not out.exists()
    result = run_cli("sweep", recipe, "--seeds", "0", "--grid", "stages.nope.epochs=1", "--out", out)
    assert result.returncode == 2 and "stages.nope.epochs" in result.stderr and not out.exists()


def test_plan_lays_out_one_folder_per_setting_and_seed(recipe: Path, tmp_path: Path) -> None:
    plan = plan_sweep(recipe, [0, 5], grid=[GRID], out=tmp_path / "s")
    dirs = sorted(str(r.dir.relative_to(tmp_path / "s")) for r in plan.runs)
    assert dirs == ["00-epochs=2/seed-0", "00-epochs=2/seed-5", "01-epochs=3/seed-0", "01-epochs=3/seed-5"]
    assert {(r.recipe.run.seed, r.recipe.stages[0].options.epochs) for r in plan.runs} == {
        (0, 2), (5, 2), (0, 3), (5, 3),
    }  # fmt: skip
    assert all(r.state() == "missing" for r in plan.runs)


def _auc_of_run(run: Path, model: str) -> float:
    return json.loads((run / "eval" / "metrics.json").read_text())[model]["anogan"]["auc"]


@pytest.mark.slow
def test_sweep_killed_then_resumed_and_aggregated(recipe: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    args = ("sweep", recipe, "--seeds", "0,1", "--grid", GRID, "--out", out, "--quiet")
    # 2 epochs x 4 steps of base + 2 x 5 of more = 18 G/D steps a run: step 25 is mid-base of run 2
    killed = run_cli(*args, kill=f"{STEP}:25")
    assert killed.returncode != 0
    first, second = out / "00-epochs=2" / "seed-0", out / "00-epochs=2" / "seed-1"
    assert json.loads((first / "manifest.json").read_text()).get("finished")
    assert not json.loads((second / "manifest.json").read_text()).get("finished")
    assert not (out / "01-epochs=3").exists()

    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert "finished already, skipped" in again.stderr and "resuming in" in again.stderr
    runs = {(s, seed): out / s / f"seed-{seed}" for s in ("00-epochs=2", "01-epochs=3") for seed in (0, 1)}
    assert all(json.loads((r / "manifest.json").read_text()).get("finished") for r in runs.values())

    result = json.loads((out / "aggregate.json").read_text())
    table = result["evaluate"]["eval"]["auc"]
    for (setting, seed), run in runs.items():
        found = dict(zip(table[setting]["more"]["seeds"], table[setting]["more"]["values"], strict=True))
        assert found[seed] == pytest.approx(_auc_of_run(run, "more"))
    values = [_auc_of_run(runs[("01-epochs=3", s)], "base") for s in (0, 1)]
    summary = table["01-epochs=3"]["base"]
    assert summary["mean"] == pytest.approx(np.mean(values))
    assert summary["std"] == pytest.approx(np.std(values, ddof=1))
    assert summary["low"] < summary["mean"] < summary["high"] or summary["std"] == 0

    pair = result["evaluate"]["eval"]["paired"]["00-epochs=2"][0]
    assert (pair["model"], pair["baseline"]) == ("more", "base") and pair["seeds"] == 2
    for entry in pair["per_seed"]:
        run = runs[("00-epochs=2", entry["seed"])]
        assert entry["delong"]["difference"] == pytest.approx(
            _auc_of_run(run, "more") - _auc_of_run(run, "base")
        )
        assert entry["bootstrap"]["low"] <= entry["delong"]["difference"] <= entry["bootstrap"]["high"]
    assert pair["wins"] == sum(e["delong"]["difference"] > 0 for e in pair["per_seed"])

    text = (out / "aggregate.md").read_text()
    assert f"{summary['mean']:.3f} ± {summary['std']:.3f}" in text
    assert "more − base" in text and "copy SSIM" in text
    assert Image.open(out / "aggregate-eval.png").size[0] > 100

    # `ganaug aggregate` rebuilds the same numbers; a third sweep runs nothing
    (out / "aggregate.json").unlink()
    rebuilt = run_cli("aggregate", out)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert json.loads((out / "aggregate.json").read_text())["evaluate"] == result["evaluate"]
    third = run_cli(*args)
    assert third.returncode == 0 and third.stderr.count("skipped") == 4


def test_aggregate_auc_matches_sklearn_on_a_written_run(recipe: Path, tmp_path: Path) -> None:
    """Aggregation reads scores.csv itself: check it against sklearn on hand-written scores."""
    from ganaug.apps.sweep import write_manifest

    plan = plan_sweep(recipe, [0], out=tmp_path / "s")
    write_manifest(plan)
    run = plan.runs[0].dir
    (run / "eval").mkdir(parents=True)
    (run / "eval" / "done.json").write_text("{}")
    (run / "recipe.toml").write_text(
        '[[stages]]\nkind = "evaluate"\nname = "eval"\nmodels = ["a", "b"]\npositive = "3"\n'
        '[[stages]]\nkind = "evaluate"\nname = "quality"\nmodels = ["a", "b"]\npositive = "3"\n'
    )
    (run / "quality").mkdir()  # a stage of metric evaluators only: its scores.csv has no rows
    (run / "quality" / "done.json").write_text("{}")
    (run / "quality" / "scores.csv").write_text("image,label,model,method,residual,discrimination,score\n")
    rng = np.random.default_rng(0)
    labels = ["3"] * 10 + ["8"] * 10
    a, b = rng.normal(size=20) + np.r_[np.ones(10), np.zeros(10)], rng.normal(size=20)
    lines = ["image,label,model,method,residual,discrimination,score"]
    for model, scores in (("a", a), ("b", b)):
        lines += [f"img{i},{labels[i]},{model},anogan,,,{float(scores[i])!r}" for i in range(20)]
    (run / "eval" / "scores.csv").write_text("\n".join(lines) + "\n")
    result = aggregate(tmp_path / "s", resamples=200)
    y = np.array([lab == "3" for lab in labels])
    auc_a = result["evaluate"]["eval"]["auc"]["default"]["a"]
    assert (
        auc_a["mean"] == pytest.approx(roc_auc_score(y, a)) and auc_a["n"] == 1 and math.isnan(auc_a["std"])
    )
    pair = result["evaluate"]["eval"]["paired"]["default"][0]
    assert pair["per_seed"][0]["delong"]["difference"] == pytest.approx(
        roc_auc_score(y, b) - roc_auc_score(y, a)
    )
    assert pair["baseline"] == "a" and pair["model"] == "b"
    assert set(result["evaluate"]) == {"eval"}  # no empty AUC tables for the quality stage


def test_a_finished_run_of_another_recipe_is_refused(recipe: Path, tmp_path: Path) -> None:
    plan = plan_sweep(recipe, [0], out=tmp_path / "s")
    run = plan.runs[0].dir
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"finished": "x", "recipe_hash": "other"}))
    with pytest.raises(RunDirError, match="another recipe"):
        check_consistent(plan)


@pytest.mark.slow
def test_parallel_local_runs(tmp_path: Path) -> None:
    recipe = tmp_path / "short.toml"
    recipe.write_text(TINY.replace("epochs = 3", "epochs = 1").replace("epochs = 2", "epochs = 1"))
    out = tmp_path / "sweep"
    result = run_cli("sweep", recipe, "--seeds", "0,1", "--out", out, "--jobs", "2", "--quiet")
    assert result.returncode == 0, result.stderr
    for seed in (0, 1):
        manifest = json.loads((out / "default" / f"seed-{seed}" / "manifest.json").read_text())
        assert manifest["finished"] and manifest["seed"] == seed
    assert not list(out.glob(".*.stderr"))  # each run's stderr is removed once it succeeded
    table = json.loads((out / "aggregate.json").read_text())["evaluate"]["eval"]["auc"]["default"]
    assert table["more"]["n"] == 2
