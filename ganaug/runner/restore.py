"""Restoring the stages of a run directory: :class:`FinishedRun`, the one object ``load_model``
(and ``ganaug score``/``generate``) and a stage in its own process (``run.jobs``) restore finished
stages through; the stored recipe read with today's option names; the model stages a stage builds on."""

from __future__ import annotations

import logging
import re
import tomllib
from pathlib import Path
from typing import Any

import attrs
import tomli_w
import torch

from ganaug.api.context import StageContext
from ganaug.api.records import DataBundle, StageOutput
from ganaug.host.loading import PluginHost
from ganaug.recipe.load import load_recipe, parse_recipe
from ganaug.recipe.resolve import declared_products
from ganaug.recipe.schema import Recipe
from ganaug.runner import contexts
from ganaug.runner.rundir import RECIPE, RunDir
from ganaug.runner.stage_graph import referenced
from ganaug.runtime.errors import RecipeError, RunDirError


@attrs.define
class FinishedRun:
    """A run folder whose finished stages are restored on demand, each once, by their kinds'
    ``restore``: the stored recipe, the plugin host that reads it, the device, and (for a stage run
    in its own process) the run's checked data; without data a stage is restored from its folder."""

    dir: RunDir
    recipe: Recipe
    host: PluginHost
    device: torch.device
    data: DataBundle | None = None
    log: logging.Logger | None = None
    outputs: dict[str, StageOutput] = attrs.Factory(dict)

    @classmethod
    def open(cls, run_dir: Path, host: PluginHost, device: torch.device) -> FinishedRun:
        """The run in ``run_dir``, its recipe read as stored (renamed options with today's names)."""
        return cls(RunDir(run_dir), run_recipe_of(run_dir, host), host, device)

    def stage(self, name: str) -> Any:
        """The stage object of stage ``name``, built as the engine builds it."""
        return contexts.stage_of(self.host.registry, self.recipe.stage(name))

    def context(self, name: str, *, resume: bool = False) -> StageContext:
        """Stage ``name``'s context on its folder, seeing the stages restored so far."""
        spec = self.recipe.stage(name)
        return contexts.stage_context(
            spec, self.dir.stage_dir(name), self.recipe, self.host.registry, self.device,
            data=self.data, outputs=self.outputs, log=self.log, resume=resume,
        )  # fmt: skip

    def restore(self, name: str) -> StageOutput:
        """Stage ``name``'s output, rebuilt from its (checked) folder; once per stage."""
        if name not in self.outputs:
            self.dir.verify_done(name)
            self.outputs[name] = self.stage(name).restore(self.context(name))
        return self.outputs[name]

    def restore_with_models(self, name: str) -> StageOutput:
        """Stage ``name``'s output after the model stages its options name (``stage_ref("model")``
        fields), so a stage whose model builds on another's (an encoder stage) can restore it."""
        for upstream in referenced(self.recipe.stage(name).options, produces="model"):
            if upstream not in self.outputs:
                self.restore_with_models(upstream)
        return self.restore(name)


def run_recipe_of(run_dir: Path, host: PluginHost) -> Recipe:
    """The resolved recipe stored in ``run_dir``; a clear error when it is not a run directory."""
    if not run_dir.exists():
        raise RunDirError(f"{run_dir}: no such run directory")
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir} is not a folder (expected a run directory)")
    if RunDir(run_dir).read_manifest() is None or not (run_dir / RECIPE).is_file():
        raise RunDirError(f"{run_dir} holds no ganaug run (no manifest.json and recipe.toml)")
    try:
        return load_recipe(run_dir / RECIPE, registry=host.registry)
    except RecipeError as exc:
        renamed = [(p.path, p.renamed_to) for p in exc.problems if p.renamed_to is not None]
        if not renamed or len(renamed) < len(exc.problems):
            raise
    # a run made before options were renamed: read its recipe with the current names
    raw = tomllib.loads((run_dir / RECIPE).read_text(encoding="utf-8"))
    for path, new in renamed:
        _rename(raw, path, new)
    return parse_recipe(tomli_w.dumps(raw), source=str(run_dir / RECIPE), registry=host.registry)


def _rename(node: Any, path: str, new: str) -> None:
    """Rename the key at ``path`` (``stages[0].generator.z_dim``) of the raw recipe to ``new``."""
    *parents, key = re.sub(r"\[(\d+)\]", r".\1", path).split(".")
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    node[new] = node.pop(key)


def model_stages(recipe: Recipe, host: PluginHost) -> list[str]:
    """The names of the recipe's stages whose kind produces a model."""
    names = []
    for spec in recipe.stages:
        component = host.registry.get("stages", spec.kind)
        if "model" in declared_products(component.factory):
            names.append(spec.name)
    return names
