"""Recipes: TOML files that describe a whole experiment, structured and checked before running."""

from ganaug.api.options import ComponentRef
from ganaug.recipe.load import apply_overrides, load_recipe, parse_recipe
from ganaug.recipe.networks_check import check_networks, network_problems
from ganaug.recipe.schema import Recipe, RunSection, StageSpec

__all__ = [
    "ComponentRef",
    "Recipe",
    "RunSection",
    "StageSpec",
    "apply_overrides",
    "check_networks",
    "load_recipe",
    "network_problems",
    "parse_recipe",
]
