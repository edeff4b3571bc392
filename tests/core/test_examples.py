"""Every recipe shipped in examples/ validates (names, options, references, network sizes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganaug.plugins import make_plugin_host
from ganaug.recipe.load import load_recipe

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RECIPES = sorted(p for p in EXAMPLES.rglob("*.toml") if "plugins" not in p.relative_to(EXAMPLES).parts)
REGISTRY = make_plugin_host(entry_points=False).registry


@pytest.mark.parametrize("path", RECIPES, ids=[str(p.relative_to(EXAMPLES)) for p in RECIPES])
def test_example_recipe_validates(path: Path) -> None:
    recipe = load_recipe(path, registry=REGISTRY)
    assert recipe.stages, path


def test_the_examples_are_found() -> None:
    names = {str(p.relative_to(EXAMPLES)) for p in RECIPES}
    assert {"quickstart.toml", "paper.toml", "ablation/ablation.toml"} <= names
