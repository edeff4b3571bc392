"""``run.jobs``: independent stages side by side in processes of their own, with the results of a
run that takes them one at a time; the stage graph they are scheduled from; failures and resume."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from ganaug.host.loading import make_plugin_host
from ganaug.recipe.load import load_recipe, parse_recipe
from ganaug.runner.engine import run_recipe
from ganaug.runner.stage_graph import needs, ready, referenced
from ganaug.runtime.cpu_idle import IdleGate
from ganaug.testing import tiny_recipe
from tests.killhooks.runner import WAIT_S, command, env, metrics, run_cli, wait_for

DATA = {
    "source": "mnist-5k",
    "classes": ["8", "3"],
    "image_size": 16,
    "split": {"train": {"8": 16}, "test": {"8": 4, "3": 4}, "holdout": {"3": 4}},
}
AUGMENT = {
    "kind": "augment",
    "name": "aug",
    "model": "a",
    "queries": [{"split": "holdout", "classes": ["3"]}],
    "label": "8",
    "searcher": {"name": "backprop", "steps": 5},
    "pairs": 2,
    "curves": 2,
}
EVALUATE = {
    "kind": "evaluate",
    "name": "eval",
    "models": ["a", "b", "c"],
    "test": {"split": "test"},
    "positive": "3",
    "evaluators": [
        {"name": "anogan", "searcher": {"name": "backprop", "steps": 5}},
        {"name": "knn", "augmented": True},
        {"name": "roc", "bootstrap": 20},
    ],
}


def train(name: str, batch: int, add: tuple[str, ...] = ()) -> dict[str, Any]:
    """A 2-epoch DCGAN stage on the 16 train 8s (plus the images of the stages in ``add``)."""
    return {
        "kind": "train",
        "name": name,
        "data": {"split": "train", "classes": ["8"], **({"add": list(add)} if add else {})},
        "generator": {"name": "dcgan", "latent_dim": 8, "width": 8},
        "discriminator": {"name": "dcgan", "width": 8},
        "loss": {"name": "bce"},
        "weighter": {"name": "none"},
        "epochs": 2,
        "batch_size": batch,
        "checkpoint_every": 1,
        "sample_every": 2,
        "samples": 4,
    }


def recipe_text(b_batch: int = 4) -> str:
    """a and b train side by side, aug searches a's latent space, c trains on it, eval scores all three."""
    stages = (train("a", 4), train("b", b_batch), AUGMENT, train("c", 4, add=("aug",)), EVALUATE)
    return tiny_recipe(*stages, data=DATA, run={"name": "side", "seed": 2})


def _recipe(tmp_path: Path, b_batch: int = 4) -> Path:
    path = tmp_path / "side.toml"
    path.write_text(recipe_text(b_batch))
    return path


def _weights(run: Path) -> dict[str, bytes]:
    files = [run / s / f"{n}.safetensors" for s in "abc" for n in ("generator", "discriminator")]
    files += [*sorted((run / "aug" / "images").glob("*.png")), run / "eval" / "scores.csv"]
    return {str(p.relative_to(run)): p.read_bytes() for p in files}


def test_the_stage_graph_follows_every_reference() -> None:
    recipe = parse_recipe(recipe_text(), registry=make_plugin_host(entry_points=False).registry)
    stages = [(s.name, s.options) for s in recipe.stages]
    assert [referenced(options) for _, options in stages] == [[], [], ["a"], ["aug"], ["a", "b", "c"]]
    # by what the named stage produces: c names the augmentation's images, eval the models
    assert [referenced(options, produces="model") for _, options in stages] == [
        [],
        [],
        ["a"],
        [],
        ["a", "b", "c"],
    ]
    assert referenced(stages[3][1], produces="images") == ["aug"]
    graph = needs(stages)
    assert graph["c"] == {"aug", "a"}  # through the augmentation to the model that made it
    assert graph["eval"] == {"a", "b", "c", "aug"}
    assert ready(["a", "b", "aug", "c", "eval"], set(), graph) == ["a", "b"]
    assert ready(["aug", "c", "eval"], {"a", "b"}, graph) == ["aug"]


@pytest.mark.slow
def test_side_by_side_gives_the_numbers_of_one_at_a_time(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path)
    one, two = tmp_path / "one", tmp_path / "two"
    assert run_cli("run", recipe, "--out", one, "-q").returncode == 0
    done = run_cli("run", recipe, "--out", two, "-q", "--set", "run.jobs=2", "--set", "run.extra_jobs=always")
    assert done.returncode == 0, done.stderr
    assert _weights(two) == _weights(one)
    assert metrics(two) == metrics(one)
    log = (two / "run.log").read_text()
    assert "running: a, b" in log  # the two independent stages ran at once
    manifest = json.loads((two / "manifest.json").read_text())
    assert all(manifest["stages"][s]["seconds"] > 0 for s in ("a", "b", "aug", "c", "eval"))
    assert manifest["finished"] and all(
        (two / s / "done.json").is_file() for s in ("a", "b", "aug", "c", "eval")
    )
    assert "| **total** |" in (two / "report.md").read_text()

    (two / "eval" / "done.json").unlink()  # resume: only the evaluation runs again
    again = run_cli(
        "run", recipe, "--resume", two, "-q", "--set", "run.jobs=2", "--set", "run.extra_jobs=always"
    )
    assert again.returncode == 0, again.stderr
    assert _weights(two) == _weights(one)
    tail = (two / "run.log").read_text()[len(log) :]
    assert "stage eval (evaluate) started" in tail and not re.search(r"stage [abc] \(train\) started", tail)


@pytest.mark.slow
def test_a_failing_stage_stops_the_run_with_its_own_error(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, b_batch=64)  # b: 16 images cannot fill a batch of 64
    out = tmp_path / "run"
    done = run_cli("run", recipe, "--out", out, "-q", "--set", "run.jobs=2")
    assert done.returncode != 0
    assert "fewer than batch_size 64" in done.stderr and "Traceback" not in done.stderr
    assert not (out / "b" / "done.json").exists() and not (out / ".workers").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["finished"] is None
    assert not (out / "eval").exists() or not (out / "eval" / "done.json").exists()
    assert tomllib.loads((out / "recipe.toml").read_text())["run"]["jobs"] == 2


def _as_from_a_terminal() -> None:
    """The child hears SIGINT as a terminal's Ctrl-C (a test session started in a script's
    background inherits SIGINT ignored, and the child would run to the end)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_ctrl_c_stops_every_stage_at_a_checkpoint_and_resume_finishes(tmp_path: Path) -> None:
    recipe, out, reference = _recipe(tmp_path), tmp_path / "run", tmp_path / "reference"
    args = ["run", recipe, "--out", out, "-q", "--set", "run.jobs=2", "--set", "stages[0].epochs=40"]
    proc = subprocess.Popen(
        command(*args), env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=_as_from_a_terminal,
    )  # fmt: skip
    wait_for(out / "a" / "checkpoints" / "latest.json", proc)
    proc.send_signal(signal.SIGINT)  # the engine alone, as a terminal's Ctrl-C reaches it
    _, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode != 0 and "--resume" in err and "Traceback" not in err
    assert not (out / "a" / "done.json").exists() and (out / "a" / "checkpoints" / "latest.json").exists()
    assert not (out / ".workers").exists()
    done = run_cli(*[a if a != "--out" else "--resume" for a in args])
    assert done.returncode == 0, done.stderr
    assert run_cli("run", recipe, "--out", reference, "-q", "--set", "stages[0].epochs=40").returncode == 0
    assert _weights(out) == _weights(reference)  # interrupted and resumed: the same numbers


@pytest.mark.slow
def test_when_idle_holds_a_stage_back_while_no_core_is_idle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default ``extra_jobs = "when-idle"`` on a machine that never has an idle core: one stage
    at a time, each held-back stage said once in the log, and the numbers unchanged."""
    monkeypatch.setattr(IdleGate, "open", lambda self: False)
    host = make_plugin_host(entry_points=False)
    recipe = load_recipe(_recipe(tmp_path), overrides=["run.jobs=2"], registry=host.registry)
    assert recipe.run.extra_jobs == "when-idle"
    result = run_recipe(recipe, out=tmp_path / "busy", host=host)
    log = (result.run_dir / "run.log").read_text()
    assert "running: a, b" not in log and "running: a\n" in log
    assert log.count("stage b waits for an idle CPU core") == 1
    one = tmp_path / "one"
    assert run_cli("run", _recipe(tmp_path), "--out", one, "-q").returncode == 0
    assert _weights(result.run_dir) == _weights(one)
