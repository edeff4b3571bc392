"""``ganaug new-plugin``: the skeleton it writes is a working, tested, lint-clean plugin."""

from __future__ import annotations

import importlib
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ganaug.cli import cli
from ganaug.scaffold import FILES, names_for, scaffold
from ganaug.testing import check_component, plugin_host


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
    folder = Path(importlib.import_module("ganaug.templates").__file__).parent
    assert {p.name for p in folder.glob("*.tmpl")} == set(FILES.values())


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
    assert "pip install -e ." in result.output


def test_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "ganaug-kept"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    result = CliRunner().invoke(cli, ["new-plugin", "kept", "--dir", str(tmp_path)])
    assert result.exit_code == 2 and "not empty" in result.output
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


def test_entry_point_target_registers_a_working_component(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_modules: None
) -> None:
    scaffold("scaffold-two", tmp_path)
    root = tmp_path / "ganaug-scaffold-two"
    monkeypatch.syspath_prepend(str(root / "src"))
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    (name, target), *_ = project["entry-points"]["ganaug"].items()
    module = importlib.import_module(target)
    host = plugin_host((name, module), builtins=False)
    assert host.registry.names("loss_weighters") == ["scaffold-two"]
    weighter = check_component(host, "loss_weighters", "scaffold-two", {"strength": 0.5})
    assert weighter.options.strength == 0.5


def test_skeleton_is_lint_clean(tmp_path: Path) -> None:
    scaffold("scaffold-lint", tmp_path)
    root = tmp_path / "ganaug-scaffold-lint"
    for args in (["check", "."], ["format", "--check", "."]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *args], cwd=root, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow
def test_skeleton_tests_pass(tmp_path: Path) -> None:
    scaffold("scaffold-run", tmp_path)
    root = tmp_path / "ganaug-scaffold-run"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout
