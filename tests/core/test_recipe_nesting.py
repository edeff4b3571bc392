"""Recipe problems at every nesting level are reported at once, each at its path, with no knock-ons.

A stage option that fails no longer hides a problem in the searcher inside that stage (issue 15),
nor a type error a bad value beside it; a missing or bad parent does not make its children fail.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import attrs
import pytest
import tomli_w
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ganaug.api.hookspecs import Register, hookimpl
from ganaug.api.options import ComponentRef, component, stage_ref
from ganaug.api.selection import ImageSelection
from ganaug.apps.cli import cli
from ganaug.host.loading import make_plugin_host
from ganaug.recipe.load import parse_recipe
from ganaug.runtime.errors import RecipeError
from tests.core_plugin import RECIPE, CorePlugin


@attrs.frozen
class WalkOptions:
    """A searcher that may wrap another one: three levels of options below a stage."""

    steps: int = attrs.field(default=5, validator=attrs.validators.ge(0))
    lr: float = attrs.field(default=0.1, validator=attrs.validators.gt(0.0))
    inner: ComponentRef | None = attrs.field(default=None, metadata={"component": "latent_searchers"})


@attrs.frozen
class SeekOptions:
    source: str = stage_ref("metrics", default="m")
    queries: list[ImageSelection] = attrs.Factory(lambda: [ImageSelection()])
    copies: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    searcher: ComponentRef = component("latent_searchers", "walk", steps=3)


class NestPlugin:
    @hookimpl
    def register_latent_searchers(self, register: Register) -> None:
        register("walk", lambda options: options, options=WalkOptions)

    @hookimpl
    def register_stages(self, register: Register) -> None:
        register("seek", lambda options: options, options=SeekOptions)


PLUGINS = [("core", CorePlugin()), ("nest", NestPlugin())]
HOST = make_plugin_host(builtins=(), entry_points=False, extra=PLUGINS)

BASE = tomllib.loads(
    RECIPE
    + """
[[stages]]
kind = "seek"
name = "s"
source = "m"
queries = [{ split = "train", classes = ["a"] }]
searcher = { name = "walk", steps = 2, inner = { name = "walk", lr = 0.5 } }

[[stages]]
kind = "seek"
name = "t"
searcher = { name = "walk" }
"""
)


def _set(raw: dict[str, Any], dotted: str, value: object) -> None:
    """Set ``a.b[0].c`` in the raw recipe."""
    parts = dotted.replace("[", ".").replace("]", "").split(".")
    node: Any = raw
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    node[parts[-1]] = value


#: Independent faults: the path each is reported at, and the value that breaks it.
FAULTS: dict[str, tuple[str, object]] = {
    "extra": ("extra", 1),
    "run.seed": ("run.seed", "x"),
    "run.colour": ("run.colour", "red"),
    "run.trackers[0].name": ("run.trackers", ["nope"]),
    "data.per_class": ("data.per_class", 0),
    "stages[0].steps": ("stages[0].steps", 0),
    "stages[0].weighter.loud": ("stages[0].weighter", {"name": "shout", "loud": "yes"}),
    "stages[0].data.limit": ("stages[0].data.limit", 0),
    "stages[1].source": ("stages[1].source", "zzz"),
    "stages[2].copies": ("stages[2].copies", 0),
    "stages[2].searcher.steps": ("stages[2].searcher.steps", -1),
    "stages[2].searcher.inner.lr": ("stages[2].searcher.inner.lr", "x"),
    "stages[2].queries[0].limit": ("stages[2].queries[0].limit", 0),
    "stages[3].searcher.name": ("stages[3].searcher.name", "wlak"),
    "stages[3].colour": ("stages[3].colour", 1),
}


def inject(paths: set[str], base: dict[str, Any] = BASE) -> str:
    raw = copy.deepcopy(base)
    for path in paths:
        _set(raw, *FAULTS[path])
    return tomli_w.dumps(raw)


def reported(text: str, overrides: tuple[str, ...] = ()) -> dict[str, str]:
    with pytest.raises(RecipeError) as info:
        parse_recipe(text, registry=HOST.registry, overrides=overrides)
    found = [p.path for p in info.value.problems]
    assert len(found) == len(set(found)), f"a problem reported twice: {found}"
    return {p.path: p.message for p in info.value.problems}


def test_the_base_recipe_is_good() -> None:
    recipe = parse_recipe(tomli_w.dumps(BASE), registry=HOST.registry)
    searcher = recipe.stage("s").options.searcher
    assert searcher.options.steps == 2 and searcher.options.inner.options.lr == 0.5
    assert recipe.stage("t").options.searcher.options.steps == 3  # the default's own options kept


def test_problems_at_every_level_are_reported_at_once() -> None:
    assert set(reported(inject(set(FAULTS)))) == set(FAULTS)


def test_a_bad_stage_option_does_not_hide_the_searcher_inside_it() -> None:
    found = reported(inject({"stages[2].copies", "stages[2].searcher.steps", "stages[2].searcher.inner.lr"}))
    assert set(found) == {"stages[2].copies", "stages[2].searcher.steps", "stages[2].searcher.inner.lr"}
    assert "must be >= 1" in found["stages[2].copies"]
    assert "must be >= 0" in found["stages[2].searcher.steps"]
    assert "expected a number" in found["stages[2].searcher.inner.lr"]


def test_a_bad_searcher_option_does_not_hide_the_searcher_it_wraps() -> None:
    found = reported(inject({"stages[2].searcher.steps"}), overrides=("stages[2].searcher.inner.name=nope",))
    assert set(found) == {"stages[2].searcher.steps", "stages[2].searcher.inner.name"}


def test_a_type_error_does_not_hide_a_bad_value_beside_it() -> None:
    found = reported(inject({"stages[2].copies"}), overrides=('stages[2].queries="abc"',))
    assert set(found) == {"stages[2].copies", "stages[2].queries"}
    found = reported(inject(set()), overrides=('stages[2].copies="x"', "stages[2].searcher.steps=-1"))
    assert set(found) == {"stages[2].copies", "stages[2].searcher.steps"}


def test_a_failing_table_still_has_its_other_fields_checked() -> None:
    """The query table fails (limit), its class names are still checked against the data."""
    classes = 'stages[2].queries[0].classes=["c"]'
    found = reported(inject({"stages[2].queries[0].limit"}), overrides=(classes,))
    assert set(found) == {"stages[2].queries[0].limit", "stages[2].queries[0].classes[0]"}
    assert "unknown class 'c'" in found["stages[2].queries[0].classes[0]"]


def test_bad_data_options_skip_the_name_checks_that_need_the_data() -> None:
    """With [data] unusable its classes are unknown: a class name is then no problem (a knock-on)."""
    text = inject({"data.per_class"})
    assert set(reported(text, overrides=('stages[2].queries[0].classes=["c"]',))) == {"data.per_class"}


def test_a_bad_stage_name_does_not_hide_its_options_nor_cascade() -> None:
    # stage m becomes "a b" and every stage naming m follows it
    renamed = ('stages[0].name="a b"', *(f'stages[{i}].source="a b"' for i in (1, 2, 3)))
    found = reported(inject({"stages[0].steps"}), overrides=renamed)
    assert set(found) == {"stages[0].name", "stages[0].steps"}
    found = reported(inject({"stages[3].colour"}), overrides=('stages[3].name="s"',))
    assert set(found) == {"stages[3].name", "stages[3].colour"}
    assert "used twice" in found["stages[3].name"]


def test_a_stage_without_a_kind_does_not_make_later_references_to_it_fail() -> None:
    raw = copy.deepcopy(BASE)
    del raw["stages"][0]["kind"]
    assert set(reported(tomli_w.dumps(raw))) == {"stages[0].kind"}
    raw["stages"][0]["kind"] = "meen"
    assert set(reported(tomli_w.dumps(raw))) == {"stages[0].kind"}


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sets(st.sampled_from(sorted(FAULTS)), min_size=1))
def test_reported_paths_equal_injected_faults(injected: set[str]) -> None:
    assert set(reported(inject(injected))) == injected


def test_cli_validate_prints_every_level(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("ganaug.host.loading.make_plugin_host", lambda **_: HOST)
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(inject(set(FAULTS)))
    result = CliRunner().invoke(cli, ["validate", str(recipe)])
    assert result.exit_code == 2, result.output
    assert f"{len(FAULTS)} problem(s)" in result.output
    for path in FAULTS:
        assert f"  {path}: " in result.output, path
    assert "Traceback" not in result.output


QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart.toml"
#: The issue's report on the real built-ins: stages[3] is an augment stage with a backprop searcher.
ISSUE = ("stages[3].copies=0", "stages[3].searcher.steps=-1", 'stages[8].evaluators[0].searcher.lr="x"')


def test_the_issue_on_the_quickstart_recipe() -> None:
    result = CliRunner().invoke(
        cli, ["validate", str(QUICKSTART), *(arg for item in ISSUE for arg in ("--set", item))]
    )
    assert result.exit_code == 2, result.output
    assert "3 problem(s)" in result.output
    assert "stages[3].copies: 'copies' must be >= 1: 0" in result.output
    assert "stages[3].searcher.steps: 'steps' must be >= 0: -1" in result.output
    assert "stages[8].evaluators[0].searcher.lr: expected a number" in result.output
