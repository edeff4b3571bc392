"""ganaug: a plugin-based GAN framework for generative data augmentation and anomaly detection.

From Python::

    import ganaug
    recipe = ganaug.load_recipe("examples/quickstart.toml", overrides=["run.seed=1"])
    result = ganaug.run(recipe)
    print(result.run_dir, result.metrics)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from ganaug.engine import RunResult
    from ganaug.recipe.schema import Recipe


def load_recipe(path: str | Path, *, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """Read and check a recipe file; raises ``RecipeError`` listing every problem with its path."""
    from ganaug.recipe.load import load_recipe as _load

    return _load(path, overrides=overrides)


def run(recipe: Recipe | str | Path, **kwargs: Any) -> RunResult:
    """Run a recipe (a loaded one, or a path); keyword arguments as :func:`engine.run_recipe`."""
    from ganaug.engine import run_recipe

    if not hasattr(recipe, "stages"):
        recipe = load_recipe(recipe)  # type: ignore[arg-type]
    return run_recipe(recipe, **kwargs)  # type: ignore[arg-type]


__all__ = ["__version__", "load_recipe", "run"]
