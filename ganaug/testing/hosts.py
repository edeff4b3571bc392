"""Plugin hosts for tests: an isolated host, and plugins added to every host for a while."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable, Iterator
from types import ModuleType
from typing import Any

import ganaug.host.loading
from ganaug.host.loading import DEFAULT_PLUGINS, PluginHost


def _named(plugins: Iterable[object]) -> list[tuple[str, object]]:
    """``(name, plugin)`` pairs: a pair is kept, a module is named by its module name."""
    named: list[tuple[str, object]] = []
    for plugin in plugins:
        if isinstance(plugin, tuple) and len(plugin) == 2 and isinstance(plugin[0], str):
            named.append((plugin[0], plugin[1]))
        elif isinstance(plugin, ModuleType):
            named.append((plugin.__name__, plugin))
        else:
            named.append((getattr(plugin, "plugin_name", type(plugin).__name__), plugin))
    return named


def plugin_host(
    *plugins: object, builtins: bool = True, entry_points: bool = False, blocked: Iterable[str] = ()
) -> PluginHost:
    """An isolated plugin host with ``plugins`` registered (modules, objects or ``(name, obj)``).

    Unlike the CLI it ignores ``GANAUG_BLOCK_PLUGINS`` and installed entry points unless asked,
    and it raises when any plugin fails to load instead of only recording why.
    """
    host = ganaug.host.loading.make_plugin_host(
        builtins=DEFAULT_PLUGINS if builtins else (),
        entry_points=entry_points,
        extra=_named(plugins),
        blocked=set(blocked),
    )
    if host.failures:
        reasons = "; ".join(f"{f.name}: {f.reason}" for f in host.failures)
        raise AssertionError(f"plugin(s) failed to load: {reasons}")
    return host


@contextlib.contextmanager
def registered(*plugins: object) -> Iterator[None]:
    """Make every plugin host built inside the block (the CLI's, the engine's) include ``plugins``.

    For in-process tests only (``CliRunner``, ``ganaug.run``); a subprocess sees installed entry
    points alone.
    """
    import ganaug.apps.cli
    import ganaug.runner.engine  # imported first, so they bind the original and are patched below

    original = ganaug.host.loading.make_plugin_host
    added = _named(plugins)

    def with_plugins(*, extra: Iterable[tuple[str, object]] = (), **kwargs: Any) -> PluginHost:
        return original(extra=[*added, *extra], **kwargs)

    patched = [
        module
        for name, module in list(sys.modules.items())
        if (name == "ganaug" or name.startswith("ganaug."))
        and vars(module).get("make_plugin_host") is original
    ]
    for module in patched:
        module.make_plugin_host = with_plugins  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module in patched:
            module.make_plugin_host = original  # type: ignore[attr-defined]
