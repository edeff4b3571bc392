"""``ganaug aggregate`` on damaged sweeps: every run or stage left out is listed with why, test sets
of another size are kept out of paired figures, and unknown names or malformed files are errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click
import pytest

from ganaug.apps.aggregate import AggregateError, aggregate
from ganaug.apps.cli_sweep import MAX_SEEDS, parse_seeds
from ganaug.apps.sweep import parse_grid
from ganaug.runtime.errors import RecipeError, RunDirError
from tests.race_sweep import write_sweep

HEADER = "image,label,model,method,residual,discrimination,score"


def scores_of(sweep: Path, seed: int) -> Path:
    return sweep / "default" / f"seed-{seed}" / "race" / "scores.csv"


def damage(sweep: Path, seed: int, how: str) -> None:
    path = scores_of(sweep, seed)
    lines = path.read_text().splitlines()
    if how == "unfinished":
        (path.parent / "done.json").unlink()
    elif how == "truncated":
        path.write_text(
            "\n".join([lines[0], *[line for line in lines[1:] if int(line.split(",")[0][3:]) < 50]]) + "\n"
        )
    elif how == "header-only":
        path.write_text(HEADER + "\n")
    elif how == "all-nan":
        path.write_text(
            "\n".join([lines[0], *[",".join([*line.split(",")[:6], "nan"]) for line in lines[1:]]]) + "\n"
        )
    elif how == "one-class":
        path.write_text("\n".join([lines[0], *[line for line in lines[1:] if ",3," in line]]) + "\n")
    elif how == "not-a-number":
        path.write_text("\n".join([lines[0], lines[1].rsplit(",", 1)[0] + ",high", *lines[2:]]) + "\n")
    elif how == "no-folder":
        shutil.rmtree(sweep / "default" / f"seed-{seed}")


@pytest.mark.parametrize(
    ("how", "why"),
    [
        ("unfinished", "unfinished"),
        ("truncated", "test images, where the setting's other runs have 60"),
        ("header-only", "no usable score"),
        ("all-nan", "no usable score"),
        ("one-class", "all of one class"),
        ("not-a-number", "'high' is not a number"),
        ("no-folder", "its folder is missing"),
    ],
)
def test_a_broken_run_is_left_out_and_listed_with_why(tmp_path: Path, how: str, why: str) -> None:
    sweep = write_sweep(tmp_path)
    damage(sweep, 1, how)
    result = aggregate(sweep, resamples=20)
    (entry,) = result["left_out"]
    assert entry["seed"] == 1 and why in entry["why"]
    block = result["evaluate"]["race"]["race"]["default"]
    assert block["entries"]["gan/knn"]["auc"]["seeds"] == [0, 2]  # the other seeds still count
    assert why in (sweep / "aggregate.md").read_text()


def test_unknown_method_or_baseline_is_an_error_with_a_hint(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path)
    with pytest.raises(AggregateError, match=r"no score method 'anogn'.*did you mean 'anogan'"):
        aggregate(sweep, method="anogn")
    with pytest.raises(AggregateError, match=r"no model 'gn'.*known: gan"):
        aggregate(sweep, baselines=["gn"])


@pytest.mark.parametrize("body", [[1, 2], {"runs": "x"}, {"runs": [{"setting": "a"}]}, "[" * 100_000])
def test_a_malformed_sweep_manifest_is_a_clear_error(tmp_path: Path, body: object) -> None:
    sweep = write_sweep(tmp_path)
    (sweep / "sweep.json").write_text(body if isinstance(body, str) else json.dumps(body))
    with pytest.raises(RunDirError, match=r"sweep\.json"):
        aggregate(sweep)


def test_a_grid_key_given_twice_is_refused() -> None:
    with pytest.raises(RecipeError) as info:
        parse_grid(["stages.a.epochs=1,2", "stages.a.epochs=3"])
    assert "varied twice" in info.value.problems[0].message


def test_seed_lists_are_bounded() -> None:
    assert parse_seeds("0-2,7") == [0, 1, 2, 7]
    with pytest.raises(click.BadParameter, match=f"at most {MAX_SEEDS}"):
        parse_seeds("0-1000000000")
    with pytest.raises(click.BadParameter, match="0 to 2"):
        parse_seeds(str(2**64))
