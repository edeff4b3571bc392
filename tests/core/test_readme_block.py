"""The README's results block comes from the quickstart recipe as it is now."""

from __future__ import annotations

import re
from pathlib import Path

from ganaug.host.loading import make_plugin_host
from ganaug.recipe.load import load_recipe, recipe_to_dict
from ganaug.runner.rundir import recipe_hash

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_block_was_made_from_the_current_quickstart_recipe() -> None:
    """Any change to examples/quickstart.toml that can change its numbers changes the hash: then
    scripts/refresh-readme-results must be run in the same change."""
    block = (ROOT / "README.md").read_text(encoding="utf-8").split("<!-- quickstart-results:start -->")[1]
    found = re.search(r"recipe hash `([0-9a-f]{16})`", block)
    assert found, "the README block names no recipe hash: run scripts/refresh-readme-results"
    host = make_plugin_host(entry_points=False)
    recipe = load_recipe(
        ROOT / "examples" / "quickstart.toml", overrides=["run.seed=0"], registry=host.registry
    )
    assert found.group(1) == recipe_hash(recipe_to_dict(recipe)), (
        "examples/quickstart.toml changed since the README block was made: run scripts/refresh-readme-results"
    )
