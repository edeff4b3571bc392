"""AnoGAN scoring, the L1 baseline and ROC evaluation on cases whose answer is known."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import roc_auc_score

from ganaug.api.capabilities import Method, ScoringEvaluator
from ganaug.api.interfaces import EvalContext, ImageSet, ImageSpec, TrainedModel
from ganaug.api.options import ComponentRef
from ganaug.host.loading import make_plugin_host
from ganaug.kit.tables import read_scores_csv, write_scores_csv
from ganaug.numeric.stats import rank_auc
from ganaug.runtime.errors import GanaugError
from ganaug.runtime.progress import Progress
from ganaug.testing.toys import LATENT, SIZE, ConvDiscriminator, SubspaceGenerator
from ganaug_plugins.evaluators.anogan import AnoGANEvaluator, AnoGANOptions
from ganaug_plugins.evaluators.baseline import L1MeanEvaluator, L1MeanOptions
from ganaug_plugins.evaluators.roc import RocEvaluator, RocOptions, bootstrap_ci, roc_metrics
from ganaug_plugins.searchers.backprop import BackpropOptions
from ganaug_plugins.stages.evaluate_report import markdown_report

BUILTIN_METHODS = (
    Method("anogan", "AnoGAN"),
    Method("anogan@init", "AnoGAN@init", role="control"),
    Method("l1-mean", "L1-mean", role="baseline"),
)


def known_case(n: int = 12) -> tuple[TrainedModel, ImageSet]:
    """Class A = images the generator makes; class B = uniform noise it cannot make."""
    g = SubspaceGenerator()
    gen = torch.Generator().manual_seed(4)
    with torch.no_grad():
        a = g(torch.randn(n, LATENT, generator=gen) * 0.7)
    b = torch.rand(n, 1, SIZE, SIZE, generator=gen) * 2 - 1
    test = ImageSet(
        torch.cat([a, b]),
        torch.tensor([0] * n + [1] * n),
        tuple(f"a{i}" for i in range(n)) + tuple(f"b{i}" for i in range(n)),
        ("A", "B"),
    )
    model = TrainedModel("gan", g, ConvDiscriminator(), ImageSpec(1, SIZE), train_mean=a.mean(0))
    return model, test


def context(tmp_path: Path, models: dict[str, TrainedModel], test: ImageSet) -> EvalContext:
    registry = make_plugin_host(builtins=["ganaug_plugins.searchers.plugin"], entry_points=False).registry

    def build(ref: ComponentRef, **kw: Any) -> Any:
        return registry.get(ref.kind, ref.name).build(ref.options, **kw)

    return EvalContext(
        models=models,
        test=test,
        positive="B",
        dir=tmp_path,
        device=torch.device("cpu"),
        seed=0,
        log=logging.getLogger("test"),
        progress=Progress(),
        build=build,
    )


def anogan(steps: int = 70) -> AnoGANEvaluator:
    ref = ComponentRef("backprop", options=BackpropOptions(steps=steps), kind="latent_searchers")
    return AnoGANEvaluator(AnoGANOptions(searcher=ref, curves=4, samples=4))


def test_anogan_scores_separate_a_reproducible_class_from_noise(tmp_path: Path) -> None:
    model, test = known_case()
    ctx = context(tmp_path, {"gan": model}, test)
    anogan().evaluate(ctx)
    L1MeanEvaluator(L1MeanOptions()).evaluate(ctx)
    RocEvaluator(RocOptions(bootstrap=200)).evaluate(ctx)

    methods = {row["method"] for row in ctx.scores}
    assert methods == {"anogan", "anogan@init", "l1-mean"}
    assert len(ctx.scores) == 3 * len(test)
    rows = [r for r in ctx.scores if r["method"] == "anogan"]
    assert {r["image"] for r in rows} == set(test.ids)
    for r in rows:
        assert r["score"] == pytest.approx(0.8 * r["residual"] + 0.2 * r["discrimination"], rel=1e-5)
    init = {r["image"]: r["score"] for r in ctx.scores if r["method"] == "anogan@init"}
    assert all(r["score"] < init[r["image"]] for r in rows)  # the search lowered every score

    found = ctx.metrics["gan"]["anogan"]
    assert found["auc"] > 0.95
    assert found["auc_ci_low"] <= found["auc"] <= found["auc_ci_high"]
    assert found["mean_score"]["B"] > 3 * found["mean_score"]["A"]
    assert found["n"] == {"A": 12, "B": 12}
    assert found["roc_curve"]["fpr"][0] == 0.0 and found["roc_curve"]["tpr"][-1] == 1.0
    assert len(found["search_loss"]["mean"]) == len(found["search_loss"]["steps"]) == 8
    assert ctx.metrics["gan"]["l1-mean"]["auc"] is not None
    names = {p.name for p in ctx.files}
    assert {"search-loss-gan.png", "reconstructions-gan.png", "roc.png", "scores-by-class.png"} <= names
    for path in ctx.files:
        with Image.open(path) as img:
            assert img.size[0] > 50


def test_l1_mean_baseline_scores(tmp_path: Path) -> None:
    model, test = known_case(4)
    model.train_mean = torch.zeros(1, SIZE, SIZE)
    ctx = context(tmp_path, {"m": model}, test)
    L1MeanEvaluator(L1MeanOptions()).evaluate(ctx)
    scores = torch.tensor([r["score"] for r in ctx.scores])
    torch.testing.assert_close(scores, test.images.abs().flatten(1).mean(1))
    assert [r["label"] for r in ctx.scores] == ["A"] * 4 + ["B"] * 4
    model.train_mean = None
    ctx2 = context(tmp_path, {"m": model}, test)
    L1MeanEvaluator(L1MeanOptions()).evaluate(ctx2)
    assert ctx2.scores == []  # no mean image: skipped with a warning, not crashed


def test_rank_auc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, size=(20, 40)).astype(float)  # many ties
    positive = rng.random((20, 40)) < 0.4
    ours = rank_auc(scores, positive)
    for row in range(20):
        assert ours[row] == pytest.approx(roc_auc_score(positive[row], scores[row]))
    one_class = rank_auc(np.ones((1, 5)), np.zeros((1, 5), dtype=bool))
    assert np.isnan(one_class[0])


def test_roc_metrics_known_answers() -> None:
    labels = ["N"] * 5 + ["P"] * 5
    perfect = roc_metrics(np.arange(10.0), labels, "P", 300, 0.95, seed=1)
    assert perfect["auc"] == 1.0 and perfect["auc_ci_low"] == 1.0
    reversed_ = roc_metrics(-np.arange(10.0), labels, "P", 300, 0.95, seed=1)
    assert reversed_["auc"] == 0.0
    assert perfect["mean_score"] == {"N": 2.0, "P": 7.0}
    assert perfect["std_score"]["N"] == pytest.approx(np.std(np.arange(5.0), ddof=1))
    single = roc_metrics(np.arange(3.0), ["P"] * 3, "P", 100, 0.95, seed=1)
    assert single["auc"] is None and single["mean_score"] == {"P": 1.0}


def test_bootstrap_ci_contains_auc_and_is_seeded() -> None:
    rng = np.random.default_rng(3)
    positive = rng.random(200) < 0.5
    scores = rng.normal(size=200) + positive * 0.8
    auc = roc_auc_score(positive, scores)
    low, high, used = bootstrap_ci(scores, positive, 1000, 0.95, np.random.default_rng(7))
    assert used == 1000
    assert low < auc < high and 0.05 < high - low < 0.3
    again = bootstrap_ci(scores, positive, 1000, 0.95, np.random.default_rng(7))
    assert again == (low, high, used)
    narrow = bootstrap_ci(scores, positive, 1000, 0.5, np.random.default_rng(7))
    assert narrow[1] - narrow[0] < high - low  # a lower confidence gives a narrower interval


def test_scores_csv_round_trip(tmp_path: Path) -> None:
    rows = [
        {"image": "x", "label": "A", "model": "m", "method": "l1-mean", "residual": 0.5, "score": 0.5},
        {"image": "y", "label": "B", "model": "m", "method": "anogan", "residual": 2.0, "discrimination": 1.5,
         "score": 1.9},
    ]  # fmt: skip
    path = write_scores_csv(rows, tmp_path / "scores.csv")
    back = read_scores_csv(path)
    assert back[0]["discrimination"] is None and back[0]["score"] == 0.5
    assert back[1] == {**rows[1]}
    assert path.read_text().splitlines()[0] == "image,label,model,method,residual,discrimination,score"


def test_report_marks_a_detector_that_fails_the_baseline() -> None:
    def m(auc: float) -> dict[str, Any]:
        return {"auc": auc, "auc_ci_low": auc - 0.05, "auc_ci_high": auc + 0.05, "mean_score": {"A": 1.0}}

    metrics = {
        "good": {"anogan": m(0.9), "anogan@init": m(0.6), "l1-mean": m(0.7)},
        "bad": {"anogan": m(0.6), "anogan@init": m(0.55), "l1-mean": m(0.7)},
    }
    text = markdown_report("Evaluation", metrics, "B", ["A", "B"], ["roc.png"], BUILTIN_METHODS)
    head = next(line for line in text.splitlines() if line.startswith("| model |"))
    assert head.startswith("| model | AnoGAN AUC [95% CI] | AnoGAN@init AUC | L1-mean AUC | beats L1-mean |")
    good = next(line for line in text.splitlines() if line.startswith("| good |"))
    bad = next(line for line in text.splitlines() if line.startswith("| bad |"))
    assert "0.900 [0.850, 0.950]" in good and "| yes |" in good and "0.600" in good
    assert "below the baseline" in bad
    assert "![roc](roc.png)" in text


def test_report_columns_come_from_the_declared_methods() -> None:
    """A third-party detector gets its own column and is the one compared with the baseline."""
    metrics = {"gan": {"mine": {"auc": 0.91, "mean_score": {"A": 2.0}}, "l1-mean": {"auc": 0.7}}}
    methods = [Method("mine", "Mine"), Method("l1-mean", "L1-mean", role="baseline")]
    text = markdown_report("Evaluation", metrics, "B", ["A"], [], methods)
    lines = text.splitlines()
    head = next(line for line in lines if line.startswith("| model |"))
    assert head == "| model | Mine AUC [95% CI] | L1-mean AUC | beats L1-mean | mean score A |"
    row = next(line for line in lines if line.startswith("| gan |"))
    assert row == "| gan | 0.910 | 0.700 | yes (within CI) | 2 ± 0 |"
    assert "AnoGAN" not in head


def test_builtin_evaluators_declare_their_methods() -> None:
    assert tuple(AnoGANEvaluator.methods) + tuple(L1MeanEvaluator.methods) == BUILTIN_METHODS
    assert isinstance(anogan(), ScoringEvaluator)


def test_anogan_needs_a_context_that_can_build(tmp_path: Path) -> None:
    model, test = known_case(2)
    ctx = context(tmp_path, {"gan": model}, test)
    ctx.build = None
    with pytest.raises(GanaugError, match="cannot build"):
        anogan().evaluate(ctx)


def test_report_compares_every_detector_with_the_strongest_baseline() -> None:
    """With several baselines the bar is the one scoring highest; the paired section says who wins."""
    rng = np.random.default_rng(0)
    labels = ["A"] * 40 + ["B"] * 40
    truth = np.array([label == "B" for label in labels], dtype=float)
    columns = {
        "anogan": truth + rng.normal(0, 2.0, 80),  # weak
        "l1-mean": truth + rng.normal(0, 1.0, 80),
        "knn": truth + rng.normal(0, 0.2, 80),  # nearly perfect: the strongest baseline
    }
    scores = [
        {"image": f"i{i}", "label": labels[i], "model": "gan", "method": method, "score": float(values[i])}
        for method, values in columns.items()
        for i in range(80)
    ]
    y = truth.astype(bool)
    metrics = {"gan": {m: {"auc": float(roc_auc_score(y, v)), "mean_score": {}} for m, v in columns.items()}}
    methods = [*BUILTIN_METHODS, Method("knn", "kNN", role="baseline")]
    text = markdown_report("Evaluation", metrics, "B", ["A", "B"], [], methods, scores)
    lines = text.splitlines()
    head = next(line for line in lines if line.startswith("| model | AnoGAN"))
    assert "beats the strongest baseline" in head
    row = next(line for line in lines if line.startswith("| gan | "))
    assert f"below the baseline** (kNN {metrics['gan']['knn']['auc']:.3f})" in row
    paired = next(line for line in lines if line.startswith("| gan | AnoGAN |"))
    assert "| kNN |" in paired and "**loses** by more than the interval" in paired
    assert "## Against the strongest baseline" in text
