"""The core's layering, read from the source: which folder of ``ganaug/`` may import which, what the
built-in plugins may import, and no import circles (type-only and function-local imports count)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import attrs
import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "ganaug"
PLUGINS = ROOT / "plugins"

#: the package face: what ``import ganaug`` shows, ``python -m ganaug`` and the old-path aliases
FACE = {"ganaug", "ganaug.__main__", "ganaug._compat"}
BOTTOM = {"runtime", "numeric"}
#: apps -> runner -> recipe/host -> api/kit -> runtime/numeric; testing serves plugin authors' tests
ALLOWED: dict[str, set[str]] = {
    "runtime": {"runtime"},
    "numeric": {"numeric"},
    "api": {"api"} | BOTTOM,
    "kit": {"kit", "api"} | BOTTOM,
    "recipe": {"recipe", "host", "api", "kit"} | BOTTOM,
    "host": {"host", "recipe", "api", "kit"} | BOTTOM,
    "runner": {"runner", "recipe", "host", "api", "kit"} | BOTTOM,
    "apps": {"apps", "runner", "recipe", "host", "api", "kit"} | BOTTOM,
    "testing": {"testing", "apps", "runner", "recipe", "host", "api", "kit"} | BOTTOM,
}
#: what a plugin, built-in or not, may import from the core
PLUGIN_ALLOWED = {"api", "kit", "runtime", "numeric"}


@attrs.frozen
class Import:
    source: str  # the importing module
    target: str  # the imported ganaug module
    type_only: bool  # inside ``if TYPE_CHECKING:``
    line: int


def module_name(path: Path, root: Path, package: str) -> str:
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def core_modules() -> dict[str, Path]:
    return {module_name(p, CORE, "ganaug"): p for p in CORE.rglob("*.py")}


def resolve(name: str, known: set[str]) -> str | None:
    """The longest known module ``name`` starts with (``ganaug.api.records.ImageSpec`` -> records)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if (candidate := ".".join(parts[:end])) in known:
            return candidate
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(source: str, path: Path, known: set[str]) -> Iterator[Import]:
    """Every ganaug import in ``path`` (module level, in functions, under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            type_only |= {id(n) for child in node.body for n in ast.walk(child)}
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name.split(".")[0] != "ganaug":
                continue
            target = resolve(name, known)
            if target is not None and target != source:
                yield Import(source, target, id(node) in type_only, node.lineno)


def folder(module: str) -> str:
    return module.split(".")[1] if module.count(".") >= 1 and module not in FACE else ""


@pytest.fixture(scope="module")
def core_imports() -> list[Import]:
    modules = core_modules()
    return [i for name, path in modules.items() for i in imports_of(name, path, set(modules))]


def test_no_module_sits_at_the_top_level_but_the_package_face() -> None:
    top = {p.stem for p in CORE.glob("*.py")}
    assert top == {"__init__", "__main__", "_compat"}
    assert {p.name for p in CORE.iterdir() if p.is_dir() and p.name != "__pycache__"} == {
        *ALLOWED,
    }


def test_no_folder_shadows_a_name_of_the_package_face() -> None:
    """``ganaug.run(recipe)`` stays the function once every subpackage has been imported."""
    import importlib

    import ganaug

    for name in core_modules():
        importlib.import_module(name)
    assert callable(ganaug.run) and callable(ganaug.load_recipe) and callable(ganaug.load_model)
    assert not {p.name for p in CORE.iterdir()} & set(ganaug.__all__)


def test_each_folder_imports_only_the_layers_below_it(core_imports: list[Import]) -> None:
    wrong = [
        f"{i.source} (line {i.line}) imports {i.target}"
        for i in core_imports
        if not i.type_only
        and i.source not in FACE
        and i.target not in FACE
        and folder(i.target) not in ALLOWED[folder(i.source)]
    ]
    assert wrong == []


def test_only_the_face_and_apps_import_the_package_face(core_imports: list[Import]) -> None:
    """``from ganaug import __version__``: the applications, the runner and the host; nothing below."""
    wrong = [
        f"{i.source} imports {i.target}"
        for i in core_imports
        if i.target == "ganaug"
        and i.source not in FACE
        and folder(i.source) not in {"apps", "runner", "host"}
    ]
    assert wrong == []


def test_no_import_circles(core_imports: list[Import]) -> None:
    graph = nx.DiGraph()
    graph.add_edges_from(
        (i.source, i.target) for i in core_imports if i.target not in FACE and i.source not in FACE
    )
    circles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert circles == []


def test_plugins_import_only_the_api_the_kit_and_the_runtime() -> None:
    known = set(core_modules())
    wrong = []
    for path in PLUGINS.rglob("*.py"):
        name = module_name(path, PLUGINS, "ganaug_plugins")
        wrong += [
            f"{name} (line {i.line}) imports {i.target}"
            for i in imports_of(name, path, known)
            if folder(i.target) not in PLUGIN_ALLOWED
        ]
    assert wrong == []


def test_the_checker_sees_a_wrong_import(tmp_path: Path) -> None:
    """The meta-test itself: an api module importing the run layer, and a circle, are caught."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from typing import TYPE_CHECKING\nfrom ganaug.runner.engine import run_recipe\n"
        "if TYPE_CHECKING:\n    from ganaug.api.records import ImageSpec\n"
    )
    found = list(imports_of("ganaug.api.bad", bad, set(core_modules())))
    assert [(i.target, i.type_only) for i in found] == [
        ("ganaug.runner.engine", False),
        ("ganaug.api.records", True),
    ]
    assert folder(found[0].target) not in ALLOWED["api"]
