"""The Slurm launcher through submitit, tested with submitit's local executor (no cluster here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ganaug.apps.slurm import SweepJob
from tests.killhooks.runner import TINY, run_cli

SHORT = TINY.replace("epochs = 3", "epochs = 1").replace("epochs = 2", "epochs = 1")


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(SHORT)
    return path


def test_a_requeued_job_is_the_same_job(recipe: Path, tmp_path: Path) -> None:
    import submitit

    job = SweepJob(str(recipe), ("run.seed=3",), str(tmp_path / "run"), {"seed": 3})
    again = job.checkpoint()
    assert isinstance(again, submitit.helpers.DelayedSubmission) and again.function == job


@pytest.mark.slow
def test_the_job_runs_then_resumes_its_folder(recipe: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    job = SweepJob(str(recipe), ("run.seed=3",), str(folder), {"seed": 3}, device="cpu")
    assert job() == str(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["finished"]
    # a preempted job left the run unfinished: the requeued job resumes instead of refusing the folder
    (folder / "manifest.json").write_text(json.dumps({**manifest, "finished": None}))
    assert job() == str(folder)
    assert "finished earlier, loading its outputs" in (folder / "run.log").read_text()


@pytest.mark.slow
def test_sweep_on_the_local_submitit_executor(recipe: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    args = (
        "sweep",
        recipe,
        "--seeds",
        "0,1",
        "--out",
        out,
        "--launcher",
        "slurm",
        "--slurm-cluster",
        "local",
    )
    result = run_cli(*args, "--slurm-time", "30", "--slurm-cpus", "1")
    assert result.returncode == 0, result.stderr
    for seed in (0, 1):
        manifest = json.loads((out / "default" / f"seed-{seed}" / "manifest.json").read_text())
        assert manifest["finished"] and manifest["seed"] == seed
    assert any((out / "slurm-logs").iterdir())
    table = json.loads((out / "aggregate.json").read_text())["evaluate"]["eval"]["auc"]["default"]
    assert table["base"]["n"] == 2 and sorted(table["base"]["seeds"]) == [0, 1]
