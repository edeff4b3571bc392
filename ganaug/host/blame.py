"""Which plugin raised an unexpected exception: errors inside plugin code name the plugin."""

from __future__ import annotations

import traceback
from types import ModuleType

import pluggy

#: module-name prefix of the built-in plugins (their errors are ganaug's bugs)
BUILTIN_PREFIX = "ganaug_plugins."


def plugin_packages(pm: pluggy.PluginManager) -> dict[str, str]:
    """Module-name prefix -> plugin name, for every registered plugin (a built-in by its family
    folder, a third-party plugin by its top-level package)."""
    found: dict[str, str] = {}
    for name, plugin in pm.list_name_plugin():
        module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__module__
        if module.startswith(BUILTIN_PREFIX):
            found[module.rsplit(".", 1)[0]] = name
        else:
            found[module.split(".")[0]] = name
    return found


def culprit(exc: BaseException, pm: pluggy.PluginManager) -> tuple[str, str] | None:
    """``(plugin name, "file:line in function")`` of the innermost traceback frame that belongs to a
    registered plugin's package, or None when no plugin code is on the traceback."""
    packages = plugin_packages(pm)
    frames = traceback.extract_tb(exc.__traceback__)
    tb = exc.__traceback__
    modules: list[str] = []
    while tb is not None:
        modules.append(str(tb.tb_frame.f_globals.get("__name__", "")))
        tb = tb.tb_next
    for module, frame in zip(reversed(modules), reversed(frames), strict=True):
        for prefix, name in packages.items():
            if module == prefix or module.startswith(prefix + "."):
                return name, f"{frame.filename}:{frame.lineno} in {frame.name}"
    return None


def is_builtin(plugin: str) -> bool:
    """Built-in plugins are registered as ``builtin:<family>``."""
    return plugin.startswith("builtin:")
