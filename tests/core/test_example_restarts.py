"""The example plugin that wraps a built-in searcher by name (examples/plugins/ganaug-search-restarts),
installed with pip into a scratch environment and used through its entry point."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ganaug.host.loading import make_plugin_host
from tests.example_env import EXAMPLES, ScratchEnv, install_example, run_own_tests

pytestmark = pytest.mark.slow

EXAMPLE = EXAMPLES / "ganaug-search-restarts"
SEARCHER = "stages.evaluate.evaluators.anogan.searcher"
TINY_RUN = [
    "run.device=cpu",
    "data.image_size=16",
    'data.split={ train = { "8" = 12 }, test = { "8" = 4, "3" = 4 } }',
    "stages.dcgan.epochs=1",
    "stages.dcgan.batch_size=4",
    f"{SEARCHER}.inner.steps=3",
    f"{SEARCHER}.inner.record_every=1",
    f"{SEARCHER}.restarts=2",
    "stages.evaluate.evaluators.roc.bootstrap=0",
]


def sets(*items: str) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[ScratchEnv, Path]:
    return install_example(EXAMPLE.name, tmp_path_factory.mktemp("example-restarts"))


def test_install_leaves_this_environment_alone(installed: tuple[ScratchEnv, Path]) -> None:
    host = make_plugin_host(builtins=())
    assert "search-restarts" not in {p.name for p in host.loaded}
    assert "restarts" not in host.registry.names("latent_searchers")


def test_ganaug_plugins_lists_it_with_its_version(installed: tuple[ScratchEnv, Path]) -> None:
    env, _ = installed
    done = env.run("-m", "ganaug", "plugins", COLUMNS="200")
    assert done.returncode == 0, done.stdout + done.stderr
    row = next(line for line in done.stdout.splitlines() if "search-restarts" in line and "0.1.0" in line)
    assert "latent_searchers: restarts" in row and "entry point (ganaug-search-restarts)" in row
    assert "not loaded" not in done.stderr


def test_it_imports_no_plugin_modules() -> None:
    """It composes through the builder: nothing of ganaug_plugins (the built-ins) is imported, and of
    the core only what a plugin may import (api, kit, runtime, numeric)."""
    sources = "\n".join(p.read_text() for p in (EXAMPLE / "src").rglob("*.py"))
    assert "from ganaug.api.options import Builder" in sources
    assert not re.search(r"^\s*(from|import)\s+ganaug_plugins\b", sources, re.M)
    core = set(re.findall(r"^\s*(?:from|import)\s+ganaug\.(\w+)", sources, re.M))
    assert core and core <= {"api", "kit", "runtime", "numeric"}


def test_its_own_tests_pass_against_the_installed_package(installed: tuple[ScratchEnv, Path]) -> None:
    done = run_own_tests(*installed)  # they import the installed copy, not the source
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout and "failed" not in done.stdout


def test_validate_checks_the_inner_searchers_options(installed: tuple[ScratchEnv, Path]) -> None:
    env, source = installed
    recipe = str(source / "recipe.toml")
    checked = env.run("-m", "ganaug", "validate", recipe)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    bad = env.run("-m", "ganaug", "validate", recipe, *sets(f"{SEARCHER}.inner.steps=-1"), COLUMNS="200")
    assert bad.returncode != 0
    assert re.search(r"evaluators\[0\]\.searcher\.inner\.steps", bad.stdout + bad.stderr), bad.stderr


def test_example_recipe_scores_with_the_plugin(installed: tuple[ScratchEnv, Path], tmp_path: Path) -> None:
    registry = make_plugin_host(entry_points=False).registry
    needed = [("stages", "train"), ("stages", "evaluate"), ("data_sources", "mnist-5k")]
    missing = [f"{kind} {name!r}" for kind, name in needed if name not in registry.names(kind)]
    if missing:
        pytest.skip(f"waits for the built-in {', '.join(missing)}")
    env, source = installed
    recipe, out = source / "recipe.toml", tmp_path / "run"
    done = env.run("-m", "ganaug", "run", str(recipe), "--out", str(out), "--quiet", *sets(*TINY_RUN))
    assert done.returncode == 0, done.stdout + done.stderr
    assert (out / "evaluate" / "done.json").exists()
    metrics = json.loads((out / "evaluate" / "metrics.json").read_text())
    anogan = metrics["dcgan"]["anogan"]
    assert anogan["search_loss"]["steps"] == [0, 1, 2, 3]  # the inner searcher's recorded steps
    assert 0.0 <= anogan["auc"] <= 1.0
    manifest = json.loads((out / "manifest.json").read_text())
    plugins = {p["name"]: p for p in manifest["versions"]["plugins"]}
    assert plugins["search-restarts"]["version"] == "0.1.0"
    assert 'name = "restarts"' in (out / "recipe.toml").read_text()
