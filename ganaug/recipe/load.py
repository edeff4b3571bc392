"""Reading a recipe: TOML text, ``--set`` overrides, and resolution against the registry."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from ganaug.api.capabilities import DeclaresImage, DeclaresNames
from ganaug.host.registry import Registry, builder
from ganaug.recipe.convert import describe, join, make_converter, structure
from ganaug.recipe.resolve import (
    Scope,
    check_unstructured,
    parse_ref,
    resolve_component,
    resolve_fields,
    resolve_stage,
)
from ganaug.recipe.schema import NAME_PATTERN, RESERVED_STAGE_NAMES, Recipe, RunSection, StageSpec
from ganaug.runtime.errors import Problem, RecipeError, closest

TOP_LEVEL = ("run", "data", "stages")
#: A recipe is a few kilobytes; a larger file is not one (and /dev/zero must not be read forever).
MAX_RECIPE_BYTES = 1 << 20


def load_recipe(
    path: str | Path, *, overrides: Iterable[str] = (), registry: Registry | None = None
) -> Recipe:
    """Read, override and resolve a recipe file; raise :class:`RecipeError` listing every problem."""
    path = Path(path)
    try:
        if not path.is_file():
            what = "does not exist" if not path.exists() else "is not a regular file"
            raise RecipeError([Problem("", f"cannot read recipe: {path} {what}")], str(path))
        with path.open("rb") as handle:
            data = handle.read(MAX_RECIPE_BYTES + 1)
        if len(data) > MAX_RECIPE_BYTES:
            raise RecipeError([Problem("", f"not a recipe: larger than {MAX_RECIPE_BYTES} bytes")], str(path))
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError([Problem("", f"cannot read recipe: {exc}")], str(path)) from None
    return parse_recipe(text, source=str(path), overrides=overrides, registry=registry)


def parse_recipe(
    text: str, *, source: str = "<recipe>", overrides: Iterable[str] = (), registry: Registry | None = None
) -> Recipe:
    """Parse and resolve recipe text (see :func:`load_recipe`)."""
    try:
        return _parse(text, source, overrides, registry)
    except RecursionError:
        raise RecipeError(
            [Problem("", "nested too deeply to be a recipe (arrays or tables)")], source
        ) from None


def _parse(text: str, source: str, overrides: Iterable[str], registry: Registry | None) -> Recipe:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError([Problem("", f"not valid TOML: {exc}")], source) from None
    problems: list[Problem] = []
    overrides = tuple(overrides)
    raw = apply_overrides(raw, overrides, problems)
    if registry is None:
        from ganaug.host.loading import make_plugin_host

        registry = make_plugin_host().registry
    recipe = _resolve(raw, registry, problems, source)
    if problems:
        raise RecipeError(problems, source)
    return attrs.evolve(recipe, overrides=tuple(overrides))


def _resolve(raw: dict[str, Any], registry: Registry, problems: list[Problem], source: str) -> Recipe:
    converter = make_converter()
    problems += [
        Problem(key, f"unknown section{closest(key, list(TOP_LEVEL))}") for key in raw if key not in TOP_LEVEL
    ]
    run, found = structure(converter, raw.get("run", {}), RunSection, "run")
    problems += found
    scope = Scope(registry, converter, {}, None, None)
    if run is not None:
        run = resolve_fields(run, "run", scope)
    else:
        check_unstructured(RunSection, raw.get("run", {}), "run", found, scope)
    data = None
    if "data" not in raw:
        problems.append(Problem("data", "required: a [data] table with source = <data source>"))
    else:
        ref, found = parse_ref(raw["data"], "data", key="source")
        problems += found
        if ref is not None:
            data = resolve_component(ref, "data_sources", "data", scope)
            if data is not None and data.options is not None:
                source_obj = builder(registry)(data)
                if isinstance(source_obj, DeclaresNames):
                    scope.splits = _listed(source_obj.declared_splits())
                    scope.classes = _listed(source_obj.declared_classes())
                if isinstance(source_obj, DeclaresImage):
                    scope.image = source_obj.declared_image()
    stages = [
        resolve_stage(spec, path, scope, record=record)
        for spec, path, record in _stage_specs(raw, scope.problems, scope.produced)
    ]
    problems += scope.problems
    return Recipe(run or RunSection(), data, tuple(stages), source)  # type: ignore[arg-type]


def _listed(names: Any) -> list[str] | None:
    return list(names) if names is not None else None


def _stage_specs(
    raw: dict[str, Any], problems: list[Problem], produced: dict[str, frozenset[str]]
) -> list[tuple[StageSpec, str, bool]]:
    """Each stage table with its path and whether its name is to be recorded for later stages.

    A stage whose name is bad or used twice still has its options checked (under a stand-in
    name, not recorded); one without a kind cannot be, but its name is recorded as producing
    everything, so that later stages naming it get no knock-on problem.
    """
    stages = raw.get("stages", [])
    if not isinstance(stages, list) or not stages:
        problems.append(Problem("stages", "required: at least one [[stages]] table"))
        return []
    specs: list[tuple[StageSpec, str, bool]] = []
    seen: set[str] = set()
    for i, table in enumerate(stages):
        path = f"stages[{i}]"
        if not isinstance(table, dict):
            problems.append(Problem(path, f"expected a table, got {describe(table)}"))
            continue
        body = dict(table)
        kind, name = body.pop("kind", None), body.pop("name", None)
        if not isinstance(kind, str):
            problems.append(Problem(join(path, "kind"), "required: the stage kind (e.g. 'train')"))
            if isinstance(name, str) and name not in seen:
                seen.add(name)
                produced[name] = frozenset({"model", "images", "metrics"})
            continue
        if name is None:
            name = kind if kind not in seen else f"{kind}{i}"
        record = True
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            problems.append(Problem(join(path, "name"), f"expected a stage name, got {describe(name)}"))
            record = isinstance(name, str) and name not in seen
        elif name.lower() in RESERVED_STAGE_NAMES:
            reserved = ", ".join(sorted(RESERVED_STAGE_NAMES))
            problems.append(
                Problem(
                    join(path, "name"), f"stage name {name!r} is reserved (the run folder's own: {reserved})"
                )
            )
            record = name not in seen  # later references still resolve: one problem, not a cascade
        elif name in seen:
            problems.append(Problem(join(path, "name"), f"stage name {name!r} is used twice"))
            record = False
        if record:
            seen.add(name)
        specs.append((StageSpec(kind, name if isinstance(name, str) else f"{kind}{i}", body), path, record))
    return specs


_INDEX = re.compile(r"\[(\d+)\]")


def apply_overrides(raw: dict[str, Any], overrides: Iterable[str], problems: list[Problem]) -> dict[str, Any]:
    """Apply ``key.path=value`` overrides; ``stages.NAME`` or ``stages[i]`` address a stage."""
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            problems.append(Problem(f"--set {item}", "expected key.path=value"))
            continue
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text
        parts = [p for p in _INDEX.sub(r".\1", key.strip()).split(".") if p]
        error = _set_path(raw, parts, value)
        if error:
            problems.append(Problem(f"--set {key}", error))
    return raw


def _set_path(node: Any, parts: list[str], value: Any) -> str:
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            index = _list_index(node, part)
            if index is None:
                return f"no element {part!r}"
            if last:
                node[index] = value
                return ""
            node = node[index]
        elif isinstance(node, dict):
            if last:
                node[part] = value
                return ""
            node = node.setdefault(part, {})
        else:
            return f"{'.'.join(parts[:i])} is not a table"
    return ""


def _list_index(node: list[Any], part: str) -> int | None:
    if part.isdigit():
        return int(part) if int(part) < len(node) else None
    for i, item in enumerate(node):
        if isinstance(item, dict) and item.get("name", item.get("kind")) == part:
            return i
    return None


def recipe_to_dict(recipe: Recipe) -> dict[str, Any]:
    """The resolved recipe as plain data (defaults filled in), for the run directory."""
    converter = make_converter()
    out: dict[str, Any] = {"run": converter.unstructure(recipe.run)}
    if recipe.data is not None:
        data = converter.unstructure(recipe.data)
        out["data"] = {"source": data.pop("name"), **data}
    out["stages"] = [
        {"kind": s.kind, "name": s.name, **(converter.unstructure(s.options) if s.options else s.raw)}
        for s in recipe.stages
    ]
    return _drop_none(out)


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_drop_none(v) for v in value if v is not None]
    return value


__all__ = ["apply_overrides", "load_recipe", "parse_recipe", "recipe_to_dict"]
