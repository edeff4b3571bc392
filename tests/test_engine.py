"""The engine and run directory: outputs, manifest, locking, resume and its refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ganaug.engine import run_recipe
from ganaug.errors import RunDirError
from ganaug.plugins import make_plugin_host
from ganaug.recipe.load import parse_recipe
from tests.core_plugin import RECIPE, CorePlugin

HOST = make_plugin_host(builtins=(), entry_points=False, extra=[("core", CorePlugin())])


def recipe(*overrides: str):
    return parse_recipe(RECIPE, registry=HOST.registry, overrides=overrides)


def test_run_writes_run_directory(tmp_path: Path) -> None:
    result = run_recipe(recipe(), out=tmp_path / "run", host=HOST)
    run = result.run_dir
    assert result.metrics["m"] == {"mean": pytest.approx(0.1), "n": 4}
    assert result.metrics["r"] == {"copied": pytest.approx(0.1)}
    resolved = tomllib.loads((run / "recipe.toml").read_text())
    assert resolved["stages"][0]["steps"] == 3 and resolved["run"]["seed"] == 3
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["device"] == "cpu"
    assert manifest["finished"] and set(manifest["stages"]) == {"m", "r"}
    assert manifest["versions"]["torch"] and manifest["versions"]["ganaug"]
    assert "stage m finished" in (run / "run.log").read_text()
    assert (run / "m" / "done.json").exists() and (run / "m" / "mean.json").exists()
    assert not (run / ".lock").exists()


def test_default_run_dir_is_named_and_unique(tmp_path: Path) -> None:
    a = run_recipe(recipe(f"run.output_dir={json.dumps(str(tmp_path))}"), host=HOST).run_dir
    b = run_recipe(recipe(f"run.output_dir={json.dumps(str(tmp_path))}"), host=HOST).run_dir
    assert a != b and a.parent == tmp_path and a.name.startswith("core-")


def test_non_empty_out_is_refused(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(RunDirError, match="not empty"):
        run_recipe(recipe(), out=tmp_path, host=HOST)
    assert (tmp_path / "keep.txt").read_text() == "precious"


def test_resume_restores_finished_stages(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_recipe(recipe(), out=out, host=HOST)
    (out / "r" / "done.json").unlink()  # as if killed during stage r
    result = run_recipe(recipe(), resume=out, host=HOST)
    assert result.metrics["m"] == {"mean": pytest.approx(0.1)}  # restored, not recomputed
    assert result.metrics["r"] == {"copied": pytest.approx(0.1)}
    assert "finished earlier" in (out / "run.log").read_text()


def test_resume_refuses_a_changed_recipe_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_recipe(recipe(), out=out, host=HOST)
    with pytest.raises(RunDirError, match="recipe changed"):
        run_recipe(recipe("stages.m.steps=5"), resume=out, host=HOST)
    run_recipe(recipe("stages.m.steps=5"), resume=out, host=HOST, force=True)


def test_resume_of_a_folder_without_a_run(tmp_path: Path) -> None:
    with pytest.raises(RunDirError, match="no ganaug run"):
        run_recipe(recipe(), resume=tmp_path, host=HOST)


def test_live_lock_refuses_a_second_run_and_stale_lock_is_taken_over(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_recipe(recipe(), out=out, host=HOST)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (out / ".lock").write_text(f"{sleeper.pid}\n")
        with pytest.raises(RunDirError, match=f"pid {sleeper.pid}"):
            run_recipe(recipe(), resume=out, host=HOST)
    finally:
        sleeper.kill()
        sleeper.wait()
    (out / ".lock").write_text(f"{sleeper.pid}\n")  # now dead: stale
    run_recipe(recipe(), resume=out, host=HOST)
    assert not (out / ".lock").exists()
    assert os.getpid() != sleeper.pid
