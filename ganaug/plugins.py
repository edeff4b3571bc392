"""Plugin loading: built-ins and the ``ganaug`` entry-point group, through the same hooks.

A plugin manager is made by :func:`make_plugin_host` (never a module global). Each entry point is
loaded under its own guard, so one broken plugin is reported by name and the rest keep working.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
from collections.abc import Iterable
from types import ModuleType

import attrs
import pluggy

from ganaug import hookspecs
from ganaug.errors import PluginError
from ganaug.hookspecs import KINDS, PROJECT
from ganaug.registry import Registry

#: The built-in plugins, registered first and exactly like third-party ones.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "ganaug_plugins.models.iagan.plugin",
    "ganaug_plugins.models.dcgan.plugin",
    "ganaug_plugins.losses.plugin",
    "ganaug_plugins.weighters.plugin",
    "ganaug_plugins.searchers.plugin",
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
    """A plugin manager with the record of what loaded, what failed, and the built registry."""

    pm: pluggy.PluginManager
    loaded: list[PluginInfo] = attrs.Factory(list)
    failures: list[PluginFailure] = attrs.Factory(list)
    _registry: Registry | None = None

    def add(self, plugin: object, name: str, version: str, source: str) -> bool:
        """Register one plugin, refusing it (and recording why) if it implements unknown hooks."""
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:  # pluggy raises ValueError/PluginValidationError
            self.failures.append(PluginFailure(name, f"{type(exc).__name__}: {exc}"))
            return False
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(plugin)
            self.failures.append(PluginFailure(name, f"unknown hook: {exc}"))
            return False
        self.loaded.append(PluginInfo(name, version, source))
        self._registry = None
        return True

    @property
    def registry(self) -> Registry:
        """Components of every loaded plugin; built once, on first use."""
        if self._registry is None:
            self._registry = build_registry(self.pm)
        return self._registry


def build_registry(pm: pluggy.PluginManager) -> Registry:
    """Call every ``register_<kind>`` hook once, remembering which plugin registered what."""
    registry = Registry()
    for kind, hook_name in KINDS.items():
        caller = getattr(pm.hook, hook_name)
        for impl in reversed(caller.get_hookimpls()):  # pluggy's own call order
            register = registry.register_callable(kind, impl.plugin_name)
            try:
                impl.function(register=register)
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(
                    f"plugin {impl.plugin_name!r} failed in {hook_name}: {type(exc).__name__}: {exc}"
                ) from exc
    return registry


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
            continue
        module: ModuleType = importlib.import_module(module_name)
        host.add(module, f"builtin:{short}", _ganaug_version(), "builtin")
    if entry_points:
        load_entry_points(host, skip)
    for name, plugin in extra:
        if name not in skip:
            host.add(plugin, name, "", "registered in code")
    return host


def load_entry_points(host: PluginHost, skip: set[str]) -> None:
    """Load the ``ganaug`` entry-point group, one guarded import per entry point."""
    for ep in importlib.metadata.entry_points(group=PROJECT):
        if ep.name in skip:
            continue
        dist = ep.dist
        version = dist.version if dist is not None else ""
        source = f"entry point ({dist.name})" if dist is not None else "entry point"
        try:
            plugin = ep.load()
        except Exception as exc:
            host.failures.append(PluginFailure(ep.name, f"import failed: {type(exc).__name__}: {exc}"))
            continue
        host.add(plugin, ep.name, version, source)
