"""The evaluate stage end to end through the engine, with a toy data source and "train" stage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest
import torch

from ganaug.api.context import DataContext, StageContext
from ganaug.api.hookspecs import Register, hookimpl
from ganaug.api.interfaces import DataBundle, ImageSet, ImageSpec, StageOutput, TrainedModel
from ganaug.host.loading import make_plugin_host
from ganaug.kit.tables import read_scores_csv
from ganaug.recipe.load import parse_recipe
from ganaug.runner.engine import run_recipe
from ganaug.runtime.errors import RecipeError
from ganaug.testing.toys import LATENT, SIZE, ConvDiscriminator, SubspaceGenerator

PER_CLASS = 8
BUILTINS = [
    "ganaug_plugins.searchers.plugin",
    "ganaug_plugins.evaluators.plugin",
    "ganaug_plugins.stages.plugin",
]


def split(seed: int) -> ImageSet:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        a = SubspaceGenerator()(torch.randn(PER_CLASS, LATENT, generator=gen) * 0.7)
    b = torch.rand(PER_CLASS, 1, SIZE, SIZE, generator=gen) * 2 - 1
    ids = tuple(f"s{seed}/A/{i}.png" for i in range(PER_CLASS)) + tuple(
        f"s{seed}/B/{i}.png" for i in range(PER_CLASS)
    )
    return ImageSet(torch.cat([a, b]), torch.tensor([0] * PER_CLASS + [1] * PER_CLASS), ids, ("A", "B"))


@attrs.frozen
class ToyDataOptions:
    """No options."""


class ToyData:
    def __init__(self, options: ToyDataOptions) -> None:
        self.options = options

    def load(self, ctx: DataContext) -> DataBundle:
        return DataBundle(("A", "B"), {"train": split(1), "holdout": split(2), "test": split(3)})

    def declared_splits(self) -> list[str]:
        return ["train", "holdout", "test"]

    def declared_classes(self) -> list[str]:
        return ["A", "B"]


class ToyTrain:
    """Stands in for the train stage: hands on a fixed generator that reproduces class A."""

    produces = frozenset({"model"})

    def __init__(self, options: ToyDataOptions) -> None:
        self.options = options

    def run(self, ctx: StageContext) -> StageOutput:
        train = ctx.data.splits["train"].of_classes(["A"])
        model = TrainedModel(ctx.name, SubspaceGenerator(), ConvDiscriminator(), ImageSpec(1, SIZE))
        model.train_mean = train.images.mean(0)
        return StageOutput(model=model)

    restore = run


class ToyPlugin:
    @hookimpl
    def register_data_sources(self, register: Register) -> None:
        register("toydata", ToyData, options=ToyDataOptions)

    @hookimpl
    def register_stages(self, register: Register) -> None:
        register("toytrain", ToyTrain, options=ToyDataOptions)


RECIPE = """
[run]
name = "evaltest"
device = "cpu"
[data]
source = "toydata"
[[stages]]
kind = "toytrain"
name = "gan"
[[stages]]
kind = "toytrain"
name = "gan2"
[[stages]]
kind = "evaluate"
name = "eval"
models = ["gan", "gan2"]
positive = "B"
evaluators = [
  {name = "anogan", searcher = {name = "backprop", steps = 60, record_every = 20}, curves = 4, samples = 4},
  "l1-mean",
  {name = "roc", bootstrap = 200},
]
"""


def host() -> Any:
    return make_plugin_host(builtins=BUILTINS, entry_points=False, extra=[("testplugin", ToyPlugin())])


@pytest.mark.slow
def test_evaluate_stage_end_to_end_and_resume(tmp_path: Path) -> None:
    h = host()
    recipe = parse_recipe(RECIPE, registry=h.registry)
    result = run_recipe(recipe, out=tmp_path / "run", host=h)
    folder = result.run_dir / "eval"
    for name in ["scores.csv", "metrics.json", "report.md", "roc.png", "scores-by-class.png"]:
        assert (folder / name).is_file(), name
    assert (folder / "search-loss-gan2.png").is_file()

    rows = read_scores_csv(folder / "scores.csv")
    assert len(rows) == 2 * 3 * 2 * PER_CLASS  # models x methods x test images
    assert {r["method"] for r in rows} == {"anogan", "anogan@init", "l1-mean"}
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(result.metrics["eval"]))
    for model in ("gan", "gan2"):
        found = metrics[model]["anogan"]
        assert found["auc"] > 0.95
        assert found["auc_ci_low"] <= found["auc"] <= found["auc_ci_high"]
        assert found["mean_score"]["B"] > found["mean_score"]["A"]
        assert set(metrics[model]) >= {"anogan", "anogan@init", "l1-mean"}
    # the same seed and search for both identical models: identical scores
    assert metrics["gan"]["anogan"]["auc"] == metrics["gan2"]["anogan"]["auc"]

    report = (folder / "report.md").read_text()
    table = [line for line in report.splitlines() if line.startswith("| gan")]
    assert len(table) >= 2 and "mean score A" in report and "![roc](roc.png)" in report

    again = run_recipe(recipe, host=h, resume=result.run_dir)
    assert again.outputs["eval"].metrics == metrics
    assert (folder / "report.md").read_text() == report


def test_recipe_checks_positive_class_and_model_stages() -> None:
    bad = RECIPE.replace('positive = "B"', 'positive = "C"').replace(
        'models = ["gan", "gan2"]', 'models = ["nope"]'
    )
    with pytest.raises(RecipeError) as info:
        parse_recipe(bad, registry=host().registry)
    paths = {p.path for p in info.value.problems}
    assert "stages[2].positive" in paths
    assert "stages[2].models[0]" in paths


def test_default_evaluators_and_test_selection() -> None:
    text = RECIPE[: RECIPE.index("evaluators = [")]
    recipe = parse_recipe(text, registry=host().registry)
    options = recipe.stage("eval").options
    assert [ref.name for ref in options.evaluators] == ["anogan", "l1-mean", "roc"]
    searcher = options.evaluators[0].options.searcher.options
    assert (searcher.steps, searcher.feature_weight) == (500, 0.2)
    assert options.evaluators[2].options.bootstrap == 1000
    assert options.test.split == "test"
