"""What a recipe is told about a key it should not have: a former name (``renamed_from``, on any kind
of options field) says what replaced it, and a stored run recipe using it is still read; an unknown
key gets the closest option name, if one is close."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import attrs
import pytest
import tomli_w
from hypothesis import given
from hypothesis import strategies as st

from ganaug.api.hookspecs import Register, hookimpl
from ganaug.api.interfaces import StageOutput
from ganaug.api.options import ComponentRef, component, components, renamed_options, stage_ref
from ganaug.host.loading import PluginHost
from ganaug.recipe.convert import make_converter, structure
from ganaug.recipe.schema import RunSection
from ganaug.runner.restore import run_recipe_of
from ganaug.runtime.errors import Problem, RecipeError
from ganaug.testing import TINY, plugin_host, recipe_from, run_text, tiny_recipe


@attrs.frozen
class PickOptions:
    """A stage whose component, component-list and stage-reference fields were each renamed."""

    net: ComponentRef = component("generators", renamed_from="network", help="a required component")
    encoders: list[ComponentRef] = components("encoders", "tiny", renamed_from=("coders", "encs"), help="x")
    source: str | None = stage_ref("metrics", default=None, renamed_from="upstream", help="an earlier stage")


class PickStage:
    """Writes which components and stage it was given, and reads that back on restore."""

    produces = frozenset({"metrics"})

    def __init__(self, options: PickOptions) -> None:
        self.options = options

    def run(self, ctx: Any) -> StageOutput:
        picked = {"net": self.options.net.name, "source": self.options.source}
        (ctx.dir / "picked.json").write_text(json.dumps(picked))
        return StageOutput(metrics=picked)

    def restore(self, ctx: Any) -> StageOutput:
        return StageOutput(metrics=json.loads((ctx.dir / "picked.json").read_text()))


class Renaming:
    plugin_name = "renaming"

    @hookimpl
    def register_stages(self, register: Register) -> None:
        register("pick", PickStage, options=PickOptions, description="renamed fields")


STAGES = (
    {"kind": "pick", "name": "first", "net": "tiny"},
    {"kind": "pick", "name": "second", "net": {"name": "tiny", "latent_dim": 4}, "source": "first"},
)


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return plugin_host(TINY, Renaming(), builtins=False)


def problems_of(text: str, host: PluginHost) -> list[Problem]:
    with pytest.raises(RecipeError) as caught:
        recipe_from(text, host)
    return caught.value.problems


# --- renamed fields ----------------------------------------------------------------------------


def test_component_field_helpers_record_former_names_like_option() -> None:
    assert renamed_options(PickOptions) == {
        "network": "net",
        "coders": "encoders",
        "encs": "encoders",
        "upstream": "source",
    }


def test_a_former_component_name_is_answered_with_its_current_name(host: PluginHost) -> None:
    old = ({"kind": "pick", "name": "first", "network": "tiny"},)
    found = problems_of(tiny_recipe(*old), host)
    # one problem: the required field given under its former name is not also "missing"
    assert [(p.path, p.message, p.renamed_to) for p in found] == [
        ("stages[0].network", "renamed: use net", "net")
    ]


def test_a_value_under_a_former_name_is_still_checked_under_the_current_one(host: PluginHost) -> None:
    old = ({"kind": "pick", "name": "first", "network": "nosuch"},)
    found = {p.path: p for p in problems_of(tiny_recipe(*old), host)}
    assert found["stages[0].network"].renamed_to == "net"
    assert "nosuch" in found["stages[0].net.name"].message


def test_former_names_of_list_and_stage_reference_fields(host: PluginHost) -> None:
    stage = {"kind": "pick", "name": "second", "net": "tiny", "encs": ["tiny"], "upstream": "first"}
    found = problems_of(tiny_recipe(STAGES[0], stage), host)
    assert {(p.path, p.message, p.renamed_to) for p in found} == {
        ("stages[1].encs", "renamed: use encoders", "encoders"),
        ("stages[1].upstream", "renamed: use source", "source"),
    }


def test_a_stored_run_recipe_with_former_names_is_still_restored(host: PluginHost, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_text(tiny_recipe(*STAGES), host, run_dir)
    stored = tomllib.loads((run_dir / "recipe.toml").read_text())
    second = stored["stages"][1]
    assert {"net", "encoders", "source"} <= set(second)
    second["network"], second["coders"], second["upstream"] = (
        second.pop("net"),
        second.pop("encoders"),
        second.pop("source"),
    )
    (run_dir / "recipe.toml").write_text(tomli_w.dumps(stored))
    recipe = run_recipe_of(run_dir, host)
    options = recipe.stage("second").options
    assert options.source == "first"
    assert options.net.name == "tiny" and options.net.options.latent_dim == 4
    assert [ref.name for ref in options.encoders] == ["tiny"]


# --- did you mean --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "path", "hint"),
    [
        ({"run": {"sed": 1}}, "run.sed", "seed"),
        ({"data": {"per_clas": 2}}, "data.per_clas", "per_class"),
        ({"stage": {"net": "tiny", "encoderz": []}}, "stages[0].encoderz", "encoders"),
        ({"stage": {"net": {"name": "tiny", "latnt_dim": 4}}}, "stages[0].net.latnt_dim", "latent_dim"),
    ],
)
def test_an_unknown_option_names_the_closest_option(
    host: PluginHost, table: dict[str, Any], path: str, hint: str
) -> None:
    stage = {"kind": "pick", "name": "p", "net": "tiny", **table.get("stage", {})}
    text = tiny_recipe(stage, run=table.get("run"), data=table.get("data"))
    found = {p.path: p.message for p in problems_of(text, host)}
    assert found == {path: f"unknown option (did you mean {hint!r}?)"}


def test_an_unknown_option_close_to_nothing_gets_no_hint(host: PluginHost) -> None:
    text = tiny_recipe({"kind": "pick", "name": "p", "net": "tiny", "zzz": 1})
    assert {p.path: p.message for p in problems_of(text, host)} == {"stages[0].zzz": "unknown option"}


def test_an_unknown_section_names_the_closest_section(host: PluginHost) -> None:
    raw = tomllib.loads(tiny_recipe({"kind": "pick", "name": "p", "net": "tiny"}))
    raw["stage"] = [raw.pop("stages")[0]]
    found = {p.path: p.message for p in problems_of(tomli_w.dumps(raw), host)}
    assert found["stage"] == "unknown section (did you mean 'stages'?)"


RUN_FIELDS = [field.name for field in attrs.fields(RunSection)]
#: characters in no option name: a typo made of one matches nothing by itself
FOREIGN = "QXZ0123456789"


@st.composite
def one_typo(draw: st.DrawFn) -> tuple[str, str]:
    """A [run] option name and that name with one character deleted, replaced, inserted or swapped."""
    name = draw(st.sampled_from(RUN_FIELDS))
    i = draw(st.integers(0, len(name) - 1))
    char = draw(st.sampled_from(FOREIGN))
    edit = draw(st.sampled_from(["delete", "replace", "insert", "swap"]))
    if edit == "swap" and i + 1 < len(name) and name[i] != name[i + 1]:
        typo = name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    elif edit == "delete":
        typo = name[:i] + name[i + 1 :]
    elif edit == "insert":
        typo = name[:i] + char + name[i:]
    else:
        typo = name[:i] + char + name[i + 1 :]
    return name, typo


@given(one_typo())
def test_any_one_character_typo_of_a_run_option_names_that_option(case: tuple[str, str]) -> None:
    name, typo = case
    _, found = structure(make_converter(), {typo: 1}, RunSection, "run")
    hint = f"unknown option (did you mean {name!r}?)"
    assert [(p.path, p.message) for p in found] == [(f"run.{typo}", hint)]
