"""The augment stage through the engine: PNGs, mapping table, figures, and use by a later stage."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import attrs
import pytest
import torch

from ganaug.api.context import DataContext, StageContext
from ganaug.api.hookspecs import Register, hookimpl
from ganaug.api.interfaces import DataBundle, ImageSet, ImageSpec, StageOutput, TrainedModel
from ganaug.api.selection import ImageSelection
from ganaug.host.loading import make_plugin_host
from ganaug.kit.imaging import load_png
from ganaug.recipe.load import parse_recipe
from ganaug.runner.engine import run_recipe
from ganaug.runtime.errors import DataError
from ganaug.testing.toys import SIZE, ConditionalToyGenerator, ConvDiscriminator
from ganaug_plugins.stages.augment import output_names

PER_CLASS = 5
BUILTINS = [
    "ganaug_plugins.searchers.plugin",
    "ganaug_plugins.evaluators.plugin",
    "ganaug_plugins.stages.plugin",
]


def split(seed: int, prefix: str) -> ImageSet:
    images = torch.rand(2 * PER_CLASS, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    ids = tuple(f"{prefix}/{c}/img {i}.jpeg" for c in "AB" for i in range(PER_CLASS))
    return ImageSet(images, torch.tensor([0] * PER_CLASS + [1] * PER_CLASS), ids, ("A", "B"))


@attrs.frozen
class NoOptions:
    """No options."""


class ToyData:
    def __init__(self, options: NoOptions) -> None:
        self.options = options

    def load(self, ctx: DataContext) -> DataBundle:
        splits = {"train": split(1, "train"), "holdout": split(2, "holdout"), "probe": split(3, "probe")}
        return DataBundle(("A", "B"), splits)

    def declared_splits(self) -> list[str]:
        return ["train", "holdout", "probe"]

    def declared_classes(self) -> list[str]:
        return ["A", "B"]


class ToyTrain:
    """Stands in for the train stage: hands on fixed toy networks."""

    produces = frozenset({"model"})

    def __init__(self, options: NoOptions) -> None:
        self.options = options

    def run(self, ctx: StageContext) -> StageOutput:
        return StageOutput(
            model=TrainedModel(ctx.name, ConditionalToyGenerator(), ConvDiscriminator(), ImageSpec(1, SIZE))
        )

    restore = run


@attrs.frozen
class CountOptions:
    """The selection a following train stage would use."""

    images: ImageSelection


class Count:
    """A following stage: selects real + augmented images like a train stage does, reports them."""

    produces = frozenset({"metrics"})

    def __init__(self, options: CountOptions) -> None:
        self.options = options

    def run(self, ctx: StageContext) -> StageOutput:
        chosen = ctx.select(self.options.images)
        SEEN[ctx.name] = chosen
        return StageOutput(metrics={"count": len(chosen), "labels": sorted(set(chosen.labels.tolist()))})

    restore = run


SEEN: dict[str, ImageSet] = {}


class ToyPlugin:
    @hookimpl
    def register_data_sources(self, register: Register) -> None:
        register("toydata", ToyData, options=NoOptions)

    @hookimpl
    def register_stages(self, register: Register) -> None:
        register("toytrain", ToyTrain, options=NoOptions)
        register("count", Count, options=CountOptions)


RECIPE = """
[run]
name = "augtest"
device = "cpu"
[data]
source = "toydata"
[[stages]]
kind = "toytrain"
name = "iagan"
[[stages]]
kind = "augment"
name = "aug"
model = "iagan"
label = "A"
copies = 2
queries = [{split = "train", classes = ["A"]}, {split = "holdout", classes = ["B"]}]
searcher = {name = "backprop", steps = 30, feature_weight = 0.7, record_every = 10}
probe = {split = "probe"}
diversity_z = 3
pairs = 3
curves = 4
[[stages]]
kind = "count"
name = "next"
images = {split = "train", classes = ["A"], add = ["aug"]}
"""


def host() -> Any:
    return make_plugin_host(builtins=BUILTINS, entry_points=False, extra=[("testplugin", ToyPlugin())])


@pytest.mark.slow
def test_augment_stage_writes_images_and_feeds_the_next_stage(tmp_path: Path) -> None:
    h = host()
    recipe = parse_recipe(RECIPE, registry=h.registry)
    result = run_recipe(recipe, out=tmp_path / "run", host=h)
    folder = result.run_dir / "aug"
    made = 2 * (PER_CLASS + PER_CLASS)  # (train A + holdout B) x 2 copies

    out = result.outputs["aug"].images
    assert out is not None and len(out) == made
    assert out.labels.tolist() == [0] * made  # every generated image is of the trained class
    assert len(list((folder / "images").glob("*.png"))) == made
    with open(folder / "augmented.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["query"] for r in rows[:2]] == ["train/A/img 0.jpeg"] * 2
    assert [r["copy"] for r in rows[:2]] == ["0", "1"]
    assert {r["query_class"] for r in rows} == {"A", "B"}
    assert rows[0]["output"] == "images/train_A_img_0-0.png"
    assert all(float(r["score"]) < float(r["initial_score"]) for r in rows)
    # what the stage hands on is exactly what its PNGs hold
    for row, image in zip(rows, out.images, strict=True):
        assert torch.equal(load_png(folder / row["output"], 1), image)
    assert not torch.equal(out.images[0], out.images[1])  # two copies: two different z starts
    for name in ["pairs-A.png", "pairs-B.png", "search-loss.png", "summary.json"]:
        assert (folder / name).is_file(), name
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["images"] == made and set(summary["mean_score"]) == {"A", "B"}
    conversion = summary["conversion"]
    assert set(conversion["per_query_class"]) == {"A", "B"}
    assert conversion["probe"]["images"] == 2 * PER_CLASS and 0 <= conversion["probe"]["accuracy"] <= 1
    for cls, entry in conversion["per_query_class"].items():
        class_rows = [r for r in rows if r["query_class"] == cls]
        assert entry["images"] == len(class_rows)
        rate = sum(r["probe_class"] == "A" for r in class_rows) / len(class_rows)
        assert entry["conversion_rate"] == pytest.approx(rate)
        copy = sum(float(r["ssim_to_query"]) for r in class_rows) / len(class_rows)
        assert entry["copy_ssim"] == pytest.approx(copy, abs=1e-6)
        assert -1 <= entry["z_diversity_ssim"] <= 1 and entry["z_diversity_l1"] > 0
        assert (folder / f"z-samples-{cls}.png").is_file()
    report = (folder / "report.md").read_text()
    entry = conversion["per_query_class"]["B"]
    assert f"| B | {PER_CLASS * 2} | {entry['copy_ssim']:.3f} |" in report
    assert f"{entry['conversion_rate']:.1%}" in report and "![z-samples-B.png](z-samples-B.png)" in report
    assert "## aug (augment)" in (result.run_dir / "report.md").read_text()

    assert result.outputs["next"].metrics == {"count": PER_CLASS + made, "labels": [0]}
    assert SEEN["next"].ids[-1] == f"aug/{rows[-1]['output'].split('/')[-1]}"

    again = run_recipe(recipe, host=h, resume=result.run_dir)
    restored = again.outputs["aug"].images
    assert restored is not None
    assert torch.equal(restored.images, out.images) and restored.ids == out.ids
    assert torch.equal(restored.labels, out.labels)


def test_default_searcher_is_the_iagan_search() -> None:
    text = RECIPE.replace(
        'searcher = {name = "backprop", steps = 30, feature_weight = 0.7, record_every = 10}\n', ""
    )
    options = parse_recipe(text.replace("copies = 2\n", ""), registry=host().registry).stage("aug").options
    assert (options.searcher.options.steps, options.searcher.options.feature_weight) == (400, 0.7)
    assert options.copies == 1 and options.queries[1].split == "holdout"


def test_recipe_names_are_checked() -> None:
    text = RECIPE.replace('label = "A"', 'label = "Z"').replace('model = "iagan"', 'model = "next"')
    with pytest.raises(Exception) as info:
        parse_recipe(text, registry=host().registry)
    paths = {p.path for p in info.value.problems}  # type: ignore[attr-defined]
    assert {"stages[1].label", "stages[1].model"} <= paths


def test_output_names_are_safe_and_unique() -> None:
    names = output_names(["a/b c.jpeg", "a/b_c.png", "x", "../..", "X"], 1)
    assert names == ["a_b_c.png", "a_b_c~2.png", "x.png", "image.png", "X~2.png"]
    assert output_names(["q"], 3) == ["q-0.png", "q-1.png", "q-2.png"]


def test_a_probe_that_shares_images_with_the_queries_is_refused(tmp_path: Path) -> None:
    h = host()
    text = RECIPE.replace('probe = {split = "probe"}', 'probe = {split = "train"}')
    with pytest.raises(DataError, match="probe image"):
        run_recipe(parse_recipe(text, registry=h.registry), out=tmp_path / "run", host=h)
