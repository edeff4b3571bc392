"""Plugin loading: built-ins and the ``ganaug`` entry-point group, through the same hooks.

A plugin manager is made by :func:`make_plugin_host` (never a module global). Each entry point is
imported, registered and has its hooks called under its own guard, so one broken plugin is left
out, reported by name, and the rest keep working.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType
from typing import Any

import attrs
import pluggy

from ganaug.api import hookspecs
from ganaug.api.hookspecs import KINDS, PROJECT
from ganaug.host.registry import Component, Registry, component_of, singular

#: The built-in plugins, registered first and exactly like third-party ones.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "ganaug_plugins.models.iagan.plugin",
    "ganaug_plugins.models.dcgan.plugin",
    "ganaug_plugins.losses.plugin",
    "ganaug_plugins.weighters.plugin",
    "ganaug_plugins.augmenters.plugin",
    "ganaug_plugins.regularizers.plugin",
    "ganaug_plugins.searchers.plugin",
    "ganaug_plugins.backbones.plugin",
    "ganaug_plugins.evaluators.plugin",
    "ganaug_plugins.data.plugin",
    "ganaug_plugins.stages.plugin",
    "ganaug_plugins.trackers.plugin",
)

#: Comma-separated plugin names (entry-point names or built-in module names) to leave out.
BLOCK_ENV = "GANAUG_BLOCK_PLUGINS"


@attrs.frozen
class PluginInfo:
    """Where a loaded plugin came from, for ``ganaug plugins``."""

    name: str
    version: str
    source: str  # "builtin", "entry point (dist)", or "registered in code"


@attrs.frozen
class PluginFailure:
    """A plugin that could not be loaded, and why."""

    name: str
    reason: str


@attrs.define
class PluginHost:
    """A plugin manager with the record of what loaded, what was left out, and the registry."""

    pm: pluggy.PluginManager
    loaded: list[PluginInfo] = attrs.Factory(list)
    blocked: list[str] = attrs.Factory(list)  # plugins found but left out by GANAUG_BLOCK_PLUGINS
    _failures: list[PluginFailure] = attrs.Factory(list)
    _registry: Registry | None = None

    @property
    def failures(self) -> list[PluginFailure]:
        """Plugins left out and why: at import, at registration, or in a hook (building the registry)."""
        _ = self.registry
        return self._failures

    def fail(self, name: str, reason: str) -> None:
        """Record that plugin ``name`` is left out, with how to silence the warning."""
        block = name.removeprefix("builtin:")
        self._failures.append(
            PluginFailure(name, f"{reason} (left out; {BLOCK_ENV}={block} silences this warning)")
        )

    def add(self, plugin: object, name: str, version: str, source: str) -> bool:
        """Register one plugin, refusing it (and recording why) if it implements unknown hooks.

        The same object registered again (an installed entry point a test also passes in code)
        is already there: nothing to do, nothing to warn about."""
        if self.pm.is_registered(plugin):
            return True
        try:
            self.pm.register(plugin, name=name)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # pluggy raises ValueError/PluginValidationError; plugins anything
            self.fail(name, f"{type(exc).__name__}: {exc}")
            return False
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(plugin)
            self.fail(name, f"unknown hook: {exc}")
            return False
        self.loaded.append(PluginInfo(name, version, source))
        self._registry = None
        return True

    @property
    def registry(self) -> Registry:
        """Components of every loaded plugin; built once, on first use.

        A plugin whose hook raises, or that registers a name an earlier plugin has, is left out
        whole (unregistered, recorded in :attr:`failures`), so the registry holds only plugins
        whose every component registered."""
        if self._registry is None:
            registry, failed = build_registry(self.pm)
            for failure in failed:
                self.pm.unregister(name=failure.name)
                self.loaded = [info for info in self.loaded if info.name != failure.name]
                self.fail(failure.name, failure.reason)
            registry.not_loaded = [f.name for f in self._failures] + list(self.blocked)
            self._registry = registry
        return self._registry


def build_registry(pm: pluggy.PluginManager) -> tuple[Registry, list[PluginFailure]]:
    """Call every ``register_<kind>`` hook once; return the registry and the plugins left out.

    All or nothing per plugin: a hook that raises, or a name already registered by a plugin
    registered earlier (built-ins come first), leaves out every component of that plugin.
    """
    failed: dict[str, str] = {}
    found: list[Component] = []  # in pluggy's call order, which sets the registry's order
    for kind, hook_name in KINDS.items():
        for impl in reversed(getattr(pm.hook, hook_name).get_hookimpls()):
            plugin = impl.plugin_name
            if plugin in failed:
                continue
            mine: list[Component] = []
            try:
                impl.function(register=_collector(kind, plugin, mine))
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                failed[plugin] = f"failed in {hook_name}: {type(exc).__name__}: {exc}"
                continue
            found += mine
    owners: dict[tuple[str, str], str] = {}
    for plugin, _ in pm.list_name_plugin():  # registration order: the first registrant is kept
        if plugin in failed:
            continue
        clash, names = _clash(plugin, [c for c in found if c.plugin == plugin], owners)
        if clash:
            failed[plugin] = clash
        else:
            owners.update(dict.fromkeys(names, plugin))
    registry = Registry()
    for comp in found:
        if comp.plugin not in failed:
            registry.add(comp)
    return registry, [PluginFailure(name, reason) for name, reason in failed.items()]


def _collector(kind: str, plugin: str, into: list[Component]) -> Callable[..., None]:
    """The ``register`` handed to one plugin's hook: checks and keeps its components aside."""

    def register(name: str, factory: Any, options: type | None = None, description: str = "") -> None:
        into.append(component_of(kind, plugin, name, factory, options, description))

    return register


def _clash(
    plugin: str, components: list[Component], owners: dict[tuple[str, str], str]
) -> tuple[str, list[tuple[str, str]]]:
    """Why ``plugin``'s components cannot join those of ``owners`` ('' if they can), and their keys."""
    keys: list[tuple[str, str]] = []
    for comp in components:
        key = (comp.kind, comp.name)
        what = f"{singular(comp.kind)} {comp.name!r}"
        if key in keys:
            return f"registers {what} twice", keys
        if key in owners:
            return f"{what} is already registered by plugin {owners[key]!r}, which is kept", keys
        keys.append(key)
    return "", keys


def blocked_names(env: dict[str, str] | None = None) -> set[str]:
    raw = (env if env is not None else os.environ).get(BLOCK_ENV, "")
    return {part.strip() for part in raw.split(",") if part.strip()}


def _ganaug_version() -> str:
    from ganaug import __version__

    return __version__


def make_plugin_host(
    *,
    builtins: Iterable[str] = DEFAULT_PLUGINS,
    entry_points: bool = True,
    extra: Iterable[tuple[str, object]] = (),
    blocked: set[str] | None = None,
) -> PluginHost:
    """Build a fresh plugin host: built-ins, then entry points, then ``extra`` (name, plugin)."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    host = PluginHost(pm)
    skip = blocked_names() if blocked is None else blocked
    for module_name in builtins:
        short = module_name.removeprefix("ganaug_plugins.").removesuffix(".plugin")
        if short in skip or module_name in skip:
            host.blocked.append(f"builtin:{short}")
            continue
        try:
            module: ModuleType = importlib.import_module(module_name)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # a broken built-in is left out like any plugin, never fatal
            host.fail(f"builtin:{short}", f"import failed: {type(exc).__name__}: {exc}")
            continue
        host.add(module, f"builtin:{short}", _ganaug_version(), "builtin")
    if entry_points:
        load_entry_points(host, skip)
    for name, plugin in extra:
        if name in skip:
            host.blocked.append(name)
        else:
            host.add(plugin, name, "", "registered in code")
    return host


def load_entry_points(host: PluginHost, skip: set[str]) -> None:
    """Load the ``ganaug`` entry-point group, one guarded import per entry point."""
    for ep in importlib.metadata.entry_points(group=PROJECT):
        if ep.name in skip:
            host.blocked.append(ep.name)
            continue
        dist = ep.dist
        version = dist.version if dist is not None else ""
        source = f"entry point ({dist.name})" if dist is not None else "entry point"
        try:
            with neutral_argv():
                plugin = ep.load()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit too: a plugin never ends ganaug by being imported
            what = "exited while imported" if isinstance(exc, SystemExit) else "import failed"
            host.fail(ep.name, f"{what}: {type(exc).__name__}: {exc}")
            continue
        host.add(plugin, ep.name, version, source)


@contextlib.contextmanager
def neutral_argv() -> Iterator[None]:
    """Hide ganaug's command line from a module that parses ``sys.argv`` when imported."""
    saved = sys.argv
    sys.argv = saved[:1] or ["ganaug"]
    try:
        yield
    finally:
        sys.argv = saved
