"""Trackers: a plugin kind like any other; the TensorBoard tracker's event files; failures contained."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

from ganaug.api.hookspecs import Register, hookimpl
from ganaug.api.tracking import Trackers, numeric_leaves
from ganaug.host.loading import make_plugin_host
from ganaug.recipe.load import parse_recipe
from ganaug.runner.engine import run_recipe
from ganaug.runtime.errors import PluginError
from tests.killhooks.runner import ROOT, TINY

TRACKED = TINY.replace('device = "cpu"', 'device = "cpu"\ntrackers = ["tensorboard"]')


@attrs.frozen
class NoOptions:
    """No options."""


CALLS: list[tuple[str, Any]] = []


class RecordingTracker:
    def __init__(self, options: NoOptions) -> None:
        CALLS.clear()

    def start(self, run_dir: Path, recipe: dict[str, Any], tags: dict[str, Any]) -> None:
        CALLS.append(("start", tags))

    def scalars(self, prefix: str, step: int, values: dict[str, float]) -> None:
        CALLS.append(("scalars", (prefix, step, sorted(values))))

    def image(self, tag: str, step: int, png: Path) -> None:
        CALLS.append(("image", (tag, step, png.is_file())))

    def finish(self, tags: dict[str, Any], metrics: dict[str, float]) -> None:
        CALLS.append(("finish", metrics))


class BrokenTracker(RecordingTracker):
    def scalars(self, prefix: str, step: int, values: dict[str, float]) -> None:
        raise RuntimeError("dashboard is down")


class TrackerPlugin:
    @hookimpl
    def register_trackers(self, register: Register) -> None:
        register("recording", RecordingTracker, options=NoOptions)
        register("broken", BrokenTracker, options=NoOptions)


def _host() -> Any:
    return make_plugin_host(entry_points=False, extra=[("trackertest", TrackerPlugin())])


def test_numeric_leaves_flattens_metrics() -> None:
    metrics = {
        "eval": {"m": {"anogan": {"auc": 0.7, "roc_curve": {"fpr": [0, 1]}, "n": {"3": 4}}}},
        "x": None,
    }
    assert numeric_leaves(metrics) == {"eval/m/anogan/auc": 0.7, "eval/m/anogan/n/3": 4.0}


def test_no_trackers_do_nothing() -> None:
    track = Trackers()
    assert not track
    track.scalars("a", 1, {"x": 1.0})
    track.finish({"a": {"b": 1}})


@pytest.mark.slow
def test_a_third_party_tracker_sees_the_run_and_a_broken_one_is_left_out(tmp_path: Path) -> None:
    host = _host()
    text = TINY.replace('device = "cpu"', 'device = "cpu"\ntrackers = ["recording", "broken"]')
    result = run_recipe(
        parse_recipe(text, registry=host.registry), out=tmp_path / "run", host=host, tags={"k": 1}
    )
    assert CALLS[0] == ("start", {"seed": 1, "k": 1})
    epochs = [step for kind, (prefix, step, _) in [c for c in CALLS if c[0] == "scalars"] if prefix == "base"]
    assert epochs == [1, 2, 3]
    base = next(c[1] for c in CALLS if c[0] == "scalars" and c[1][0] == "base")
    assert {"d_loss", "g_loss", "weight"} <= set(base[2])
    assert ("image", ("base/samples", 3, True)) in CALLS
    assert any(c[0] == "scalars" and c[1][0] == "aug" for c in CALLS)  # the search loss curve
    final = CALLS[-1]
    assert final[0] == "finish" and "eval/base/anogan/auc" in final[1]
    log = (result.run_dir / "run.log").read_text()
    assert "tracker 'broken' failed in scalars (left out from now on): dashboard is down" in log
    assert "run finished" in log


@pytest.mark.slow
def test_tensorboard_event_files_hold_losses_samples_and_metrics(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    host = make_plugin_host(entry_points=False)
    result = run_recipe(parse_recipe(TRACKED, registry=host.registry), out=tmp_path / "run", host=host)
    events = EventAccumulator(str(result.run_dir / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    scalars = events.Tags()["scalars"]
    assert [e.step for e in events.Scalars("base/d_loss")] == [1, 2, 3]
    assert "more/g_loss" in scalars and "eval/metrics/base/anogan/auc" in scalars
    auc = events.Scalars("eval/metrics/base/anogan/auc")[0].value
    metrics = result.metrics["eval"]["base"]["anogan"]["auc"]
    assert auc == pytest.approx(metrics, abs=1e-6)
    assert "base/samples" in events.Tags()["images"]


def test_missing_tensorboard_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    from ganaug_plugins.trackers.tensorboard import TensorBoardTracker

    with pytest.raises(PluginError, match=r"ganaug\[tensorboard\]"):
        TensorBoardTracker()


def test_no_optional_extra_is_imported_unless_asked(tmp_path: Path) -> None:
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY.replace("epochs = 3", "epochs = 1").replace("epochs = 2", "epochs = 1"))
    code = (
        "import sys; from ganaug.apps.cli import main\n"
        "sys.argv = ['ganaug', 'run', sys.argv[1], '--out', sys.argv[2], '--quiet']\n"
        "try: main()\nexcept SystemExit: pass\n"
        "import ganaug.apps.sweep, ganaug.apps.aggregate\n"
        "bad = [m for m in ('tensorboard', 'torch.utils.tensorboard', 'submitit') if m in sys.modules]\n"
        "print('imported:', bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(recipe), str(tmp_path / "run")],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert "imported: []" in out.stdout, out.stderr
    assert (tmp_path / "run" / "manifest.json").is_file()
