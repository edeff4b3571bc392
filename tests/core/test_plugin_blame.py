"""Blame by each plugin's own module: one distribution exposing two plugins (``blamepkg.a_plugin``
and ``blamepkg.b_plugin``, two entry points) gets a crash in b's code blamed on b, not on
whichever of the two registered last (the old top-level-package mapping)."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ganaug.host.blame import culprit, owned_prefixes, owners_of, plugin_packages
from ganaug.host.loading import BLOCK_ENV, PluginHost, make_plugin_host
from ganaug.runtime.errors import PluginError
from ganaug.testing import TINY, run_text, tiny_recipe

PACKAGE = "blamepkg"

MODULES = {
    "__init__": "",
    "a_plugin": """
        from ganaug.api.hookspecs import hookimpl

        def crash():
            raise RuntimeError("crash in a")

        @hookimpl
        def register_loss_weighters(register):
            register("a-weights", object)
    """,
    "b_plugin": """
        from ganaug.api.hookspecs import hookimpl
        from ganaug.testing.tiny import TinyNetOptions

        from blamepkg import b_impl, shared

        def make_generator(options, image):
            return b_impl.build(options, image)

        def crash():
            raise RuntimeError("crash in b")

        def via_impl():
            return b_impl.build(None, None)

        def via_shared():
            return shared.helper()

        @hookimpl
        def register_generators(register):
            register("b-gen", make_generator, options=TinyNetOptions)
    """,
    "b_impl": """
        def build(options, image):
            raise RuntimeError("b's network cannot be built")
    """,
    "shared": """
        def helper():
            raise RuntimeError("a helper of the whole distribution failed")
    """,
}


@pytest.fixture
def distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginHost]:
    """A package with two plugins installed as two entry points, b listed (so registered) before a:
    the old mapping by top-level package gave ``blamepkg`` to a, the last registered."""
    site = tmp_path / "site"
    package = site / PACKAGE
    package.mkdir(parents=True)
    for name, source in MODULES.items():
        (package / f"{name}.py").write_text(textwrap.dedent(source))
    info = site / "ganaug_blamepkg-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ganaug-blamepkg\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[ganaug]\nb = {PACKAGE}.b_plugin\na = {PACKAGE}.a_plugin\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv(BLOCK_ENV, raising=False)
    host = make_plugin_host(builtins=(), extra=[("ganaug.testing:tiny", TINY)])
    assert [p.name for p in host.loaded] == ["b", "a", "ganaug.testing:tiny"]
    yield host
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]


def blamed(host: PluginHost, crash: Callable[[], Any]) -> tuple[str, str]:
    with pytest.raises(RuntimeError) as caught:
        crash()
    found = culprit(caught.value, host.pm)
    assert found is not None
    return found


def module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_a_crash_in_a_module_of_plugin_b_is_blamed_on_b(distribution: PluginHost) -> None:
    plugin, where = blamed(distribution, module("b_plugin").crash)
    assert plugin == "b"
    assert "b_plugin.py" in where and where.endswith("in crash")


def test_a_crash_in_bs_implementation_module_called_from_b_is_blamed_on_b(
    distribution: PluginHost,
) -> None:
    plugin, where = blamed(distribution, module("b_plugin").via_impl)
    assert plugin == "b"
    assert "b_impl.py" in where and where.endswith("in build")  # where it failed, not who called


def test_plugin_a_is_still_blamed_for_its_own_crash(distribution: PluginHost) -> None:
    assert blamed(distribution, module("a_plugin").crash)[0] == "a"


def test_a_shared_helper_no_single_plugin_called_names_both(distribution: PluginHost) -> None:
    plugin, where = blamed(distribution, module("shared").helper)
    assert set(plugin.split(",")) == {"a", "b"}  # the GANAUG_BLOCK_PLUGINS value leaving both out
    assert "shared.py" in where


def test_a_shared_helper_called_from_bs_code_is_blamed_on_b(distribution: PluginHost) -> None:
    plugin, where = blamed(distribution, module("b_plugin").via_shared)
    assert plugin == "b" and "shared.py" in where


def test_a_plugin_inside_ganaug_does_not_own_ganaugs_own_code(distribution: PluginHost) -> None:
    """The tiny test plugin lives in ganaug.testing.tiny: ganaug's core is not its code."""
    from ganaug.recipe.convert import _strict_int

    with pytest.raises(TypeError) as caught:
        _strict_int("seven", int)
    assert culprit(caught.value, distribution.pm) is None


def test_the_longest_owned_prefix_wins(distribution: PluginHost) -> None:
    packages = plugin_packages(distribution.pm)
    assert packages[PACKAGE] == ("b", "a")
    assert owners_of(f"{PACKAGE}.b_plugin", packages) == ("b",)
    assert owners_of(f"{PACKAGE}.b_plugin.inner", packages) == ("b",)
    assert owners_of(f"{PACKAGE}.b_impl", packages) == ("b", "a")
    assert owners_of("ganaug.recipe.convert", packages) == ()
    assert owned_prefixes("ganaug_plugins.models.iagan.plugin") == [
        "ganaug_plugins.models.iagan",
        "ganaug_plugins.models.iagan.plugin",
    ]


def test_a_run_failing_in_bs_network_tells_the_user_to_block_b(
    distribution: PluginHost, tmp_path: Path
) -> None:
    stage = {
        "kind": "train",
        "name": "t",
        "data": {"split": "train"},
        "generator": {"name": "b-gen"},
        "discriminator": {"name": "tiny"},
        "weighter": {"name": "none"},
        "epochs": 1,
        "batch_size": 4,
    }
    host = make_plugin_host(extra=[("ganaug.testing:tiny", TINY)])  # the train stage is a built-in
    with pytest.raises(PluginError) as caught:
        run_text(tiny_recipe(stage, data={"size": 8, "per_class": 4}), host, tmp_path / "run")
    message = str(caught.value)
    assert message.startswith("plugin 'b' failed: RuntimeError: b's network cannot be built")
    assert f"{BLOCK_ENV}=b" in message and "b_impl.py" in message


def test_the_message_for_a_shared_helper_names_each_plugin_and_blocks_them_all() -> None:
    from ganaug.host.blame import failure_message

    text = failure_message(RuntimeError("boom"), "b,a", "x.py:3 in f", "GANAUG_BLOCK_PLUGINS")
    assert text.startswith("one of plugins 'b', 'a' failed: RuntimeError: boom (at x.py:3 in f)")
    assert text.endswith("GANAUG_BLOCK_PLUGINS=b,a")
    single = failure_message(RuntimeError("boom"), "b", "x.py:3 in f", "GANAUG_BLOCK_PLUGINS")
    assert single.startswith("plugin 'b' failed") and single.endswith("GANAUG_BLOCK_PLUGINS=b")
