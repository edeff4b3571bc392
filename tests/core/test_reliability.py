"""Reliability beyond kill/resume: changed recipes, concurrent runs, a full disk, divergence at
the command line, and a run log that keeps every message the console showed."""

from __future__ import annotations

import io
import json
import logging
import re
import signal
import warnings
from pathlib import Path
from typing import Any

import attrs
import pytest
from rich.console import Console

from ganaug.api.hookspecs import Register, hookimpl
from ganaug.api.interfaces import StageOutput
from ganaug.host.loading import make_plugin_host
from ganaug.kit.training.checkpoint import latest_checkpoint, load_checkpoint
from ganaug.recipe.load import parse_recipe
from ganaug.recipe.schema import Recipe
from ganaug.runner.engine import run_recipe
from ganaug.runner.rundir import recipe_changes
from ganaug.runtime.console import console_session
from ganaug.runtime.errors import PluginError, RunDirError
from ganaug.testing import tiny_recipe
from tests.builders_data import tree, truncated_jpeg
from tests.core_plugin import RECIPE, CorePlugin
from tests.killhooks.runner import run_cli, start_cli, temp_files, wait_for

CORE = make_plugin_host(builtins=(), entry_points=False, extra=[("core", CorePlugin())])


def core_recipe(*overrides: str):
    return parse_recipe(RECIPE, registry=CORE.registry, overrides=overrides)


# --- a recipe changed between the kill and the resume ------------------------------------------


def test_recipe_changes_name_what_differs() -> None:
    old = {
        "run": {"seed": 1, "name": "x"},
        "stages": [{"name": "a", "epochs": 3, "searcher": {"steps": 10}}, {"name": "b", "k": [{"n": 1}]}],
    }
    new = {
        "run": {"seed": 2, "name": "x"},
        "stages": [
            {"name": "a", "epochs": 4, "searcher": {"steps": 10, "lr": 0.1}},
            {"name": "b", "k": [{"n": 2}]},
        ],
    }
    assert recipe_changes(old, new) == [
        "run.seed: 1 -> 2",
        "stages.a.epochs: 3 -> 4",
        "stages.a.searcher.lr: (unset) -> 0.1",
        "stages.b.k[0].n: 1 -> 2",
    ]
    renamed = {**old, "stages": [old["stages"][0], {"name": "c"}]}
    assert recipe_changes(old, renamed)[0] == "stages: a, b -> a, c"
    assert recipe_changes(old, old) == []
    many = {"run": {f"k{i}": i for i in range(20)}}
    assert recipe_changes({"run": {}}, many, limit=3)[-1] == "... and 17 more"


def test_resume_with_a_changed_recipe_says_what_changed_and_force_resumes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_recipe(core_recipe(), out=out, host=CORE)
    (out / "r" / "done.json").unlink()  # as if killed during stage r
    with pytest.raises(RunDirError, match=r"recipe changed") as refused:
        run_recipe(core_recipe("stages.m.steps=5", "run.seed=4"), resume=out, host=CORE)
    message = str(refused.value)
    assert "stages.m.steps: 3 -> 5" in message and "run.seed: 3 -> 4" in message and "--force" in message
    assert not (out / "r" / "done.json").exists()  # nothing ran
    result = run_recipe(core_recipe("stages.m.steps=5", "run.seed=4"), resume=out, host=CORE, force=True)
    assert result.metrics["r"] == {"copied": pytest.approx(0.1)}
    log = (out / "run.log").read_text()
    assert "resuming with a changed recipe (--force)" in log and "stages.m.steps: 3 -> 5" in log
    # the run now holds the new recipe: resuming it again with that recipe needs no --force
    run_recipe(core_recipe("stages.m.steps=5", "run.seed=4"), resume=out, host=CORE)


@pytest.mark.slow
def test_cli_refuses_a_changed_recipe_after_a_kill(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    killed = run_cli("run", tiny, "--out", out, "--quiet", kill="write:*/aug/images/*.png:1")
    assert killed.returncode == -signal.SIGKILL
    refused = run_cli("run", tiny, "--resume", out, "--quiet", "--set", "stages.more.epochs=3")
    assert refused.returncode == RunDirError.exit_code
    assert "stages.more.epochs: 2 -> 3" in refused.stderr and "Traceback" not in refused.stderr
    forced = run_cli("run", tiny, "--resume", out, "--quiet", "--set", "stages.more.epochs=3", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "epoch 3/3" in (out / "run.log").read_text()


# --- two runs on one folder, a full disk, divergence ---------------------------------------------


@pytest.mark.slow
def test_a_second_run_on_a_busy_folder_is_refused(tiny: Path, tmp_path: Path) -> None:
    out, release = tmp_path / "run", tmp_path / "release"
    first = start_cli("run", tiny, "--out", out, "--quiet", kill=f"block:6:{release}")
    try:
        wait_for(out / "base" / "checkpoints" / "latest.json", first)  # the first run now waits
        second = run_cli("run", tiny, "--resume", out, "--quiet")
        assert second.returncode == RunDirError.exit_code, second.stderr
        assert f"in use by another ganaug process (pid {first.pid})" in second.stderr
        third = run_cli("run", tiny, "--out", out, "--quiet")
        assert third.returncode == RunDirError.exit_code and "not empty" in third.stderr
        assert first.poll() is None, "the refused runs must leave the first one running"
    finally:
        release.touch()
        _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert (out / "eval" / "done.json").exists() and not (out / ".lock").exists()


@pytest.mark.slow
def test_disk_full_while_checkpointing_is_a_clear_error_and_keeps_the_last_checkpoint(
    tiny: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    full = run_cli(
        "run", tiny, "--out", out, "--quiet", kill="enospc:*/base/checkpoints/step-*.safetensors:2"
    )
    assert full.returncode == RunDirError.exit_code, full.stderr
    assert "disk full while writing" in full.stderr and "step-00000008.safetensors" in full.stderr
    assert "Traceback" not in full.stderr
    last = latest_checkpoint(out / "base" / "checkpoints")
    assert last is not None and last.name == "step-00000004.json"
    assert load_checkpoint(last).meta["step"] == 4
    assert not temp_files(out) and not (out / ".lock").exists()
    assert "disk full" in (out / "run.log").read_text()
    resumed = run_cli("run", tiny, "--resume", out, "--quiet")
    assert resumed.returncode == 0, resumed.stderr


def test_disk_full_while_the_final_weights_are_written_is_a_clear_error_and_resumes(
    tiny: Path, tmp_path: Path
) -> None:
    """The weights go through ganaug's atomic writer, whose disk-full message names the file."""
    out = tmp_path / "run"
    full = run_cli("run", tiny, "--out", out, "--quiet", kill="enospc:*/base/generator.safetensors:1")
    assert full.returncode == RunDirError.exit_code, full.stderr
    assert "disk full while writing" in full.stderr and "base/generator.safetensors" in full.stderr
    assert "Traceback" not in full.stderr and "report it" not in full.stderr
    assert not (out / "base" / "generator.safetensors").exists() and not temp_files(out)
    resumed = run_cli("run", tiny, "--resume", out, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert (out / "base" / "generator.safetensors").is_file()


def test_a_kill_while_weights_are_written_leaves_only_a_temp_file_resume_removes(
    tiny: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    killed = run_cli("run", tiny, "--out", out, "--quiet", kill="write:*/base/discriminator.safetensors:1")
    assert killed.returncode == -signal.SIGKILL
    left = temp_files(out)
    assert [p.name.split(".")[1] for p in left] == ["discriminator"]  # our temp name, nothing else
    assert not [p for p in (out / "base").iterdir() if ".tmp" in p.name and p not in left]
    resumed = run_cli("run", tiny, "--resume", out, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert not temp_files(out)


@pytest.mark.slow
def test_divergence_exits_with_its_code_naming_epoch_step_and_checkpoint(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    diverged = run_cli("run", tiny, "--out", out, "--quiet", kill="nan:6")
    assert diverged.returncode == 4, diverged.stderr
    err = " ".join(diverged.stderr.split())
    assert "diverged" in err and "epoch 2, step 6" in err and "step-00000004.json" in err
    assert "diverged" in (out / "run.log").read_text()
    # without --quiet the log is shown too, and the error still appears once
    loud = run_cli("run", tiny, "--out", tmp_path / "loud", kill="nan:6")
    assert loud.returncode == 4 and " ".join(loud.stderr.split()).count("diverged: d_loss") == 1, loud.stderr


# --- the run log keeps what the console showed -----------------------------------------------------


@attrs.frozen
class NoisyOptions:
    fail: bool = False


class NoisyStage:
    """Emits a Python warning and a log warning (or fails with a bug) in the middle of a run."""

    produces = frozenset({"metrics"})

    def __init__(self, options: NoisyOptions) -> None:
        self.options = options

    def run(self, ctx: object) -> StageOutput:
        warnings.warn("a library is unhappy", UserWarning, stacklevel=1)
        ctx.log.warning("stage says: careful")  # type: ignore[attr-defined]
        if self.options.fail:
            raise RuntimeError("a bug in a plugin")
        return StageOutput(metrics={"ok": 1})

    def restore(self, ctx: object) -> StageOutput:
        return StageOutput(metrics={"ok": 1})


class NoisyPlugin:
    @hookimpl
    def register_stages(self, register: Register) -> None:
        register("noisy", NoisyStage, options=NoisyOptions)


NOISY = make_plugin_host(entry_points=False, extra=[("noisy", NoisyPlugin())])


def noisy_recipe(root: Path, fail: bool = False) -> Recipe:
    data = {"source": "folder", "root": str(root), "layout": "tree", "image_size": 8, "on_error": "skip"}
    text = tiny_recipe({"kind": "noisy", "name": "n", "fail": fail}, data=data, run={"name": "noisy"})
    return parse_recipe(text, registry=NOISY.registry)


def bad_folder(tmp_path: Path) -> Path:
    root = tree(tmp_path / "data", {"train": {"A": 3}})
    truncated_jpeg(root / "train" / "A" / "cut.jpg")
    return root


def test_run_log_has_every_console_message_and_no_progress_noise(tmp_path: Path) -> None:
    shown = io.StringIO()
    console = Console(file=shown, force_terminal=True, width=400)
    out = tmp_path / "run"
    with console_session(console, quiet=False) as progress:
        run_recipe(noisy_recipe(bad_folder(tmp_path)), out=out, host=NOISY, progress=progress)
    log = (out / "run.log").read_text()
    for message in (
        "skipped 1 unreadable file(s)",  # the data source's warning
        "UserWarning: a library is unhappy",  # a Python warning raised during the run
        "stage says: careful",
        "stage n finished",
        "run finished",
    ):
        assert message in log, message
        assert message in " ".join(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.getvalue()).split())
    assert "\r" not in log and "\x1b" not in log and "━" not in log
    assert all(line[:4].isdigit() or line.startswith(" ") for line in log.splitlines() if line)


def test_run_log_keeps_the_traceback_of_an_error_in_plugin_code(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(PluginError, match="plugin 'noisy' failed: RuntimeError: a bug in a plugin"):
        run_recipe(noisy_recipe(bad_folder(tmp_path), fail=True), out=out, host=NOISY)
    log = (out / "run.log").read_text()
    assert "Traceback" in log and "RuntimeError: a bug in a plugin" in log
    assert "a bug; please report it" not in log  # the plugin is named, not ganaug
    assert not (out / ".lock").exists()


def test_unfinished_run_notice_goes_to_the_new_run_log(tmp_path: Path) -> None:
    recipe = core_recipe(f'run.output_dir="{tmp_path}"')
    first = run_recipe(recipe, host=CORE).run_dir
    manifest = (first / "manifest.json").read_text().replace('"finished": "', '"was_finished": "')
    (first / "manifest.json").write_text(manifest)  # as if killed before the end
    second = run_recipe(recipe, host=CORE).run_dir
    assert f"run again with --resume {first}" in (second / "run.log").read_text()


def test_python_warnings_are_restored_after_the_run(tmp_path: Path) -> None:
    before = warnings.showwarning
    run_recipe(core_recipe(), out=tmp_path / "run", host=CORE)
    assert warnings.showwarning is before
    assert not logging.getLogger("ganaug").handlers or all(
        not isinstance(h, logging.FileHandler) for h in logging.getLogger("ganaug").handlers
    )


# --- the run folder cannot be made or written ---------------------------------------------------


def test_run_folder_os_errors_are_clear_errors(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(RunDirError, match=r"cannot create the folder .*a-file"):
        run_recipe(core_recipe(f"run.output_dir='{blocker}'"), host=CORE)
    with pytest.raises(RunDirError, match=r"cannot create the folder /proc/ganaug-x"):
        run_recipe(core_recipe(), out=Path("/proc/ganaug-x"), host=CORE)


def test_output_dir_with_a_tilde_goes_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    result = run_recipe(core_recipe("run.output_dir='~/runs'"), host=CORE)
    assert result.run_dir.parent == tmp_path / "home" / "runs" and not (tmp_path / "~").exists()


def test_cli_reports_an_unusable_out_without_a_traceback(tiny: Path) -> None:
    result = run_cli("run", tiny, "--out", "/proc/ganaug-x", "--quiet")
    assert result.returncode == 5
    assert "cannot create the folder /proc/ganaug-x" in result.stderr and "Traceback" not in result.stderr


# --- the data changed between a kill and the resume -------------------------------------------


def test_resume_refuses_changed_data_and_force_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.core_plugin import Numbers

    out = tmp_path / "run"
    run_recipe(core_recipe(), out=out, host=CORE)
    stored = json.loads((out / "data" / "fingerprint.json").read_text())
    assert set(stored) == {"train", "test"} and "img0" in stored["train"]
    (out / "r" / "done.json").unlink()  # as if killed during stage r
    original = Numbers.load

    def changed(self: Numbers, ctx: object) -> Any:
        bundle = original(self, ctx)
        bundle.splits["train"].images[0] += 0.5  # one file of the training split was replaced
        return bundle

    monkeypatch.setattr(Numbers, "load", changed)
    with pytest.raises(RunDirError, match="the data changed") as refused:
        run_recipe(core_recipe(), resume=out, host=CORE)
    assert "train: img0 changed" in str(refused.value) and "--force" in str(refused.value)
    assert not (out / "r" / "done.json").exists()  # nothing ran
    run_recipe(core_recipe(), resume=out, host=CORE, force=True)
    log = (out / "run.log").read_text()
    assert "resuming with changed data (--force)" in log and (out / "r" / "done.json").exists()
    # the fingerprint now holds the data the run finished with
    assert (
        json.loads((out / "data" / "fingerprint.json").read_text())["train"]["img0"]
        != stored["train"]["img0"]
    )


def test_a_refused_resume_leaves_a_finished_run_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.core_plugin import Numbers

    out = tmp_path / "run"
    run_recipe(core_recipe(), out=out, host=CORE)
    finished = json.loads((out / "manifest.json").read_text())["finished"]
    original = Numbers.load

    def changed(self: Numbers, ctx: object) -> Any:
        bundle = original(self, ctx)
        bundle.splits["test"].images[1] -= 0.5
        return bundle

    monkeypatch.setattr(Numbers, "load", changed)
    with pytest.raises(RunDirError, match="the data changed"):
        run_recipe(core_recipe(), resume=out, host=CORE)
    assert json.loads((out / "manifest.json").read_text())["finished"] == finished


def test_a_device_file_is_not_read_as_a_recipe() -> None:
    result = run_cli("validate", "/dev/zero")
    assert result.returncode == 2 and "/dev/zero is not a regular file" in result.stderr
