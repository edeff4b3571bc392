"""Which plugin raised an unexpected exception: errors inside plugin code name the plugin.

Each registered plugin owns module-name prefixes: its own module (the plugin module, or its
class's module) and that module's enclosing packages up to its distribution's top-level package
(a built-in's up to its family folder; a plugin living inside ganaug itself owns only its module).
A module belongs to the plugins owning the longest prefix it falls under, so ``pkg.b_plugin`` is
plugin b's even when plugin a also lives in ``pkg``.
"""

from __future__ import annotations

import traceback
from types import ModuleType, TracebackType

import pluggy

#: module-name prefix of the built-in plugins (their errors are ganaug's bugs)
BUILTIN_PREFIX = "ganaug_plugins."

#: top-level packages that are ganaug's own: a plugin inside them owns only its module
OWN_PACKAGES = ("ganaug", "ganaug_plugins")


def plugin_module(plugin: object) -> str:
    """The module a registered plugin object is (a module plugin) or is defined in (an instance)."""
    return plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__module__


def owned_prefixes(module: str) -> list[str]:
    """The module-name prefixes a plugin whose module is ``module`` owns, shortest first."""
    parts = module.split(".")
    if module.startswith(BUILTIN_PREFIX):
        first = len(parts) - 1  # the family folder (``ganaug_plugins.losses``) and below
    elif parts[0] in OWN_PACKAGES:
        first = len(parts)
    else:
        first = 1
    return [".".join(parts[:end]) for end in range(max(first, 1), len(parts) + 1)]


def plugin_packages(pm: pluggy.PluginManager) -> dict[str, tuple[str, ...]]:
    """Module-name prefix -> the plugins owning it (see the module docstring), for every registered
    plugin; a prefix with several plugins is a package they share (one distribution's)."""
    found: dict[str, list[str]] = {}
    for name, plugin in pm.list_name_plugin():
        for prefix in owned_prefixes(plugin_module(plugin)):
            owners = found.setdefault(prefix, [])
            if name not in owners:
                owners.append(name)
    return {prefix: tuple(names) for prefix, names in found.items()}


def owners_of(module: str, packages: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The plugins owning the longest prefix ``module`` falls under (``()``: no plugin's code)."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        owners = packages.get(".".join(parts[:end]))
        if owners:
            return owners
    return ()


def culprit(exc: BaseException, pm: pluggy.PluginManager) -> tuple[str, str] | None:
    """``(plugin name, "file:line in function")`` of the innermost traceback frame in plugin code,
    or None when no plugin code is on the traceback.

    A frame in a module several plugins share (a helper of a distribution with several plugins)
    is blamed on the one whose own code called it: the nearest outer frame that belongs to exactly
    one of them. With no such caller, the name is those plugins joined by commas ("a,b"): it does
    not pretend to know which, and is the ``GANAUG_BLOCK_PLUGINS`` value that leaves them all out.
    """
    packages = plugin_packages(pm)
    frames = traceback.extract_tb(exc.__traceback__)
    modules = [owners_of(module, packages) for module in _frame_modules(exc.__traceback__)]
    inner_first = list(zip(reversed(modules), reversed(frames), strict=True))
    for i, (owners, frame) in enumerate(inner_first):
        if not owners:
            continue
        where = f"{frame.filename}:{frame.lineno} in {frame.name}"
        if len(owners) == 1:
            return owners[0], where
        for outer, _ in inner_first[i + 1 :]:
            if len(outer) == 1 and outer[0] in owners:
                return outer[0], where
        return ",".join(owners), where
    return None


def _frame_modules(tb: TracebackType | None) -> list[str]:
    """The module name of every traceback frame, outermost first."""
    modules: list[str] = []
    while tb is not None:
        modules.append(str(tb.tb_frame.f_globals.get("__name__", "")))
        tb = tb.tb_next
    return modules


def is_builtin(plugin: str) -> bool:
    """Built-in plugins are registered as ``builtin:<family>``."""
    return plugin.startswith("builtin:")


def failure_message(exc: BaseException, plugin: str, where: str, block_env: str) -> str:
    """What the user reads when plugin code crashed: which plugin (or which of a distribution's
    plugins, when a shared helper crashed), where, and how to leave it out."""
    names = plugin.split(",")
    who = f"plugin {plugin!r}" if len(names) == 1 else "one of plugins " + ", ".join(map(repr, names))
    return (
        f"{who} failed: {type(exc).__name__}: {exc} (at {where}). The error is in the "
        f"plugin's code: report it to its authors, or leave the plugin out with {block_env}={plugin}"
    )
