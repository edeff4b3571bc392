"""Restoring the stages of a finished run directory: its stored recipe (read with today's option
names), a stage context on an existing stage folder, and the model stages a stage builds on."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import attrs
import tomli_w
import torch

from ganaug.api.context import StageContext
from ganaug.host.loading import PluginHost
from ganaug.recipe.load import load_recipe, parse_recipe
from ganaug.recipe.resolve import declared_products
from ganaug.recipe.schema import Recipe, StageSpec
from ganaug.runner import contexts
from ganaug.runner.rundir import RECIPE, RunDir
from ganaug.runtime.errors import RecipeError, RunDirError


def stage_of(host: PluginHost, spec: StageSpec) -> Any:
    """The stage object of ``spec``, built as the engine builds it."""
    return contexts.stage_of(host.registry, spec)


def stage_context(
    spec: StageSpec, folder: Path, recipe: Recipe, host: PluginHost, device: torch.device
) -> StageContext:
    """A stage context on an existing stage folder, with no data (restoring needs none)."""
    return contexts.stage_context(spec, folder, recipe, host.registry, device)


def named_models(
    spec: StageSpec, run_dir: Path, recipe: Recipe, host: PluginHost, device: torch.device
) -> dict[str, Any]:
    """The restored outputs of the model stages ``spec``'s options name (``stage_ref("model")``
    fields), so a stage whose model builds on another's (an encoder stage) can restore it."""
    found: dict[str, Any] = {}
    if not attrs.has(type(spec.options)):
        return found
    for field in attrs.fields(type(spec.options)):
        if field.metadata.get("stage_ref") != "model":
            continue
        value = getattr(spec.options, field.name)
        for name in value if isinstance(value, list | tuple) else [value]:
            if name is None or name in found:
                continue
            upstream = recipe.stage(name)
            RunDir(run_dir).verify_done(name)
            ctx = stage_context(upstream, run_dir / name, recipe, host, device)
            ctx.outputs.update(named_models(upstream, run_dir, recipe, host, device))
            found[name] = stage_of(host, upstream).restore(ctx)
    return found


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
