"""Plugin host and registry: entry points, broken plugins, duplicates, unknown names, blocking."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from ganaug.api.hookspecs import KINDS, hookimpl
from ganaug.host.loading import DEFAULT_PLUGINS, make_plugin_host
from ganaug.host.registry import NoOptions, Registry
from ganaug.runtime.errors import PluginError
from tests.core_plugin import CorePlugin
from tests.plugin_dists import fake_distribution

GOOD = """
import attrs
from ganaug.api.hookspecs import hookimpl

@attrs.frozen
class Opts:
    strength: float = 1.0

@hookimpl
def register_loss_weighters(register):
    register("ones-ext", lambda options: options, options=Opts, description="external weighter")
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "site"
    path.mkdir()
    monkeypatch.syspath_prepend(str(path))
    return path


def test_entry_point_plugin_is_discovered_with_its_distribution(site: Path) -> None:
    fake_distribution(site, "ganaug_fake", "1.2.3", {"fake": "fake_good"}, {"fake_good": GOOD})
    host = make_plugin_host(builtins=())
    info = {p.name: p for p in host.loaded}["fake"]
    assert info.version == "1.2.3"
    assert "ganaug_fake" in info.source
    component = host.registry.get("loss_weighters", "ones-ext")
    assert component.plugin == "fake"
    assert component.description == "external weighter"


def test_broken_plugin_is_reported_and_others_still_load(site: Path) -> None:
    fake_distribution(
        site,
        "ganaug_mixed",
        "0.1",
        {"broken": "fake_broken", "good": "fake_good2"},
        {"fake_broken": "raise ImportError('needs libfoo')\n", "fake_good2": GOOD},
    )
    host = make_plugin_host(builtins=())
    failures = {f.name: f.reason for f in host.failures}
    assert "needs libfoo" in failures["broken"]
    assert host.registry.get("loss_weighters", "ones-ext").plugin == "good"


def test_misspelled_hook_fails_loudly_for_that_plugin_only() -> None:
    class Typo:
        @hookimpl
        def register_generatorz(self, register):  # misspelled on purpose
            raise AssertionError("never called")

    host = make_plugin_host(builtins=(), entry_points=False, extra=[("typo", Typo()), ("core", CorePlugin())])
    assert [f.name for f in host.failures] == ["typo"]
    assert "register_generatorz" in host.failures[0].reason
    assert "numbers" in host.registry.names("data_sources")


def test_blocked_plugin_is_not_loaded(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_distribution(site, "ganaug_blk", "1.0", {"blocked-one": "fake_good3"}, {"fake_good3": GOOD})
    monkeypatch.setenv("GANAUG_BLOCK_PLUGINS", "blocked-one, other")
    host = make_plugin_host(builtins=())
    assert "blocked-one" not in {p.name for p in host.loaded}
    assert "ones-ext" not in host.registry.names("loss_weighters")


def test_duplicate_name_keeps_the_first_plugin_and_names_both() -> None:
    class Again:
        @hookimpl
        def register_data_sources(self, register):
            register("numbers", object)

    host = make_plugin_host(
        builtins=(), entry_points=False, extra=[("core", CorePlugin()), ("again", Again())]
    )
    assert host.registry.get("data_sources", "numbers").plugin == "core"
    [failure] = host.failures
    assert failure.name == "again"
    assert "'core'" in failure.reason and "numbers" in failure.reason


def test_registry_refuses_a_duplicate_added_directly() -> None:
    registry = Registry()
    registry.register_callable("generators", "first")("g", object)
    with pytest.raises(PluginError) as info:
        registry.register_callable("generators", "second")("g", object)
    assert "'first'" in str(info.value) and "'second'" in str(info.value)


def test_unknown_name_lists_known_and_closest() -> None:
    host = make_plugin_host(builtins=(), entry_points=False, extra=[("core", CorePlugin())])
    with pytest.raises(PluginError) as info:
        host.registry.get("data_sources", "numbrs")
    message = str(info.value)
    assert "did you mean 'numbers'" in message
    assert "known: numbers" in message


def test_hook_raising_is_reported_with_plugin_name() -> None:
    class Boom:
        @hookimpl
        def register_evaluators(self, register):
            raise RuntimeError("kaput")

    host = make_plugin_host(builtins=(), entry_points=False, extra=[("boom", Boom())])
    assert [(f.name, f.reason.split(" (left out")[0]) for f in host.failures] == [
        ("boom", "failed in register_evaluators: RuntimeError: kaput")
    ]
    assert host.registry.names("evaluators") == []


def test_options_must_be_attrs() -> None:
    registry = Registry()
    register = registry.register_callable("generators", "p")
    with pytest.raises(PluginError, match="attrs class"):
        register("g", object, options=dict)
    register("h", object)
    assert registry.get("generators", "h").options is NoOptions
    assert attrs.has(NoOptions)


def test_every_kind_has_a_hook_and_builtins_register_through_hooks() -> None:
    host = make_plugin_host(entry_points=False)
    assert {p.name for p in host.loaded} == {
        "builtin:" + m.removeprefix("ganaug_plugins.").removesuffix(".plugin") for m in DEFAULT_PLUGINS
    }
    assert all(p.source == "builtin" for p in host.loaded)
    for hook in KINDS.values():
        assert hasattr(host.pm.hook, hook)
    assert set(host.registry.kinds()) == set(KINDS)


def test_host_is_not_a_global() -> None:
    a = make_plugin_host(builtins=(), entry_points=False, extra=[("core", CorePlugin())])
    b = make_plugin_host(builtins=(), entry_points=False)
    assert "numbers" in a.registry.names("data_sources")
    assert b.registry.names("data_sources") == []
