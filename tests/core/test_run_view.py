"""The whole-run view: stage i of N and the time left, on a terminal (a run bar) and in a pipe
(plain log lines), the stage-times table, and the arithmetic behind the estimate."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from ganaug.runner.engine import run_recipe
from ganaug.runtime import run_view
from ganaug.runtime.progress import RichBars
from ganaug.runtime.run_view import RunView, clock, plans
from ganaug.testing import plugin_host, recipe_from
from tests.killhooks.runner import TINY, run_cli


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock_ = Clock()
    monkeypatch.setattr(run_view.time, "perf_counter", clock_)
    return clock_


def test_time_left_is_the_remaining_work_at_the_measured_speed(fake_clock: Clock) -> None:
    view = RunView(plans([("a", "train", 100.0), ("b", "train", 300.0), ("c", "other", None)]))
    assert view.weight(2) == 200.0  # no estimate: the mean of the known ones
    view.begin(0)
    assert view.left() == (None, None)  # nothing measured yet
    fake_clock.now = 10.0
    view.end(0)  # 0.1 s per unit
    view.begin(1)
    assert view.left() == pytest.approx((30.0, 50.0))
    fake_clock.now = 25.0
    view.progress(0.5)  # 15 s for 150 units: still 0.1 s per unit
    assert view.left() == pytest.approx((15.0, 35.0))
    assert view.line() == "stage 2/3 b (train) · run 25s · left: stage 15s, run 35s"
    view.progress(0.2)  # never moves back
    assert view.fraction == 0.5
    assert view.done_share() == pytest.approx((100 + 150) / 600)


def test_restored_stages_count_as_done_and_are_not_timed(fake_clock: Clock) -> None:
    view = RunView(plans([("a", "train", 100.0), ("b", "train", 100.0)]))
    view.end(0, restored=True)
    view.begin(1)
    fake_clock.now = 4.0
    view.end(1)
    assert view.done_share() == 1.0
    assert view.table() == [
        "| stage | kind | time | share |",
        "|---|---|---|---|",
        "| a | train | restored | — |",
        "| b | train | 4s | 100% |",
        "| **total** | | 4s | |",
    ]


def test_stages_timed_in_their_own_processes_share_the_time_left() -> None:
    view = RunView(plans([("a", "train", 100.0), ("b", "train", 100.0), ("c", "train", 200.0)]))
    assert view.left_side_by_side(2) is None
    view.ran(0, 20.0)  # 0.2 s per unit, measured in another process
    assert view.stages[0].seconds == 20.0
    assert view.left_side_by_side(2) == pytest.approx(300 * 0.2 / 2)  # two jobs share the rest
    view.ran(1, 20.0)
    assert view.left_side_by_side(2) == pytest.approx(200 * 0.2)  # one stage left: one job works


def test_clock_text() -> None:
    assert [clock(None), clock(4.4), clock(65), clock(3725)] == ["?", "4s", "1m05s", "1h02m"]


@pytest.mark.slow
def test_a_piped_run_prints_plain_stage_lines_and_the_stage_times(tmp_path: Path) -> None:
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY)
    result = run_cli("run", recipe, "--out", tmp_path / "run")
    assert result.returncode == 0, result.stderr
    err = result.stderr
    for i, (name, kind) in enumerate(
        [("base", "train"), ("aug", "augment"), ("more", "train"), ("eval", "evaluate")]
    ):
        assert f"stage {i + 1}/4 {name} ({kind})" in err
    assert "left: stage" in err and "\x1b[" not in err  # plain text: no terminal control codes
    assert "stage times (this session)" in err and "| **total** |" in err
    log = (tmp_path / "run" / "run.log").read_text()
    assert "stage 4/4 eval (evaluate)" in log
    report = (tmp_path / "run" / "report.md").read_text()
    assert "## Stage times" in report and "| eval | evaluate |" in report


@pytest.mark.slow
def test_a_terminal_shows_a_run_bar_with_the_stage_and_time_left(tmp_path: Path) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=240, color_system=None)
    host = plugin_host()
    run_recipe(recipe_from(TINY, host), out=tmp_path / "run", host=host, progress=RichBars(console))
    shown = buffer.getvalue()
    assert "\x1b[" in shown  # drawn as a live display
    for i, name in enumerate(["base", "aug", "more", "eval"]):
        assert f"stage {i + 1}/4 {name}" in shown
    assert "left: stage" in shown
