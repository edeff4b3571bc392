"""Classical augmentation: the ``affine`` op and the transform stage through the engine (its PNGs,
table and hand-over to a following stage, and the same images read back on resume)."""

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
from ganaug.api.interfaces import DataBundle, ImageSet, StageOutput
from ganaug.api.selection import ImageSelection
from ganaug.host.loading import make_plugin_host
from ganaug.kit.imaging import load_png
from ganaug.recipe.load import parse_recipe
from ganaug.runner.engine import run_recipe
from ganaug_plugins.augmenters import ops
from ganaug_plugins.augmenters.plugin import DiffAugmentOptions

SIZE, PER_CLASS = 16, 6


def _rng(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_affine_without_rotation_or_scaling_is_the_identity() -> None:
    x = torch.rand(3, 1, SIZE, SIZE, generator=_rng()) * 2 - 1
    assert torch.equal(ops.affine(0.0, 0.0)(x, _rng()), x)


def test_affine_rotates_fills_from_outside_and_passes_gradients() -> None:
    x = torch.ones(4, 1, SIZE, SIZE, requires_grad=True)
    out = ops.affine(rotation=45.0, scale=0.0, fill=-1.0)(x, _rng(3))
    assert out.shape == x.shape
    corners = out[:, 0, [0, 0, -1, -1], [0, -1, 0, -1]]
    assert (corners < 0).any()  # turned: a corner now shows the fill, not the image
    assert torch.allclose(out[:, 0, SIZE // 2, SIZE // 2], torch.ones(4), atol=1e-5)  # the centre stays
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    again = ops.affine(rotation=45.0, scale=0.0, fill=-1.0)(x.detach(), _rng(3))
    assert torch.equal(again, out.detach())  # one draw per image from the generator


def test_affine_is_a_policy_and_diffaugments_default_is_unchanged() -> None:
    assert DiffAugmentOptions().policy == ["color", "translation", "cutout"]
    assert DiffAugmentOptions(policy=["affine"]).policy == ["affine"]
    with pytest.raises(ValueError, match="affine"):
        DiffAugmentOptions(policy=["zoom"])


def _split(seed: int, prefix: str) -> ImageSet:
    images = torch.rand(2 * PER_CLASS, 1, SIZE, SIZE, generator=_rng(seed)) * 2 - 1
    ids = tuple(f"{prefix}/{c}/img {i}.png" for c in "AB" for i in range(PER_CLASS))
    return ImageSet(images, torch.tensor([0] * PER_CLASS + [1] * PER_CLASS), ids, ("A", "B"))


@attrs.frozen
class NoOptions:
    """No options."""


class ToyData:
    def __init__(self, options: NoOptions) -> None:
        self.options = options

    def load(self, ctx: DataContext) -> DataBundle:
        return DataBundle(("A", "B"), {"train": _split(1, "train")})


@attrs.frozen
class CountOptions:
    """The selection a following train stage would use."""

    images: ImageSelection


class Count:
    """A following stage: selects real + transformed images as a train stage does."""

    produces = frozenset({"metrics"})

    def __init__(self, options: CountOptions) -> None:
        self.options = options

    def run(self, ctx: StageContext) -> StageOutput:
        chosen = ctx.select(self.options.images)
        return StageOutput(metrics={"count": len(chosen), "labels": sorted(set(chosen.labels.tolist()))})

    restore = run


class ToyPlugin:
    @hookimpl
    def register_data_sources(self, register: Register) -> None:
        register("toydata", ToyData, options=NoOptions)

    @hookimpl
    def register_stages(self, register: Register) -> None:
        register("count", Count, options=CountOptions)


RECIPE = """
[run]
name = "transform"
device = "cpu"
[data]
source = "toydata"
[[stages]]
kind = "transform"
name = "aug"
label = "A"
queries = [{split = "train", classes = ["A"]}]
count = 9
pairs = 3
[[stages]]
kind = "count"
name = "next"
images = {split = "train", classes = ["A"], add = ["aug"]}
"""


def _host() -> Any:
    builtins = ["ganaug_plugins.augmenters.plugin", "ganaug_plugins.stages.plugin"]
    return make_plugin_host(builtins=builtins, entry_points=False, extra=[("testplugin", ToyPlugin())])


def test_transform_stage_writes_count_images_and_feeds_the_next_stage(tmp_path: Path) -> None:
    host = _host()
    recipe = parse_recipe(RECIPE, registry=host.registry)
    result = run_recipe(recipe, out=tmp_path / "run", host=host)
    folder = result.run_dir / "aug"
    out = result.outputs["aug"].images
    assert out is not None and len(out) == 9 and out.labels.tolist() == [0] * 9
    with open(folder / "augmented.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # every query once before any gets a second copy
    assert [r["query"] for r in rows[:PER_CLASS]] == [f"train/A/img {i}.png" for i in range(PER_CLASS)]
    assert [r["copy"] for r in rows] == ["0"] * PER_CLASS + ["1"] * 3
    assert rows[PER_CLASS]["query"] == rows[0]["query"]
    assert len(set(r["output"] for r in rows)) == 9
    real = result.outputs["next"]
    assert real.metrics == {"count": PER_CLASS + 9, "labels": [0]}
    for row, image in zip(rows, out.images, strict=True):
        assert torch.equal(load_png(folder / row["output"], 1), image)
    assert not torch.equal(out.images[0], out.images[PER_CLASS])  # a second copy is another draw
    summary = json.loads((folder / "summary.json").read_text())
    mean = sum(float(r["ssim_to_query"]) for r in rows) / 9
    assert summary["images"] == 9 and summary["copy_ssim"] == pytest.approx(mean, abs=1e-6)
    assert 0 < summary["copy_ssim"] < 1  # changed, not copied
    assert (folder / "pairs.png").is_file()

    again = run_recipe(recipe, host=host, resume=result.run_dir)
    restored = again.outputs["aug"].images
    assert restored is not None and torch.equal(restored.images, out.images) and restored.ids == out.ids
