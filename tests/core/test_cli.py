"""The command line through click's runner: version, plugins, validate, run, error output."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ganaug import __version__
from ganaug.apps.cli import cli
from ganaug.runtime.errors import RecipeError
from tests.core_plugin import RECIPE
from tests.plugin_dists import fake_distribution


@pytest.fixture
def with_core_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Install the core test plugin as a real entry point, plus one broken plugin."""
    site = tmp_path / "site"
    fake_distribution(
        site,
        "ganaug_core_test",
        "9.9",
        {"core-test": "core_entry:PLUGIN", "broken-test": "broken_entry"},
        {
            "core_entry": "from tests.core_plugin import CorePlugin\nPLUGIN = CorePlugin()\n",
            "broken_entry": "import does_not_exist\n",
        },
    )
    monkeypatch.syspath_prepend(str(site))
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(RECIPE)
    return recipe


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_plugins_lists_builtins_entry_points_and_failures(with_core_plugin: Path) -> None:
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0
    assert "builtin:stages" in result.output and "stages: augment, encoder, evaluate, train" in result.output
    assert (
        "core-test" in result.output and "9.9" in result.output and "data_sources: numbers" in result.output
    )
    assert "broken-test" in result.output and "does_not_exist" in result.output


def test_validate_ok(with_core_plugin: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", str(with_core_plugin)])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output and "m (mean)" in result.output


def test_validate_lists_every_problem_without_traceback(with_core_plugin: Path) -> None:
    bad = with_core_plugin.with_name("bad.toml")
    bad.write_text(RECIPE.replace("seed = 3", 'seed = "x"').replace('source = "m"', 'source = "zz"'))
    result = CliRunner().invoke(cli, ["validate", str(bad), "--set", "stages.m.steps=0"])
    assert result.exit_code == 2
    assert "3 problem(s)" in result.output
    assert "run.seed: expected an integer, got string 'x'" in result.output
    assert "stages[0].steps: 'steps' must be >= 1" in result.output
    assert "stages[1].source: no earlier stage named 'zz'" in result.output
    assert "Traceback" not in result.output


def test_debug_shows_the_exception(with_core_plugin: Path) -> None:
    bad = with_core_plugin.with_name("bad.toml")
    bad.write_text("[run\n")
    result = CliRunner().invoke(cli, ["--debug", "validate", str(bad)])
    assert isinstance(result.exception, RecipeError)


def test_run_quiet_writes_a_run_dir(with_core_plugin: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            "run",
            str(with_core_plugin),
            "--out",
            str(out),
            "--quiet",
            "--device",
            "cpu",
            "--set",
            "run.seed=4",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(str(out))
    assert (out / "m" / "mean.json").exists()
    assert "seed = 4" in (out / "recipe.toml").read_text()


def test_run_refusal_is_a_clean_error(with_core_plugin: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "x").write_text("x")
    result = CliRunner().invoke(cli, ["run", str(with_core_plugin), "--out", str(out), "--quiet"])
    assert result.exit_code == 5
    assert "not empty" in result.output and "Traceback" not in result.output


def test_missing_recipe_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert "cannot read recipe" in result.output
