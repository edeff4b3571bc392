"""Recipe parsing and resolution: every error path is located, and all are reported at once."""

from __future__ import annotations

import tomllib

import pytest
import tomli_w

from ganaug.host.loading import make_plugin_host
from ganaug.recipe.load import parse_recipe, recipe_to_dict
from ganaug.runtime.errors import RecipeError
from tests.core_plugin import RECIPE, CorePlugin

REGISTRY = make_plugin_host(builtins=(), entry_points=False, extra=[("core", CorePlugin())]).registry


def problems(text: str, overrides: tuple[str, ...] = ()) -> dict[str, str]:
    with pytest.raises(RecipeError) as info:
        parse_recipe(text, registry=REGISTRY, overrides=overrides)
    return {p.path: p.message for p in info.value.problems}


def edit(**changes: object) -> str:
    raw = tomllib.loads(RECIPE)
    for dotted, value in changes.items():
        node = raw
        *parents, last = dotted.split("__")
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return tomli_w.dumps(raw)


def test_good_recipe_resolves_with_structured_options() -> None:
    recipe = parse_recipe(RECIPE, registry=REGISTRY)
    assert recipe.run.seed == 3
    assert recipe.data.name == "numbers" and recipe.data.options.classes == ["a", "b"]
    mean = recipe.stage("m")
    assert mean.options.data.classes == ["b"]
    assert mean.options.steps == 3
    assert mean.options.weighter.name == "shout" and mean.options.weighter.kind == "loss_weighters"
    assert mean.options.weighter.options.loud is False


def test_not_toml() -> None:
    found = problems("[run\nname = 1")
    assert list(found) == [""] and "not valid TOML" in found[""]


@pytest.mark.parametrize(
    ("changes", "path", "fragment"),
    [
        ({"run__seed": "many"}, "run.seed", "expected an integer, got string 'many'"),
        ({"run__seed": 1.5}, "run.seed", "expected an integer, got float"),
        ({"run__device": "gpu"}, "run.device", "expected auto, cpu, cuda or cuda:N"),
        ({"run__name": "bad name!"}, "run.name", "expected letters"),
        ({"run__colour": "red"}, "run.colour", "unknown option"),
        ({"data__source": "numbrs"}, "data.name", "did you mean 'numbers'"),
        ({"data__source": None}, "data.source", "required"),
        ({"data__per_class": 0}, "data.per_class", "must be >= 1"),
        ({"data__per_class": True}, "data.per_class", "expected an integer, got boolean"),
        ({"stages__0__kind": "meen"}, "stages[0].kind", "did you mean 'mean'"),
        ({"stages__0__kind": None}, "stages[0].kind", "required"),
        ({"stages__0__name": "r"}, "stages[1].name", "used twice"),
        ({"stages__0__name": "a b"}, "stages[0].name", "expected a stage name"),
        ({"stages__0__steps": "3"}, "stages[0].steps", "expected an integer, got string '3'"),
        ({"stages__0__steps": 0}, "stages[0].steps", "must be >= 1"),
        ({"stages__0__mode": "medium"}, "stages[0].mode", "expected one of 'fast', 'slow'"),
        ({"stages__0__epochz": 3}, "stages[0].epochz", "unknown option"),
        ({"stages__0__weighter": {"name": "whisper"}}, "stages[0].weighter.name", "known: shout"),
        ({"stages__0__weighter": {"loud": 1}}, "stages[0].weighter", "'name'"),
        (
            {"stages__0__weighter": {"name": "shout", "loud": "yes"}},
            "stages[0].weighter.loud",
            "true or false",
        ),
        ({"stages__0__weighter": 5}, "stages[0].weighter", "component name"),
        ({"stages__0__data": {"split": "val"}}, "stages[0].data.split", "unknown split 'val'"),
        ({"stages__0__data": {"classes": ["c"]}}, "stages[0].data.classes[0]", "unknown class 'c'"),
        ({"stages__0__data": {"limit": 0}}, "stages[0].data.limit", "must be >= 1"),
        ({"stages__1__source": "nothing"}, "stages[1].source", "no earlier stage named 'nothing'"),
        ({"data__classes": "ab"}, "data.classes", "array"),
        ({"run__seed": 2**64 - 1}, "run.seed", "must be < 9223372036854775808"),
        ({"run__seed": -1}, "run.seed", "must be >= 0"),
    ],
)
def test_each_error_is_located(changes: dict[str, object], path: str, fragment: str) -> None:
    found = problems(edit(**changes))
    assert path in found, found
    assert fragment in found[path]


def test_stage_reference_must_be_earlier_and_produce_the_right_thing() -> None:
    raw = tomllib.loads(RECIPE)
    raw["stages"].reverse()
    found = problems(tomli_w.dumps(raw))
    assert "no earlier stage named 'm'" in found["stages[0].source"]


def test_missing_sections() -> None:
    found = problems("[run]\nseed = 1\n")
    assert "required" in found["data"] and "required" in found["stages"]
    found = problems(RECIPE + "\n[extra]\nx = 1\n")
    assert found["extra"] == "unknown section"


def test_stage_not_a_table() -> None:
    found = problems(edit(stages=[1, {"kind": "mean"}]))
    assert "expected a table" in found["stages[0]"]


def test_every_problem_is_reported_at_once() -> None:
    found = problems(edit(run__seed="x", data__per_class=-1, stages__0__steps=0, stages__1__source="zzz"))
    assert {"run.seed", "data.per_class", "stages[0].steps", "stages[1].source"} <= set(found)


def test_an_unknown_option_does_not_hide_a_bad_value_beside_it() -> None:
    found = problems(edit(stages__0__steps=0, stages__0__epochz=3))
    assert found["stages[0].epochz"] == "unknown option" and "must be >= 1" in found["stages[0].steps"]
    found = problems(edit(stages__0__steps="x", stages__0__epochz=3))
    assert "expected an integer" in found["stages[0].steps"] and "stages[0].epochz" in found


def test_a_table_option_given_a_string_is_a_located_problem() -> None:
    from ganaug_plugins.data.plugin import register_data_sources  # noqa: F401  (the real mnist-5k)

    registry = make_plugin_host(entry_points=False).registry
    text = '[data]\nsource = "mnist-5k"\nsplit = "abc"\n[[stages]]\nkind = "train"\nname = "t"\n'
    with pytest.raises(RecipeError) as info:
        parse_recipe(text, registry=registry)
    found = {p.path: p.message for p in info.value.problems}
    assert found["data.split"] == "expected a table, got string 'abc'"


def test_overrides_by_stage_name_and_index() -> None:
    recipe = parse_recipe(
        RECIPE, registry=REGISTRY, overrides=("stages.m.steps=7", "stages[1].source=m", "run.seed=9")
    )
    assert recipe.stage("m").options.steps == 7
    assert recipe.run.seed == 9
    recipe = parse_recipe(
        RECIPE, registry=REGISTRY, overrides=('stages.m.weighter={name="shout", loud=true}',)
    )
    assert recipe.stage("m").options.weighter.options.loud is True


def test_override_errors_are_located() -> None:
    found = problems(RECIPE, overrides=("stages.nope.steps=1", "justakey", "stages.m.steps=zero"))
    assert "no element 'nope'" in found["--set stages.nope.steps"]
    assert "expected key.path=value" in found["--set justakey"]
    assert "expected an integer, got string 'zero'" in found["stages[0].steps"]


def test_resolved_recipe_round_trips_with_defaults_filled() -> None:
    recipe = parse_recipe(RECIPE, registry=REGISTRY)
    dumped = recipe_to_dict(recipe)
    assert dumped["stages"][0]["steps"] == 3  # a default, now explicit
    assert dumped["stages"][0]["weighter"] == {"name": "shout", "loud": False}
    again = parse_recipe(tomli_w.dumps(dumped), registry=REGISTRY)
    assert recipe_to_dict(again) == dumped


def test_naming_the_default_component_keeps_its_default_options() -> None:
    host = make_plugin_host(builtins=(), entry_points=False, extra=[("core", CorePlugin())])
    base = RECIPE + '\n[[stages]]\nkind = "uses"\nname = "u"\n'
    assert parse_recipe(base, registry=host.registry).stage("u").options.weighter.options.loud is True
    named = base + 'weighter = { name = "shout" }\n'
    assert parse_recipe(named, registry=host.registry).stage("u").options.weighter.options.loud is True
    overridden = base + 'weighter = { name = "shout", loud = false }\n'
    assert parse_recipe(overridden, registry=host.registry).stage("u").options.weighter.options.loud is False


def test_networks_are_checked_against_the_datas_image_size_at_validation() -> None:
    from pathlib import Path

    from ganaug.recipe.load import load_recipe

    quickstart = Path(__file__).resolve().parents[2] / "examples" / "quickstart.toml"
    registry = make_plugin_host(entry_points=False).registry
    with pytest.raises(RecipeError) as info:
        load_recipe(quickstart, overrides=["data.image_size=8"], registry=registry)
    found = {p.path: p.message for p in info.value.problems}
    assert set(found) == {
        "stages[0].generator",
        "stages[0].discriminator",
    }  # IAGAN needs >= 16; DCGAN takes 8
    assert (
        "generator 'iagan' (plugin 'builtin:models.iagan') cannot take 1x8x8 images: "
        "image size must be a power of two >= 16" in found["stages[0].generator"]
    )


@pytest.mark.parametrize("name", ["run.log", "manifest.json", "recipe.toml", "report.md", "data", "Exports"])
def test_stage_names_of_the_run_folders_own_files_are_refused(name: str) -> None:
    """A stage folder named like run.log or manifest.json would collide with the run's own file."""
    found = problems(edit(stages__1__name=name))
    assert found == {"stages[1].name": found["stages[1].name"]}
    assert f"stage name {name!r} is reserved" in found["stages[1].name"]


def test_reserved_names_cover_the_run_folders_files() -> None:
    from ganaug.recipe.schema import RESERVED_STAGE_NAMES
    from ganaug.runner.rundir import LOG, MANIFEST, RECIPE

    assert {LOG, MANIFEST, RECIPE, "report.md", "data"} <= RESERVED_STAGE_NAMES
