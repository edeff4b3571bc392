"""Kill the real CLI at many points (SIGKILL, SIGINT), resume, and match an uninterrupted run.

Each case runs ``ganaug run`` in a subprocess on a tiny recipe with every stage kind (train,
augment, train on real + augmented, evaluate), kills it by fault injection
(:mod:`tests.killhooks.killrun`) or from outside, checks what the kill left, resumes with
``--resume`` and compares weights, PNGs, tables and metrics byte for byte with a clean run.
"""

from __future__ import annotations

import json
import shlex
import signal
from pathlib import Path

import pytest
import safetensors.torch
from PIL import Image

from ganaug.kit.training.checkpoint import latest_checkpoint, load_checkpoint
from tests.killhooks.runner import (
    BASE_STEPS,
    MORE_STEPS_PER_EPOCH,
    TINY,
    metrics,
    outputs,
    run_cli,
    signal_and_wait,
    start_cli,
    temp_files,
    wait_for,
)

pytestmark = pytest.mark.slow

STEP = "call:ganaug_plugins.stages.gan_step:GanStep.__call__"
SEARCH = "call:ganaug_plugins.searchers.backprop:BackpropSearcher.search"
KILLS = {
    # the temp file of base's 2nd checkpoint tensors is written, not yet renamed
    "checkpoint-tensors-write": "write:*/base/checkpoints/step-*.safetensors:2",
    # the tensors of the 2nd checkpoint are in place, its JSON is being written
    "checkpoint-json-write": "write:*/base/checkpoints/step-*.json:2",
    # both files of the 2nd checkpoint are in place, latest.json still names the 1st
    "latest-pointer-write": "write:*/base/checkpoints/latest.json:2",
    "final-weights-write": "write:*/base/discriminator.safetensors:1",
    # mid-epoch 2 of the second train stage (its data holds the augmented images)
    "second-train-mid-epoch": f"{STEP}:{BASE_STEPS + MORE_STEPS_PER_EPOCH + 2}",
    "augment-search": f"{SEARCH}:1",
    "augment-png-write": "write:*/aug/images/*.png:2",
    # the evaluate stage's search with its second model
    "evaluate-search": f"{SEARCH}:3",
    "evaluate-scores-write": "write:*/eval/scores.csv:1",
}


@pytest.fixture(scope="module")
def recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("recipe") / "tiny.toml"
    path.write_text(TINY)
    return path


@pytest.fixture(scope="module")
def reference(recipe: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uninterrupted run of the recipe, to compare every resumed run with."""
    out = tmp_path_factory.mktemp("reference") / "run"
    done = run_cli("run", recipe, "--out", out, "--quiet")
    assert done.returncode == 0, done.stderr
    return out


def assert_no_partial_outputs(run: Path) -> None:
    """Every file under a final name is complete: JSON parses, tensors load, PNGs decode."""
    temps = set(temp_files(run))
    for path in run.rglob("*"):
        if not path.is_file() or path in temps or path.name in {".lock", "run.log"}:
            continue
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".safetensors":
            safetensors.torch.load_file(path)
        elif path.suffix == ".png":
            with Image.open(path) as image:
                image.load()


def assert_same_as_reference(run: Path, reference: Path) -> None:
    got, want = outputs(run), outputs(reference)
    assert sorted(got) == sorted(want)
    differ = [name for name in want if got[name] != want[name]]
    assert not differ, f"differ from the uninterrupted run: {differ}"
    assert metrics(run) == metrics(reference)
    assert json.loads((run / "manifest.json").read_text())["finished"]
    assert not temp_files(run), "resume should remove the partial files of the killed write"


@pytest.mark.parametrize("where", list(KILLS))
def test_sigkill_then_resume_matches_an_uninterrupted_run(
    where: str, recipe: Path, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    killed = run_cli("run", recipe, "--out", out, "--quiet", kill=KILLS[where])
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert_no_partial_outputs(out)
    if where.startswith(("checkpoint", "latest")):
        assert temp_files(out), "the kill was meant to land inside an atomic write"
        # the checkpoint written before the killed write is the one latest.json names, and loads
        last = latest_checkpoint(out / "base" / "checkpoints")
        assert last is not None and last.name == "step-00000004.json"
        assert load_checkpoint(last).meta["position"]["epoch"] == 1
    resumed = run_cli("run", recipe, "--resume", out, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert_same_as_reference(out, reference)
    log = (out / "run.log").read_text()
    assert "finished earlier" in log or where.startswith(("checkpoint", "latest", "final"))


def test_kill_from_outside_mid_epoch_then_twice_more(recipe: Path, reference: Path, tmp_path: Path) -> None:
    """An outside SIGKILL after the first checkpoint; then two more kills; each resume continues."""
    out = tmp_path / "run"
    proc = start_cli("run", recipe, "--out", out, "--quiet", kill="slow:0.05")
    wait_for(out / "base" / "checkpoints" / "latest.json", proc)
    code, _ = signal_and_wait(proc)
    assert code == -signal.SIGKILL
    assert_no_partial_outputs(out)
    assert not (out / "base" / "done.json").exists()
    again = run_cli("run", recipe, "--resume", out, "--quiet", kill=f"{SEARCH}:1")
    assert again.returncode == -signal.SIGKILL
    assert "resuming from" in (out / "run.log").read_text()
    again = run_cli("run", recipe, "--resume", out, "--quiet", kill=f"{STEP}:3")
    assert again.returncode == -signal.SIGKILL
    finished = run_cli("run", recipe, "--resume", out, "--quiet")
    assert finished.returncode == 0, finished.stderr
    assert_same_as_reference(out, reference)


def test_sigint_exits_130_with_the_resume_command(recipe: Path, reference: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    # two --set values that leave the recipe as it is: the printed command must carry them
    sets = ("--set", "run.name=tiny", "--set", "stages.base.samples=4")
    proc = start_cli("run", recipe, "--out", out, "--quiet", *sets, kill="slow:0.05")
    wait_for(out / "base" / "checkpoints" / "latest.json", proc)
    code, err = signal_and_wait(proc, signal.SIGINT)
    assert code == 130, err
    assert f"--resume {out}" in err
    assert "interrupted" in (out / "run.log").read_text()
    assert not (out / ".lock").exists()
    assert not temp_files(out)
    printed = " ".join(err.split()).split("Resume with: ganaug ", 1)[1]
    command = shlex.split(printed)
    assert command[-4:] == list(sets)
    resumed = run_cli(*command, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert_same_as_reference(out, reference)
