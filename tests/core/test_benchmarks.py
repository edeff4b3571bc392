"""The benchmark suite at tiny sizes (fields and sanity, no timings), and the searcher options it
measures: channels_last gives the same search, early stop saves steps and keeps the output shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import benchmarks.run as run
from benchmarks.common import Settings, build_nets, flops_of, queries
from benchmarks.markdown import to_markdown
from benchmarks.run import main
from benchmarks.search import step_flops
from ganaug_plugins.searchers.backprop import BackpropOptions, BackpropSearcher

TINY = Settings(
    size=16,
    search_steps=2,
    port_images=1,
    batched_images=8,
    chunk_sizes=(4,),
    iagan_chunk_sizes=(4,),
    train_steps=1,
    train_batches=(4,),
    memory_images=40,
    early_stop_images=4,
    early_stop_steps=30,
    matmul_n=64,
)


@pytest.mark.slow
def test_command_line_writes_every_figure_as_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run, "QUICK", TINY)
    out = tmp_path / "r.json"
    assert main(["--quick", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["settings"]["size"] == 16
    assert "| dcgan |" in to_markdown(r)
    assert r["matmul_gflops"] > 0
    assert [s["model"] for s in r["search"]] == ["dcgan", "iagan"]
    for s in r["search"]:
        assert set(s["batched_by_chunk"]) == {"4", "4_cl"}
        assert s["gflop_per_image_step"] > 0
        for key in (
            "port_style",
            "frozen_one_at_a_time",
            "batched_best",
            "speedup_vs_port",
            "fraction_of_matmul",
        ):
            assert s[key] > 0
    assert {(t["model"], t["batch"], t["channels_last"]) for t in r["train"]} == {
        (m, 4, cl) for m in ("dcgan", "iagan") for cl in (False, True)
    }
    assert all(t["images_per_s"] > 0 and t["gflop_per_image"] > 0 for t in r["train"])
    labels = [c["component"] for c in r["iagan_components"]]
    assert labels[0].startswith("G encoder") and labels[-2:] == ["G total", "D total"]
    parts = sum(c["gflop_per_image"] for c in r["iagan_components"][:-2])
    assert parts == pytest.approx(r["iagan_components"][-2]["gflop_per_image"], rel=0.05)
    assert r["early_stop"]["image_steps_early"] <= r["early_stop"]["image_steps_fixed"] == 4 * 30
    assert r["memory"]["generated_shape"] == [40, 1, 16, 16]
    assert r["memory"]["peak_rss_mb"] >= 0


def test_flops_of_a_search_step_match_the_networks() -> None:
    g, d = build_nets("dcgan", 16, torch.device("cpu"))
    with torch.no_grad():
        forward = flops_of(lambda: d(g(torch.randn(4, int(g.latent_dim))))) / 4
    step = step_flops(g, d, 16, torch.device("cpu"))
    # frozen networks: the backward computes input gradients only, about one more forward
    assert 1.8 * forward < step < 2.5 * forward


def _search(**kw: object) -> tuple[BackpropSearcher, object]:
    g, d = build_nets("dcgan", 16, torch.device("cpu"))
    searcher = BackpropSearcher(BackpropOptions(**{"steps": 40, "chunk_size": 4, "record_every": 5, **kw}))
    return searcher, searcher.search(g, d, queries(6, 16), seed=0)


def test_channels_last_search_matches_contiguous() -> None:
    _, a = _search()
    _, b = _search(channels_last=True)
    torch.testing.assert_close(b.z, a.z, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(b.score, a.score, rtol=1e-3, atol=1e-3)


def test_channels_last_leaves_the_networks_as_they_were() -> None:
    g, d = build_nets("dcgan", 16, torch.device("cpu"))
    before = [p.data_ptr() for p in g.parameters()]
    BackpropSearcher(BackpropOptions(steps=2, channels_last=True)).search(g, d, queries(3, 16), seed=0)
    assert [p.data_ptr() for p in g.parameters()] == before
    assert all(p.is_contiguous() for p in g.parameters())


def test_early_stop_saves_steps_and_keeps_shapes() -> None:
    full, a = _search(steps=200)
    early, b = _search(steps=200, early_stop_patience=3, early_stop_tol=0.5)  # stops almost at once
    assert full.steps_run == 6 * 200
    assert early.steps_run < full.steps_run
    assert b.loss_history.shape == a.loss_history.shape
    assert torch.isfinite(b.score).all()


def test_early_stop_is_off_by_default() -> None:
    assert BackpropOptions().early_stop_patience is None


@pytest.mark.slow
def test_quickstart_benchmark_times_alone_and_beside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The contention benchmark on a tiny recipe: both runs measured, stage times read back."""
    import sys

    import benchmarks.quickstart as qs
    from tests.killhooks.runner import TINY as TINY_RECIPE

    recipe, out = tmp_path / "tiny.toml", tmp_path / "qs.json"
    recipe.write_text(TINY_RECIPE)
    monkeypatch.setattr(sys, "argv", ["qs", "--recipe", str(recipe), "--threads", "1", "--out", str(out)])
    qs.main()
    runs = json.loads(out.read_text())["runs"]
    assert [(r["threads"], r["beside"]) for r in runs] == [(1, False), (1, True)]
    assert all(r["seconds"] > 0 for r in runs)
    assert set(runs[0]["stages"]) == {"base", "aug", "more", "eval"}
