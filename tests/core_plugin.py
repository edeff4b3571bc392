"""A tiny plugin used by the core tests, so they do not depend on the built-ins."""

from __future__ import annotations

from typing import Literal

import attrs
import torch

from ganaug.api.hookspecs import Register, hookimpl
from ganaug.api.interfaces import DataBundle, ImageSet, StageOutput
from ganaug.api.options import ComponentRef, component, stage_ref
from ganaug.api.selection import ImageSelection
from ganaug.runtime.io import write_json


@attrs.frozen
class NumbersOptions:
    classes: list[str] = attrs.Factory(lambda: ["a", "b"])
    per_class: int = attrs.field(default=4, validator=attrs.validators.ge(1))


class Numbers:
    """Constant images per class: class i has value i/10."""

    def __init__(self, options: NumbersOptions) -> None:
        self.options = options

    def declared_splits(self) -> list[str]:
        return ["train", "test"]

    def declared_classes(self) -> list[str]:
        return list(self.options.classes)

    def load(self, ctx: object) -> DataBundle:
        n, classes = self.options.per_class, tuple(self.options.classes)
        labels = torch.arange(len(classes)).repeat_interleave(n)
        images = (labels.float() / 10).view(-1, 1, 1, 1).expand(-1, 1, 8, 8).clone()
        ids = tuple(f"img{i}" for i in range(len(labels)))
        full = ImageSet(images, labels, ids, classes)
        return DataBundle(classes, {"train": full, "test": full})


@attrs.frozen
class ShoutOptions:
    loud: bool = False


@attrs.frozen
class MeanOptions:
    data: ImageSelection = attrs.Factory(ImageSelection)
    steps: int = attrs.field(default=3, validator=attrs.validators.ge(1))
    mode: Literal["fast", "slow"] = "fast"
    weighter: ComponentRef = component("loss_weighters", "shout")


class MeanStage:
    """Computes the mean of its selected images: enough to exercise the engine."""

    produces = frozenset({"metrics"})

    def __init__(self, options: MeanOptions) -> None:
        self.options = options

    def run(self, ctx: object) -> StageOutput:
        images = ctx.select(self.options.data)  # type: ignore[attr-defined]
        value = float(images.images.mean())
        write_json(ctx.dir / "mean.json", {"mean": value})  # type: ignore[attr-defined]
        return StageOutput(metrics={"mean": value, "n": len(images)})

    def restore(self, ctx: object) -> StageOutput:
        import json

        value = json.loads((ctx.dir / "mean.json").read_text())["mean"]  # type: ignore[attr-defined]
        return StageOutput(metrics={"mean": value})


@attrs.frozen
class ReportOptions:
    source: str = stage_ref("metrics")


class ReportStage:
    produces = frozenset({"metrics"})

    def __init__(self, options: ReportOptions) -> None:
        self.options = options

    def run(self, ctx: object) -> StageOutput:
        upstream = ctx.output(self.options.source).metrics  # type: ignore[attr-defined]
        return StageOutput(metrics={"copied": upstream["mean"]})

    def restore(self, ctx: object) -> StageOutput:
        return self.run(ctx)


@attrs.frozen
class UsesOptions:
    """A stage whose default weighter carries options of its own."""

    weighter: ComponentRef = component("loss_weighters", "shout", loud=True)


class CorePlugin:
    @hookimpl
    def register_data_sources(self, register: Register) -> None:
        register("numbers", Numbers, options=NumbersOptions, description="Constant test images")

    @hookimpl
    def register_loss_weighters(self, register: Register) -> None:
        register("shout", lambda options: options, options=ShoutOptions)

    @hookimpl
    def register_stages(self, register: Register) -> None:
        register("mean", MeanStage, options=MeanOptions)
        register("report", ReportStage, options=ReportOptions)
        register("uses", MeanStage, options=UsesOptions)


RECIPE = """
[run]
name = "core"
seed = 3
device = "cpu"

[data]
source = "numbers"
classes = ["a", "b"]

[[stages]]
kind = "mean"
name = "m"
data = { split = "train", classes = ["b"] }

[[stages]]
kind = "report"
name = "r"
source = "m"
"""
