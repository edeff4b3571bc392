"""Run-folder files and failures at the edges: an unexpected error on the console, symlinked or
unwritable run files, a really full disk."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from ganaug.host.loading import make_plugin_host
from ganaug.recipe.load import parse_recipe
from ganaug.runner.engine import run_recipe
from ganaug.runtime.errors import RunDirError
from tests.core_plugin import RECIPE, CorePlugin
from tests.killhooks.runner import run_cli, temp_files

CORE = make_plugin_host(builtins=(), entry_points=False, extra=[("core", CorePlugin())])


def core_recipe(*overrides: str):
    return parse_recipe(RECIPE, registry=CORE.registry, overrides=overrides)


def test_an_unexpected_error_is_one_line_on_the_console_and_a_traceback_in_run_log(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from ganaug.apps.cli import cli
    from ganaug.runner import engine

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom inside ganaug")

    monkeypatch.setattr(engine, "_stages", broken)
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["run", str(tiny), "--out", str(out)])
    assert result.exit_code == 1
    assert result.output.count("boom inside ganaug") == 1 and "Traceback" not in result.output
    assert "a bug; please report it" in result.output and "--debug" in result.output
    assert (out / "run.log").read_text().count("Traceback") == 1
    debug = CliRunner().invoke(cli, ["--debug", "run", str(tiny), "--out", str(tmp_path / "again")])
    assert isinstance(debug.exception, RuntimeError)  # --debug lets the traceback through


@pytest.mark.parametrize("name", [".lock", "run.log"])
def test_a_symlinked_run_folder_file_is_refused_and_its_target_untouched(
    tiny: Path, tmp_path: Path, name: str
) -> None:
    out = tmp_path / "run"
    first = run_cli(
        "run", tiny, "--out", out, "--quiet", kill="call:ganaug_plugins.stages.evaluate:EvaluateStage.run:1"
    )
    assert first.returncode == -signal.SIGKILL
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    (out / name).unlink(missing_ok=True)
    (out / name).symlink_to(target)
    resumed = run_cli("run", tiny, "--resume", out, "--quiet")
    assert resumed.returncode == RunDirError.exit_code, resumed.stderr
    assert "is a symbolic link" in resumed.stderr and name in resumed.stderr
    assert "Traceback" not in resumed.stderr
    assert target.read_text() == "keep me\n"


def test_an_unwritable_run_log_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import os

    from ganaug.runner import rundir

    real_open = os.open

    def refuse(path: Any, flags: int, *args: Any) -> int:
        if str(path).endswith("run.log"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(rundir.os, "open", refuse)
    with pytest.raises(RunDirError, match=r"cannot open the run log .*run\.log: Permission denied"):
        run_recipe(core_recipe(), out=tmp_path / "run", host=CORE)


@pytest.mark.slow
def test_a_really_full_disk_is_a_clear_error(tiny: Path, tmp_path: Path) -> None:
    """A small tmpfs as the run folder (where the machine lets us mount one; the ENOSPC-injecting
    tests above hold the same promise everywhere)."""
    import subprocess

    mount = tmp_path / "small"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=136k", "tmpfs", str(mount)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        full = run_cli("run", tiny, "--out", mount / "run", "--quiet")
        assert full.returncode == RunDirError.exit_code, full.stderr
        assert "disk full while writing" in full.stderr and "Traceback" not in full.stderr
        assert not temp_files(mount / "run")
    finally:
        subprocess.run(["umount", str(mount)], check=False)
