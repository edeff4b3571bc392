"""Meta-tests: the hooks, the interfaces, the docs, the built-ins and the packaging agree.

Like datasette's test_docs.py: a hook or interface added without docs or tests, a built-in
without an options class, or a package folder missing from pyproject fails here.
"""

from __future__ import annotations

import inspect
import re
import tomllib
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner

import ganaug.testing
from ganaug.api import hookspecs, interfaces
from ganaug.api.hookspecs import KINDS
from ganaug.api.interfaces import ImageSpec
from ganaug.apps.cli import cli
from ganaug.host.loading import BLOCK_ENV, DEFAULT_PLUGINS, make_plugin_host
from ganaug.host.registry import NoOptions
from ganaug.recipe.convert import make_converter
from ganaug.testing import check_component, check_options
from tests.docs_sections import DOCS, doc_section, public_members, squash

ROOT = Path(__file__).resolve().parents[2]
HOOKS = sorted(KINDS.values())


def interface_classes() -> list[str]:
    return sorted(
        name
        for name, obj in vars(interfaces).items()
        if inspect.isclass(obj) and obj.__module__ == interfaces.__name__ and not name.startswith("_")
    )


# --- hooks and interfaces are documented --------------------------------------------------------


def test_kinds_list_every_hookspec() -> None:
    specs = {
        name
        for name, fn in vars(hookspecs).items()
        if callable(fn) and hasattr(fn, f"{hookspecs.PROJECT}_spec")
    }
    assert specs == set(HOOKS)
    assert all(hook == f"register_{kind}" for kind, hook in KINDS.items())


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    signature = re.search(r"Factory: ``(.+?)``", squash(doc))
    assert signature, f"{hook}'s docstring must say 'Factory: ``factory(...) -> ...``'"
    section = doc_section(hook)
    assert section, f"docs/plugins.md has no '### `{hook}`' section"
    assert f"`{signature.group(1)}`" in section, f"the {hook} section must quote {signature.group(1)!r}"
    kind = hook.removeprefix("register_")
    assert f"`{kind}`" in section, f"the {hook} section must name its kind {kind!r}"


@pytest.mark.parametrize("name", interface_classes())
def test_interface_is_documented(name: str) -> None:
    cls = getattr(interfaces, name)
    assert (cls.__doc__ or "").strip(), f"interfaces.{name} has no docstring"
    section = doc_section(name)
    assert section, f"docs/plugins.md has no '### `{name}`' section"
    missing = sorted(m for m in public_members(cls) if not re.search(rf"[`.]{re.escape(m)}\b", section))
    assert not missing, f"the {name} section does not mention {missing}"
    if getattr(cls, "_is_protocol", False) and "__call__" in vars(cls):
        assert "`forward(" in section, f"the {name} section must describe forward()"


def test_the_protocols_are_all_covered() -> None:
    protocols = {n for n in interface_classes() if getattr(getattr(interfaces, n), "_is_protocol", False)}
    assert {"Generator", "Discriminator", "GanLoss", "LossWeighter", "LatentSearcher"} <= protocols
    assert {"Evaluator", "DataSource", "Stage"} <= protocols


def test_docs_cover_packaging_testing_and_debugging() -> None:
    text = DOCS.read_text()
    for needed in (BLOCK_ENV, "[project.entry-points.ganaug]", "--debug", "ganaug plugins", "new-plugin"):
        assert needed in text, f"docs/plugins.md does not mention {needed}"
    undocumented = [name for name in ganaug.testing.__all__ if f"`{name}" not in text]
    assert not undocumented, f"ganaug.testing helpers missing from docs/plugins.md: {undocumented}"


# --- hooks are tested ---------------------------------------------------------------------------


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook: str) -> None:
    tests = [p for p in (ROOT / "tests").rglob("test_*.py") if p.name != Path(__file__).name]
    assert any(hook in path.read_text() for path in tests), f"no test in tests/ mentions {hook}"


# --- built-in plugins ---------------------------------------------------------------------------


@pytest.mark.parametrize("module", DEFAULT_PLUGINS)
def test_builtin_module_imports_and_registers(module: str) -> None:
    host = make_plugin_host(builtins=(module,), entry_points=False, blocked=set())
    assert not host.failures, host.failures
    (info,) = host.loaded
    owned = [c for c in host.registry if c.plugin == info.name]
    assert owned, f"{module} registers no component"


def builtin_host():
    return make_plugin_host(entry_points=False, blocked=set())


def test_builtin_components_declare_attrs_options() -> None:
    components = list(builtin_host().registry)
    assert components, "no built-in components are registered"
    problems = []
    for comp in components:
        label = f"{comp.kind} {comp.name!r} ({comp.plugin})"
        if not attrs.has(comp.options):
            problems.append(f"{label}: options class is not attrs")
        elif comp.options is not NoOptions and not (comp.options.__doc__ or "").strip():
            problems.append(f"{label}: options class {comp.options.__name__} has no docstring")
        if not comp.description:
            problems.append(f"{label}: no description for `ganaug plugins`")
        try:
            defaults = comp.options()
        except (TypeError, ValueError):
            continue  # a required option: there is no all-defaults table to round-trip
        try:
            check_options(comp.options, make_converter().unstructure(defaults))
        except Exception as exc:
            problems.append(f"{label}: defaults do not round-trip through a recipe table: {exc}")
    assert not problems, "\n".join(problems)


def test_builtin_components_are_listed_by_ganaug_plugins() -> None:
    host = builtin_host()
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0, result.output
    for info in host.loaded:
        assert info.name in result.output
    missing = [f"{c.kind}: {c.name}" for c in host.registry if c.name not in result.output]
    assert not missing, f"not in `ganaug plugins` output: {missing}"
    for kind in {c.kind for c in host.registry}:
        assert f"{kind}:" in result.output


CHECKED_KINDS = (
    "generators",
    "discriminators",
    "encoders",
    "gan_losses",
    "augmenters",
    "regularizers",
    "backbones",
    "loss_weighters",
    "latent_searchers",
)


def test_builtin_components_pass_the_contract_checks() -> None:
    """What ganaug.testing asks of a plugin's components, the built-ins satisfy (defaults, 16x16)."""
    host = builtin_host()
    problems, checked = [], 0
    for kind in CHECKED_KINDS:
        for name in host.registry.names(kind):
            fields = attrs.fields_dict(host.registry.get(kind, name).options)
            table = {"steps": 3} if "steps" in fields else {}  # a short search is enough here
            try:
                check_component(host, kind, name, table, image=ImageSpec(1, 16))
                checked += 1
            except Exception as exc:
                problems.append(f"{kind} {name!r}: {type(exc).__name__}: {exc}")
    assert not problems, "\n".join(problems)
    assert checked, "no built-in components to check"


# --- packaging ----------------------------------------------------------------------------------


def test_every_package_folder_is_in_pyproject() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    roots = {"ganaug": ROOT / "ganaug"}
    roots |= {name: ROOT / folder for name, folder in setuptools.get("package-dir", {}).items()}
    found = set()
    for name, folder in roots.items():
        for init in folder.rglob("__init__.py"):
            relative = init.parent.relative_to(folder).parts
            if "__pycache__" not in relative:
                found.add(".".join((name, *relative)))
    assert sorted(found - listed) == [], "package folders missing from [tool.setuptools] packages"
    assert sorted(listed - found) == [], "[tool.setuptools] packages that have no folder"


def test_tests_are_split_into_core_and_builtins() -> None:
    """tests/core tests the core (and end to end), tests/builtins the built-in plugins; the top level
    holds only shared helpers. A test file that lands at the top level fails here."""
    stray = sorted(p.name for p in (ROOT / "tests").glob("test_*.py"))
    assert not stray, f"move these into tests/core or tests/builtins: {stray}"
    assert list((ROOT / "tests" / "core").glob("test_*.py")) and list(
        (ROOT / "tests" / "builtins").glob("test_*.py")
    )
