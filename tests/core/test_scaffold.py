"""``ganaug new-plugin``: the skeleton of every kind is a working, tested, lint-clean plugin."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner

from ganaug.api.hookspecs import KINDS as REGISTRY_KINDS
from ganaug.api.options import help_of
from ganaug.apps.cli import cli
from ganaug.apps.scaffold import DEFAULT_KIND, KINDS, names_for, scaffold
from ganaug.testing import check_component, plugin_host

ALL_KINDS = sorted(KINDS)


@pytest.fixture
def fresh_modules() -> Iterator[None]:
    """Forget the generated packages imported by a test, so the next one imports its own."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("ganaug_scaffold_"):
            del sys.modules[name]


def test_names_derived_from_the_plugin_name() -> None:
    assert names_for("ganaug-edge-gap") == names_for("edge-gap")
    values = names_for("edge-gap")
    assert (values["dist"], values["component"], values["package"], values["cls"]) == (
        "ganaug-edge-gap",
        "edge-gap",
        "ganaug_edge_gap",
        "EdgeGap",
    )


def test_every_template_is_written_and_every_file_has_a_template() -> None:
    folder = Path(importlib.import_module("ganaug.apps.templates").__file__).parent
    used = {template for kind in KINDS.values() for template in kind.files().values()}
    assert {p.name for p in folder.glob("*.tmpl")} == used


def test_kinds_cover_the_issue_list_and_weighter_stays_the_default() -> None:
    assert set(KINDS) == {
        "generator",
        "discriminator",
        "encoder",
        "loss",
        "weighter",
        "augmenter",
        "regularizer",
        "searcher",
        "backbone",
        "evaluator",
        "data",
        "stage",
        "tracker",
    }
    assert DEFAULT_KIND == "weighter"


def test_every_component_kind_has_a_skeleton() -> None:
    """One ``--kind`` per registry kind: a kind added to the hookspecs needs a skeleton too."""
    registries = [kind.registry for kind in KINDS.values()]
    assert sorted(registries) == sorted(REGISTRY_KINDS)
    assert len({kind.module for kind in KINDS.values()}) == len(KINDS)


def test_the_kind_option_names_every_kind() -> None:
    result = CliRunner().invoke(cli, ["new-plugin", "--help"])
    assert result.exit_code == 0, result.output
    words = " ".join(result.output.split())
    assert all(kind in words for kind in KINDS)
    assert "loss: a GAN loss" in words and "data: a data source" in words


@pytest.mark.parametrize("bad", ["Edge", "edge gap", "1edge", "edge-", "edge--gap", "ganaug-", "e_g"])
def test_bad_names_are_refused_by_the_command(bad: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["new-plugin", bad, "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "is not a plugin name" in result.output
    assert list(tmp_path.iterdir()) == []


def test_command_writes_the_skeleton(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["new-plugin", "scaffold-one", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    root = tmp_path / "ganaug-scaffold-one"
    written = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert written == [
        "README.md",
        "pyproject.toml",
        "src/ganaug_scaffold_one/__init__.py",
        "src/ganaug_scaffold_one/plugin.py",
        "src/ganaug_scaffold_one/weighter.py",
        "tests/test_plugin.py",
    ]
    assert "${" not in "".join(p.read_text() for p in root.rglob("*") if p.is_file())
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["name"] == "ganaug-scaffold-one"
    assert project["entry-points"]["ganaug"] == {"scaffold-one": "ganaug_scaffold_one.plugin"}
    assert any(dep.startswith("pytest") for dep in project["optional-dependencies"]["test"])
    assert "pip install -e '.[test]'" in result.output
    assert "pip install -e '.[test]'" in (root / "README.md").read_text()


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_command_writes_each_kind(kind: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["new-plugin", "edge", "--kind", kind, "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    root = tmp_path / "ganaug-edge"
    module = KINDS[kind].module
    assert (root / "src" / "ganaug_edge" / f"{module}.py").is_file()
    plugin = (root / "src" / "ganaug_edge" / "plugin.py").read_text()
    assert f"def {KINDS[kind].hook}(" in plugin
    assert "${" not in "".join(p.read_text() for p in root.rglob("*") if p.is_file())
    assert f"Use the {KINDS[kind].what} in a recipe" in result.output and '"edge"' in result.output


def test_unknown_kind_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["new-plugin", "edge", "--kind", "gan-loss", "--dir", str(tmp_path)])
    assert result.exit_code == 2 and "'gan-loss' is not one of" in result.output
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="unknown plugin kind 'gan-loss'"):
        scaffold("edge", tmp_path, "gan-loss")


def test_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "ganaug-kept"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    result = CliRunner().invoke(cli, ["new-plugin", "kept", "--dir", str(tmp_path)])
    assert result.exit_code == 2 and "not empty" in result.output
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_entry_point_target_registers_a_working_component(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_modules: None
) -> None:
    scaffold(f"scaffold-two-{kind}", tmp_path, kind)
    root = tmp_path / f"ganaug-scaffold-two-{kind}"
    monkeypatch.syspath_prepend(str(root / "src"))
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    (name, target), *_ = project["entry-points"]["ganaug"].items()
    module = importlib.import_module(target)
    host = plugin_host((name, module), builtins=False)
    registry_kind = KINDS[kind].registry
    assert {k: host.registry.names(k) for k in host.registry.kinds() if host.registry.names(k)} == {
        registry_kind: [f"scaffold-two-{kind}"]
    }
    built = check_component(host, registry_kind, f"scaffold-two-{kind}")  # all defaults
    assert type(built).__module__ == f"ganaug_scaffold_two_{kind}.{KINDS[kind].module}"


def test_weighter_options_reach_the_component(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_modules: None
) -> None:
    scaffold("scaffold-three", tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path / "ganaug-scaffold-three" / "src"))
    host = plugin_host(importlib.import_module("ganaug_scaffold_three.plugin"), builtins=False)
    weighter = check_component(host, "loss_weighters", "scaffold-three", {"strength": 0.5})
    assert weighter.options.strength == 0.5


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_every_option_has_help(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_modules: None
) -> None:
    """docs/plugins.md's rule, kept by every skeleton: each options field has a one-line help."""
    scaffold(f"scaffold-help-{kind}", tmp_path, kind)
    monkeypatch.syspath_prepend(str(tmp_path / f"ganaug-scaffold-help-{kind}" / "src"))
    plugin = importlib.import_module(f"ganaug_scaffold_help_{kind}.plugin")
    registry = plugin_host(plugin, builtins=False).registry
    options = registry.get(KINDS[kind].registry, f"scaffold-help-{kind}").options
    fields = attrs.fields(options)
    assert fields, f"{options.__name__} has no options"
    assert {f.name: help_of(f).strip() != "" for f in fields} == {f.name: True for f in fields}


def _ruff(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args], cwd=root, capture_output=True, text=True, check=False
    )


#: The option helpers (see the project's own pyproject.toml): attrs fields, not calls RUF009 flags.
IMMUTABLE_CALLS = [f"ganaug.api.options.{f}" for f in ("component", "components", "option", "stage_ref")]


@pytest.mark.parametrize("kind", ALL_KINDS)
@pytest.mark.parametrize("name", ["lint", "a-rather-long-plugin-name"])
def test_skeleton_is_lint_clean(kind: str, name: str, tmp_path: Path) -> None:
    """With the skeleton's own ruff settings, which select the RUF rules (RUF009 included) and
    declare the option helpers immutable calls."""
    scaffold(name, tmp_path, kind)
    root = tmp_path / f"ganaug-{name}"
    lint = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]
    assert "RUF" in lint["select"]
    assert lint["flake8-bugbear"]["extend-immutable-calls"] == IMMUTABLE_CALLS
    for args in (["check", "--extend-select", "RUF", "."], ["format", "--check", "."]):
        done = _ruff(root, *args)
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("kind", ["data", "stage"])
def test_lint_needs_the_immutable_calls(kind: str, tmp_path: Path) -> None:
    """The lint test exercises the setting: these skeletons have an ``option()`` field of a mutable
    type, which RUF009 flags once the option helpers are not declared immutable."""
    scaffold("lint", tmp_path, kind)
    no_calls = "lint.flake8-bugbear.extend-immutable-calls = []"
    done = _ruff(tmp_path / "ganaug-lint", "check", "--config", no_calls, "--select", "RUF009", ".")
    assert done.returncode == 1 and "RUF009" in done.stdout, done.stdout + done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("kind", ALL_KINDS)
def test_skeleton_tests_pass(kind: str, tmp_path: Path) -> None:
    """The generated tests pass as written (the skeleton's pyproject puts ``src`` on the path)."""
    scaffold(f"scaffold-run-{kind}", tmp_path, kind)
    root = tmp_path / f"ganaug-scaffold-run-{kind}"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    passed = re.search(r"(\d+) passed", done.stdout)
    assert passed and int(passed.group(1)) >= 4, done.stdout
    assert "skipped" not in done.stdout
