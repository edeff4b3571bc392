"""Every recipe shipped in examples/ validates (names, options, references, network sizes)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ganaug.host.loading import make_plugin_host
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


def test_the_pair_ablation_recipe_holds_the_ablations_own_stages() -> None:
    """examples/ablation/pair.toml claims its rows are ablation.toml's: same data, and each stage
    as there (the evaluate stage only lists fewer models)."""
    full = tomllib.loads((EXAMPLES / "ablation" / "ablation.toml").read_text(encoding="utf-8"))
    pair = tomllib.loads((EXAMPLES / "ablation" / "pair.toml").read_text(encoding="utf-8"))
    assert pair["data"] == full["data"] and pair["run"]["seed"] == full["run"]["seed"]
    stages = {s["name"]: s for s in full["stages"]}
    for stage in pair["stages"]:
        expected = stages[stage["name"]]
        if stage["name"] == "evaluate":
            assert set(stage.pop("models")) < set(expected["models"])
            expected = {k: v for k, v in expected.items() if k != "models"}
        assert stage == expected, stage["name"]
    assert {"anogan_iagan_pair", "conversion_pair", "anogan_real_steps"} <= {
        s["name"] for s in pair["stages"]
    }
