"""Fuzzing recipe parsing: malformed input only ever yields a clean RecipeError."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ganaug.host.loading import make_plugin_host
from ganaug.recipe.load import parse_recipe
from ganaug.recipe.schema import Recipe
from ganaug.runtime.errors import RecipeError
from tests.core_plugin import RECIPE, CorePlugin

REGISTRY = make_plugin_host(builtins=(), entry_points=False, extra=[("core", CorePlugin())]).registry
BASE = tomllib.loads(RECIPE)

scalars = st.one_of(
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.booleans(),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += paths(value, (*prefix, i))
    return found


def parse(text: str) -> None:
    try:
        result = parse_recipe(text, registry=REGISTRY)
    except RecipeError as exc:
        assert exc.problems, "a RecipeError must list at least one problem"
        assert all(isinstance(p.message, str) and p.message for p in exc.problems)
    else:
        assert isinstance(result, Recipe)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text(text: str) -> None:
    parse(text)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.data())
def test_mutated_recipe(data: st.DataObject) -> None:
    raw = copy.deepcopy(BASE)
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.sampled_from(paths(raw) or [()]))
        if not where:
            continue
        parent = raw
        for part in where[:-1]:
            parent = parent[part]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[where[-1]] = data.draw(values)
        elif action == "delete" and isinstance(parent, dict):
            del parent[where[-1]]
        elif isinstance(parent, dict):
            parent[data.draw(st.text(min_size=1, max_size=6))] = data.draw(values)
        paths_now = paths(raw)
        if not paths_now:
            break
    parse(tomli_w.dumps(raw))
