"""Command-line edge cases answered with a message and an exit code, never a traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from ganaug.apps.cli import cli
from ganaug.numeric.thresholds import Threshold
from tests.killhooks.runner import TINY


def invoke(*args: object) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.mark.parametrize(
    "args",
    [
        ["score", "RUN", "--model", "base", "x.png", "--seed", str(2**66)],
        ["generate", "RUN", "--stage", "base", "-n", "1", "--out", "o", "--seed", str(2**66)],
        ["score", "RUN", "--model", "base", "x.png", "--device", "tpu"],
        ["run", "RECIPE", "--device", "tpu"],
        ["sweep", "RECIPE", "--device", "tpu"],
    ],
    ids=["score-seed", "generate-seed", "score-device", "run-device", "sweep-device"],
)
def test_out_of_range_options_are_usage_errors(tmp_path: Path, args: list[str]) -> None:
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY)
    args = [str(tmp_path) if a == "RUN" else str(recipe) if a == "RECIPE" else a for a in args]
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)


def test_out_and_resume_of_another_folder_are_refused(tmp_path: Path) -> None:
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY)
    result = invoke("run", recipe, "--out", tmp_path / "a", "--resume", tmp_path / "b")
    assert result.exit_code == 2 and "a resumed run stays in its own folder" in result.output
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "high", None])
def test_a_threshold_that_is_not_a_finite_number_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="finite number"):
        Threshold.from_json({"value": value, "rule": "f1-max", "method": "anogan", "positive": "3"})


def test_folders_list_dangling_links_and_nan_images_as_unreadable(tmp_path: Path) -> None:
    """A folder's links to nothing stay in the list, so reading them names them (test_model_api
    checks they and a NaN image are then skipped and listed, not scored)."""
    from ganaug.kit.images import image_files

    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(folder / "a.png")
    (folder / "dangling.png").symlink_to(tmp_path / "nowhere.png")
    (folder / "loop.png").symlink_to(folder / "loop.png")
    Image.fromarray(np.full((8, 8), np.nan, dtype=np.float32)).save(folder / "nan.tif")
    assert {p.name for p in image_files([folder])} == {"a.png", "dangling.png", "loop.png", "nan.tif"}


def test_a_thresholds_file_with_a_non_numeric_threshold_is_named(tmp_path: Path) -> None:
    import json

    from ganaug.runtime.errors import CheckpointError
    from ganaug_plugins.stages.thresholds import read_thresholds

    entry = {"value": "high", "rule": "f1-max", "method": "anogan", "positive": "3"}
    body = {"format": 1, "rule": "f1-max", "models": {"m": {"anogan": {"f1-max": entry}}}}
    (tmp_path / "thresholds.json").write_text(json.dumps(body))
    with pytest.raises(
        CheckpointError, match=r"thresholds\.json cannot be read: threshold value must be a finite"
    ):
        read_thresholds(tmp_path, "m")
