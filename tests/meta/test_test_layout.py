"""The test suite's own layout, read from the source: no test module imports another test module,
and no conftest.py is imported by name. Shared fixtures live in a conftest.py, shared helpers in
plainly named modules (tests/training_toys.py, tests/plugin_dists.py, ...), so each test module
runs alone and pytest never collects or sets up one module's tests through another."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"


@attrs.frozen
class BadImport:
    path: str  # the importing file, relative to the repository
    line: int
    target: str  # the dotted name imported
    why: str


def _package(path: Path) -> list[str]:
    """The dotted package of ``path`` as a list (``tests/core/test_cli.py`` -> ``[tests, core]``)."""
    return list(path.relative_to(ROOT).parent.parts)


def _targets(node: ast.AST, package: list[str]) -> Iterator[str]:
    """Every dotted name an import node (or ``importlib.import_module("...")`` call) brings in;
    for ``from a import b`` both ``a`` and ``a.b``, since ``b`` may be a module."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = package[: len(package) - node.level + 1] if node.level else []
        module = ".".join([*base, *([node.module] if node.module else [])])
        yield module
        yield from (f"{module}.{alias.name}" if module else alias.name for alias in node.names)
    elif isinstance(node, ast.Call) and node.args:
        func, first = node.func, node.args[0]
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        is_text = isinstance(first, ast.Constant) and isinstance(first.value, str)
        if name in {"import_module", "__import__"} and is_text:
            yield first.value


def _why(target: str) -> str | None:
    parts = target.split(".")
    if "conftest" in parts:
        return "imports a conftest.py by name: pytest loads conftest files itself"
    if any(part.startswith("test_") for part in parts):
        return "imports a test module: move what it shares into a conftest.py or a helper module"
    return None


def bad_imports(source: str, path: Path) -> list[BadImport]:
    """Every import in ``source`` (module level, in functions and classes) of a test module or a
    conftest.py; ``path`` places relative imports and names the file in the findings."""
    package = _package(path)
    found = []
    for node in ast.walk(ast.parse(source, filename=str(path))):
        for target in _targets(node, package):
            why = _why(target)
            if why is not None:  # one finding an import: ``from a.test_b import c`` is not two
                where = path.relative_to(ROOT).as_posix()
                found.append(BadImport(where, getattr(node, "lineno", 0), target, why))
                break
    return found


def python_files() -> list[Path]:
    """Every Python file of the test suite: test modules, conftest files and helpers."""
    return sorted(p for p in TESTS.rglob("*.py") if "__pycache__" not in p.parts)


def test_the_layout_check_sees_the_test_modules() -> None:
    names = {p.name for p in python_files()}
    assert {"test_train_stage.py", "test_meta.py", "test_test_layout.py", "conftest.py"} <= names
    assert len([n for n in names if n.startswith("test_")]) > 50


def test_no_test_module_imports_another_or_a_conftest() -> None:
    found = [bad for path in python_files() for bad in bad_imports(path.read_text(encoding="utf-8"), path)]
    assert not found, "\n".join(f"{b.path}:{b.line}: {b.target}: {b.why}" for b in found)


HERE = TESTS / "core" / "test_example.py"


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("from tests.builtins.test_train_stage import HOST\n", "tests.builtins.test_train_stage"),
        ("import tests.core.test_meta\n", "tests.core.test_meta"),
        ("from tests.core import test_meta\n", "tests.core.test_meta"),
        ("from .test_plugin_host import fake_distribution\n", "tests.core.test_plugin_host"),
        ("from ..builtins.test_ema import ema\n", "tests.builtins.test_ema"),
        ("def helper():\n    from tests.core.test_meta import doc_section\n", "tests.core.test_meta"),
        ("class T:\n    def f(self):\n        import test_cli\n", "test_cli"),
        ("import importlib\nimportlib.import_module('tests.core.test_cli')\n", "tests.core.test_cli"),
        ("from tests.conftest import tiny\n", "tests.conftest"),
        ("import conftest\n", "conftest"),
        ("from . import conftest\n", "tests.core.conftest"),
    ],
)
def test_the_check_catches_a_bad_import(source: str, target: str) -> None:
    found = bad_imports(source, HERE)
    assert target in {b.target for b in found}, found
    assert all(b.path == "tests/core/test_example.py" and b.line > 0 for b in found)


def test_the_check_passes_helpers_and_libraries() -> None:
    source = (
        "import pytest\n"
        "from unittest import mock\n"
        "from torch import testing\n"
        "from ganaug.testing import tiny_recipe\n"
        "from tests.training_toys import HOST\n"
        "from tests.killhooks.runner import TINY\n"
        "from . import helpers\n"
        "def f():\n    import tests.plugin_dists\n"
    )
    assert bad_imports(source, HERE) == []
