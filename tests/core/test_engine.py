"""The engine and run directory: outputs, manifest, locking, resume and its refusals."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

from ganaug.host.loading import make_plugin_host
from ganaug.recipe.load import parse_recipe
from ganaug.runner.engine import run_recipe
from ganaug.runtime.errors import RunDirError
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


HOLD = (
    "import fcntl, os, sys, time\n"
    "fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR)\n"
    "fcntl.flock(fd, fcntl.LOCK_EX)\n"
    "os.write(fd, b'%d\\n' % os.getpid())\n"
    "print('held', flush=True)\n"
    "time.sleep(30)\n"
)


def test_live_lock_refuses_a_second_run_and_stale_lock_is_taken_over(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_recipe(recipe(), out=out, host=HOST)
    command = [sys.executable, "-c", HOLD, str(out / ".lock")]
    holder = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(RunDirError, match=f"pid {holder.pid}"):
            run_recipe(recipe(), resume=out, host=HOST)
    finally:
        holder.kill()
        holder.wait()
    assert (out / ".lock").read_text() == f"{holder.pid}\n"  # left by a dead holder: stale
    run_recipe(recipe(), resume=out, host=HOST)
    assert not (out / ".lock").exists()


def _contend(folder: str, barrier: Any, held: Any, hold_s: float) -> None:
    from ganaug.runner.rundir import RunDir

    barrier.wait()
    try:
        with RunDir(Path(folder)).lock():
            with held.get_lock():
                held.value += 1
            time.sleep(hold_s)
    except RunDirError:
        pass


@pytest.mark.parametrize("stale", [False, True])
def test_two_processes_released_together_never_both_hold_the_lock(tmp_path: Path, stale: bool) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    for trial in range(15):
        folder = tmp_path / f"t{trial}"
        folder.mkdir()
        if stale:
            (folder / ".lock").write_text("999999999\n")  # a holder that is long gone
        barrier, held = ctx.Barrier(2), ctx.Value("i", 0)
        procs = [ctx.Process(target=_contend, args=(str(folder), barrier, held, 0.3)) for _ in range(2)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(60)
        assert all(proc.exitcode == 0 for proc in procs)
        assert held.value == 1, f"trial {trial}: {held.value} processes held the lock at once"
