"""Every recipe shipped in examples/ validates (names, options, references, network sizes)."""

from __future__ import annotations

import subprocess
import sys
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


def test_the_augmentation_map_recipes_are_what_their_script_writes() -> None:
    """examples/augmentation/ is generated: an edit by hand (or a changed script) is caught."""
    root = EXAMPLES.parent
    script = root / "scripts" / "augmentation_map.py"
    done = subprocess.run([sys.executable, str(script), "--check"], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert len(list((EXAMPLES / "augmentation").glob("map-*.toml"))) == 12
