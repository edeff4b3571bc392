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

from ganaug import _compat

__version__ = "0.2.0"

_compat.install()

if TYPE_CHECKING:
    from ganaug.apps.model import Model
    from ganaug.recipe.schema import Recipe
    from ganaug.runner.engine import RunResult


def load_recipe(path: str | Path, *, overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
    """Read and check a recipe file; raises ``RecipeError`` listing every problem with its path."""
    from ganaug.recipe.load import load_recipe as _load

    return _load(path, overrides=overrides)


def run(recipe: Recipe | str | Path, **kwargs: Any) -> RunResult:
    """Run a recipe (a loaded one, or a path); keyword arguments as :func:`engine.run_recipe`."""
    from ganaug.host.loading import make_plugin_host
    from ganaug.recipe.load import load_recipe as _load
    from ganaug.recipe.schema import Recipe
    from ganaug.runner.engine import run_recipe

    host = kwargs.pop("host", None) or make_plugin_host()  # one host: the recipe is checked against it
    if not isinstance(recipe, Recipe):
        recipe = _load(recipe, registry=host.registry)
    return run_recipe(recipe, host=host, **kwargs)


def load_model(run_dir: str | Path, name: str, **kwargs: Any) -> Model:
    """The trained model of stage ``name`` of a finished run, with ``.generate()`` and ``.score()``;
    keyword arguments as :func:`ganaug.apps.model.load_model` (``device``, ``scorer``, ``host``)."""
    from ganaug.apps.model import load_model as _load

    return _load(run_dir, name, **kwargs)


__all__ = ["__version__", "load_model", "load_recipe", "run"]
