"""Recipes that would crash a run are refused at validation, each problem at its path: infinite
learning rates, networks too large for the machine, absurd nesting, empty model/evaluator lists."""

from __future__ import annotations

import pytest

from ganaug.host.loading import make_plugin_host
from ganaug.recipe.load import parse_recipe
from ganaug.runtime.errors import RecipeError

REGISTRY = make_plugin_host(entry_points=False).registry

RECIPE = """
[run]
seed = 0

[data]
source = "mnist-5k"
classes = ["8", "3"]
image_size = 16

[data.split]
train = { "8" = 8 }
test = { "8" = 4, "3" = 4 }

[[stages]]
kind = "train"
name = "g"
data = { split = "train", classes = ["8"] }
generator = { name = "dcgan", latent_dim = 8, width = 8 }
discriminator = { name = "dcgan", width = 8 }
epochs = 1

[[stages]]
kind = "evaluate"
name = "e"
models = ["g"]
positive = "3"
"""


def problems(text: str, *overrides: str) -> dict[str, str]:
    with pytest.raises(RecipeError) as info:
        parse_recipe(text, registry=REGISTRY, overrides=overrides)
    return {p.path: p.message for p in info.value.problems}


def test_the_base_recipe_is_valid() -> None:
    assert parse_recipe(RECIPE, registry=REGISTRY).stages[0].name == "g"


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "0.0"])
def test_a_learning_rate_must_be_finite_and_positive(value: str) -> None:
    found = problems(RECIPE, f"stages.g.lr_g={value}")
    assert "finite number > 0" in found["stages[0].lr_g"]


@pytest.mark.parametrize(
    ("override", "path"),
    [
        ("stages.g.generator.latent_dim=1000000000000", "stages[0].generator"),
        ("stages.g.generator.width=10000000", "stages[0].generator"),
    ],
)
def test_a_network_too_large_for_the_machine_is_a_located_problem(override: str, path: str) -> None:
    found = problems(RECIPE, override)
    assert "parameters: training needs about" in found[path] and "GiB this machine has" in found[path]


def test_a_deeply_nested_recipe_is_a_problem_not_a_recursion_error() -> None:
    deep = RECIPE + "\n[run.extra]\nv = " + "[" * 50_000 + "]" * 50_000 + "\n"
    assert problems(deep) == {"": "nested too deeply to be a recipe (arrays or tables)"}


@pytest.mark.parametrize(
    ("override", "path"),
    [("stages.e.models=[]", "stages[1].models"), ("stages.e.evaluators=[]", "stages[1].evaluators")],
)
def test_an_evaluate_stage_needs_models_and_evaluators(override: str, path: str) -> None:
    assert "must name at least one" in problems(RECIPE, override)[path]


def test_a_roc_curve_naming_a_method_no_evaluator_gives_is_refused() -> None:
    text = RECIPE + 'evaluators = [{ name = "knn" }, { name = "roc", curves = ["knn", "anogn"] }]\n'
    found = problems(text)
    assert list(found) == ["stages[1].evaluators[1].curves"]
    assert "no evaluator of this stage gives method 'anogn'" in found["stages[1].evaluators[1].curves"]
    ok = RECIPE + 'evaluators = [{ name = "anogan" }, { name = "knn" }, { name = "roc", curves = ["knn"] }]\n'
    assert parse_recipe(ok, registry=REGISTRY).stages[1].name == "e"
