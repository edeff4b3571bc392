"""Tampered run files whose digests still match are CheckpointErrors (exit code 6), never tracebacks."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import safetensors.torch
import torch

from ganaug.host.loading import make_plugin_host
from ganaug.kit.training.checkpoint import latest_checkpoint
from ganaug.recipe.load import parse_recipe
from ganaug.runner.engine import run_recipe
from ganaug.runtime.errors import CheckpointError
from tests.killhooks.runner import TINY

HOST = make_plugin_host(entry_points=False)
RECIPE = parse_recipe(TINY, registry=HOST.registry)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tamper") / "run"
    run_recipe(RECIPE, out=out, host=HOST)
    return out


def _copy(finished: Path, tmp_path: Path, redo: tuple[str, ...], digests: bool = False) -> Path:
    """A copy of the finished run, ``redo`` stages unfinished; without ``digests`` the final-file
    digests are dropped from done.json (as a run made before them), so the checks behind them run."""
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    for stage in redo:  # as if killed before these stages finished
        (run / stage / "done.json").unlink()
    for done in [] if digests else run.glob("*/done.json"):
        done.write_text(json.dumps({k: v for k, v in json.loads(done.read_text()).items() if k != "files"}))
    json_path = run / "manifest.json"
    json_path.write_text(json.dumps({**json.loads(json_path.read_text()), "finished": None}))
    return run


def _edit_checkpoint(run: Path, meta: Callable[[dict], None] = lambda m: None, tensors=None) -> None:
    path = latest_checkpoint(run / "base" / "checkpoints")
    assert path is not None
    data = json.loads(path.read_text())
    meta(data)
    if tensors is not None:
        blob_path = path.parent / data["tensors"]
        changed = tensors(safetensors.torch.load(blob_path.read_bytes()))
        blob = safetensors.torch.save(changed)
        blob_path.write_bytes(blob)
        data["sha256"] = hashlib.sha256(blob).hexdigest()  # a consistent digest
    path.write_text(json.dumps(data))


def _resume_fails(run: Path, match: str) -> None:
    with pytest.raises(CheckpointError, match=match):
        run_recipe(RECIPE, resume=run, host=HOST)


def test_position_missing_or_not_a_number(finished: Path, tmp_path: Path) -> None:
    run = _copy(finished, tmp_path, ("base", "eval"))
    _edit_checkpoint(run, lambda m: m.pop("position"))
    _resume_fails(run, "records no training position")
    _edit_checkpoint(run, lambda m: m.update(position={**_position(finished), "step": "many"}))
    _resume_fails(run, "position 'step' is not a valid number")


def _position(finished: Path) -> dict:
    path = latest_checkpoint(finished / "base" / "checkpoints")
    assert path is not None
    return json.loads(path.read_text())["position"]


def test_a_learning_rate_that_is_not_a_number(finished: Path, tmp_path: Path) -> None:
    run = _copy(finished, tmp_path, ("base", "eval"))

    def fast(meta: dict) -> None:
        for groups in meta["param_groups"].values():
            groups[0]["lr"] = "fast"

    _edit_checkpoint(run, fast)
    _resume_fails(run, "lr is not a number: 'fast'")


def test_random_state_missing_or_of_the_wrong_type(finished: Path, tmp_path: Path) -> None:
    run = _copy(finished, tmp_path, ("base", "eval"))
    _edit_checkpoint(run, tensors=lambda t: {k: v for k, v in t.items() if k != "rng/torch"})
    _resume_fails(run, "no valid random state")
    _edit_checkpoint(run, tensors=lambda t: {**t, "rng/torch": torch.zeros(5)})
    _resume_fails(run, "no valid random state")


def test_a_checkpoint_with_nan_weights_is_not_resumed(finished: Path, tmp_path: Path) -> None:
    run = _copy(finished, tmp_path, ("base", "eval"))

    def poison(tensors: dict) -> dict:
        key = next(k for k in tensors if k.startswith("generator/") and tensors[k].is_floating_point())
        return {**tensors, key: torch.full_like(tensors[key], float("nan"))}

    _edit_checkpoint(run, tensors=poison)
    _resume_fails(run, "holds NaN/inf weights")


def test_training_json_and_train_mean_must_hold_their_keys(finished: Path, tmp_path: Path) -> None:
    run = _copy(finished, tmp_path, ("eval",))
    info = json.loads((run / "base" / "training.json").read_text())
    (run / "base" / "training.json").write_text(json.dumps({k: v for k, v in info.items() if k != "image"}))
    _resume_fails(run, "no valid 'image' entry")
    (run / "base" / "training.json").write_text(json.dumps(info))
    safetensors.torch.save_file({"other": torch.zeros(1)}, run / "base" / "train_mean.safetensors")
    _resume_fails(run, "holds no 'train_mean' tensor")


def test_a_corrupt_augmented_png_is_named(finished: Path, tmp_path: Path) -> None:
    run = _copy(finished, tmp_path, ("eval",))
    png = sorted((run / "aug" / "images").glob("*.png"))[0]
    png.write_bytes(png.read_bytes()[:20])
    _resume_fails(run, f"{png.name} is unreadable")


@pytest.mark.parametrize("name", ["base/generator.safetensors", "aug/images", "base/training.json"])
def test_a_final_file_changed_after_its_stage_finished_is_refused(
    finished: Path, tmp_path: Path, name: str
) -> None:
    """done.json keeps the SHA-256 of every final file: a replaced or edited one is named on resume
    and when the model is loaded, before anything trusts it."""
    from ganaug.apps.model import load_model

    run = _copy(finished, tmp_path, ("eval",), digests=True)
    target = run / name
    if target.is_dir():
        target = sorted(target.glob("*.png"))[0]
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF  # one bit pattern changed, size and name kept
    target.write_bytes(bytes(data))
    _resume_fails(run, rf"{target.name} changed after stage '{name.split('/')[0]}' finished")
    if name.startswith("base"):
        with pytest.raises(CheckpointError, match="changed after stage 'base' finished"):
            load_model(run, "base", host=HOST)


def test_a_missing_final_file_is_refused(finished: Path, tmp_path: Path) -> None:
    run = _copy(finished, tmp_path, ("eval",), digests=True)
    (run / "base" / "discriminator.safetensors").unlink()
    _resume_fails(run, r"discriminator\.safetensors is missing, but stage 'base' finished with it")


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("lr", 1e308, "hyperparameters .* differ from the recipe's"),
        ("betas", [5, 5], "differ from the recipe's"),
    ],
)
def test_hyperparameters_other_than_the_recipes_are_refused(
    finished: Path, tmp_path: Path, key: str, value: object, match: str
) -> None:
    run = _copy(finished, tmp_path, ("base", "eval"))

    def edit(meta: dict) -> None:
        for groups in meta["param_groups"].values():
            groups[0][key] = value

    _edit_checkpoint(run, edit)
    _resume_fails(run, match)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [("batch", 99_999, "batch 99999 is beyond"), ("epoch", 10**12, "epoch 1000000000000 is beyond")],
)
def test_a_position_out_of_range_is_refused(
    finished: Path, tmp_path: Path, field: str, value: int, match: str
) -> None:
    run = _copy(finished, tmp_path, ("base", "eval"))
    _edit_checkpoint(run, lambda m: m["position"].update({field: value}))
    _resume_fails(run, match)


def test_run_files_of_the_wrong_shape_or_type_are_named(finished: Path, tmp_path: Path) -> None:
    from ganaug.runtime.errors import RunDirError

    deep = "[" * 100_000 + "]" * 100_000
    cases = [
        ("manifest.json", "[1, 2]", r"manifest\.json holds a list"),
        ("manifest.json", deep, r"manifest\.json is nested too deeply"),
        ("base/training.json", deep, r"training\.json is missing or unreadable: nested too deeply"),
        ("aug/summary.json", "garbage", r"summary\.json is missing or unreadable"),
    ]
    for i, (name, text, match) in enumerate(cases):
        run = _copy(finished, tmp_path / str(i), ("eval",))
        (run / name).write_text(text)
        with pytest.raises((CheckpointError, RunDirError), match=match):
            run_recipe(RECIPE, resume=run, host=HOST)


def test_an_augmented_png_of_another_size_and_a_train_mean_of_another_shape(
    finished: Path, tmp_path: Path
) -> None:
    from PIL import Image

    run = _copy(finished, tmp_path / "png", ("eval",))
    png = sorted((run / "aug" / "images").glob("*.png"))[0]
    Image.new("L", (20, 20)).save(png)
    _resume_fails(run, rf"{png.name} is \(1, 20, 20\), the run's images are \(1, 16, 16\)")
    run = _copy(finished, tmp_path / "mean", ("eval",))
    safetensors.torch.save_file({"train_mean": torch.zeros(1, 8, 8)}, run / "base" / "train_mean.safetensors")
    _resume_fails(run, r"train_mean is \(1, 8, 8\), the stage's images are \(1, 16, 16\)")
