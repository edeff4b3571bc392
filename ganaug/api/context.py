"""What the engine hands to data sources, stages and evaluators while a run executes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import torch
from torch import nn

from ganaug.api.networks import output_problems
from ganaug.api.records import DataBundle, EvalContext, ImageSet, ImageSpec, StageOutput, TrainedModel
from ganaug.api.selection import ImageSelection
from ganaug.api.tracking import Trackers
from ganaug.runtime.distributed import World
from ganaug.runtime.errors import DataError, PluginError
from ganaug.runtime.progress import Progress

if TYPE_CHECKING:
    from ganaug.api.options import ComponentRef
    from ganaug.host.registry import Registry
    from ganaug.recipe.schema import RunSection


@attrs.define
class DataContext:
    """For a data source's ``load``: where to cache, where to report, the run's seed."""

    seed: int
    cache_dir: Path
    report_dir: Path
    log: logging.Logger
    progress: Progress = attrs.Factory(Progress)


@attrs.define
class StageContext:
    """For a stage's ``run``: its folder, the data, earlier stages' outputs, and builders."""

    name: str
    dir: Path
    run: RunSection
    device: torch.device
    data: DataBundle
    outputs: dict[str, StageOutput]
    registry: Registry
    log: logging.Logger
    progress: Progress = attrs.Factory(Progress)
    resume: bool = False
    world: World = attrs.Factory(World)
    track: Trackers = attrs.Factory(Trackers)

    @property
    def seed(self) -> int:
        return self.run.seed

    def build(self, ref: ComponentRef, **context: Any) -> Any:
        """Create the component a resolved recipe reference names."""
        return self.registry.build(ref, **context)

    def build_networks(
        self, generator: ComponentRef, discriminator: ComponentRef, image: ImageSpec
    ) -> tuple[nn.Module, nn.Module]:
        """Build G and D for ``image`` and run one batch through both: a network that gives the
        wrong shape fails here, named with its plugin, not later inside a search or a loss."""
        g, d = self.build(generator, image=image), self.build(discriminator, image=image)
        problems = output_problems(g, d, image)
        if problems:
            names = {
                "generator": self.registry.get(generator.kind, generator.name),
                "discriminator": self.registry.get(discriminator.kind, discriminator.name),
            }
            lines = [
                f"{role} {names[role].name!r} (plugin {names[role].plugin!r}): {text}"
                for role, text in problems
            ]
            raise PluginError(f"stage {self.name!r}: the networks do not fit the data: " + "; ".join(lines))
        return g, d

    def select(self, selection: ImageSelection) -> ImageSet:
        """The images a selection names: a split's classes, then earlier stages' images."""
        if selection.split not in self.data.splits:
            raise DataError(f"stage {self.name!r}: the data has no split {selection.split!r}")
        images = self.data.splits[selection.split]
        if selection.classes is not None:
            images = images.of_classes(selection.classes)
        if selection.limit is not None:
            images = images.subset(range(min(selection.limit, len(images))))
        extra = [self.output(name).images for name in selection.add]
        return ImageSet.concat([images, *[e for e in extra if e is not None]])

    def eval_context(
        self, models: dict[str, TrainedModel], test: ImageSet, positive: str, dir: Path | None = None
    ) -> EvalContext:
        """What an evaluator sees when this stage scores ``test`` with ``models`` (files under
        ``dir``, default the stage's folder): the stage's device, seed, log, builder and world."""
        return EvalContext(
            models=models,
            test=test,
            positive=positive,
            dir=dir if dir is not None else self.dir,
            device=self.device,
            seed=self.seed,
            log=self.log,
            progress=self.progress,
            build=self.build,
            world=self.world,
            select=self.select,
        )

    def output(self, stage: str) -> StageOutput:
        return self.outputs[stage]
