"""Old import paths (ganaug 0.1) kept working for one release, each with a DeprecationWarning that
names the new path. Installed by ``ganaug/__init__.py``; removed in 0.3 (see CHANGELOG.md)."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings

#: old module -> the module(s) that now hold its names (several: the old module was split)
MOVED: dict[str, tuple[str, ...]] = {
    "ganaug.aggregate": ("ganaug.apps.aggregate",),
    "ganaug.aggregate_race": ("ganaug.apps.aggregate_race",),
    "ganaug.aggregate_report": ("ganaug.apps.aggregate_report",),
    "ganaug.blame": ("ganaug.host.blame",),
    "ganaug.building": ("ganaug.host.registry",),
    "ganaug.capabilities": ("ganaug.api.capabilities",),
    "ganaug.cli": ("ganaug.apps.cli",),
    "ganaug.cli_model": ("ganaug.apps.cli_model",),
    "ganaug.cli_sweep": ("ganaug.apps.cli_sweep",),
    "ganaug.console": ("ganaug.runtime.console",),
    "ganaug.context": ("ganaug.api.context",),
    "ganaug.cpu_idle": ("ganaug.runtime.cpu_idle",),
    "ganaug.describe": ("ganaug.apps.describe",),
    "ganaug.device": ("ganaug.runtime.device",),
    "ganaug.distributed": ("ganaug.runtime.distributed",),
    "ganaug.engine": ("ganaug.runner.engine",),
    "ganaug.errors": ("ganaug.runtime.errors",),
    "ganaug.export": ("ganaug.apps.export",),
    "ganaug.figures": ("ganaug.kit.figures",),
    "ganaug.fingerprint": ("ganaug.runner.fingerprint",),
    "ganaug.heatmaps": ("ganaug.kit.heatmaps",),
    "ganaug.hookspecs": ("ganaug.api.hookspecs",),
    "ganaug.imaging": ("ganaug.kit.imaging",),
    "ganaug.interfaces": ("ganaug.api.interfaces",),
    "ganaug.io": ("ganaug.runtime.io",),
    "ganaug.logs": ("ganaug.runner.logs",),
    "ganaug.model": ("ganaug.apps.model",),
    "ganaug.networks": ("ganaug.api.networks",),
    "ganaug.plugins": ("ganaug.host.loading",),
    "ganaug.preprocessing": (
        "ganaug.api.preprocessing",
        "ganaug.kit.images",
    ),
    "ganaug.progress": ("ganaug.runtime.progress",),
    "ganaug.recipe.validators": ("ganaug.api.validators",),
    "ganaug.registry": ("ganaug.host.registry",),
    "ganaug.report": ("ganaug.runner.report",),
    "ganaug.run_parallel": ("ganaug.runner.parallel",),
    "ganaug.run_stages": ("ganaug.runner.restore",),
    "ganaug.run_view": ("ganaug.runtime.run_view",),
    "ganaug.rundir": ("ganaug.runner.rundir",),
    "ganaug.scaffold": ("ganaug.apps.scaffold",),
    "ganaug.scoring": ("ganaug.api.scoring",),
    "ganaug.search": ("ganaug.kit.search",),
    "ganaug.seeds": ("ganaug.runtime.seeds",),
    "ganaug.selection": ("ganaug.api.selection",),
    "ganaug.slurm": ("ganaug.apps.slurm",),
    "ganaug.ssim": ("ganaug.numeric.ssim",),
    "ganaug.stage_graph": ("ganaug.runner.stage_graph",),
    "ganaug.stage_worker": ("ganaug.runner.stage_worker",),
    "ganaug.stats": ("ganaug.numeric.stats",),
    "ganaug.sweep": ("ganaug.apps.sweep",),
    "ganaug.tables": ("ganaug.kit.tables",),
    "ganaug.templates": ("ganaug.apps.templates",),
    "ganaug.thresholds": ("ganaug.numeric.thresholds",),
    "ganaug.tracking": ("ganaug.api.tracking",),
    # the built-in stages' training helpers, now the kit's trainer skeleton
    "ganaug_plugins.stages.checkpoint": ("ganaug.kit.training.checkpoint",),
    "ganaug_plugins.stages.data_parallel": ("ganaug.kit.training.data_parallel",),
    "ganaug_plugins.stages.interrupt": ("ganaug.kit.training.interrupt",),
    "ganaug_plugins.stages.loop": ("ganaug.kit.training.epochs",),
}


def new_path(old: str) -> tuple[str, ...] | None:
    """The module(s) an old dotted path now lives in (a submodule of a moved package follows it)."""
    if old in MOVED:
        return MOVED[old]
    for prefix, targets in MOVED.items():
        if old.startswith(prefix + ".") and len(targets) == 1:
            return (targets[0] + old[len(prefix) :],)
    return None


class _Alias(importlib.abc.Loader):
    def __init__(self, targets: tuple[str, ...]) -> None:
        self.targets = targets

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        # a stand-in that forwards to the new module(s): the real ones keep their own names
        modules = [importlib.import_module(name) for name in self.targets]
        alias = types.ModuleType(spec.name, f"moved to {', '.join(self.targets)}")

        def forward(name: str) -> object:
            for module in modules:
                if hasattr(module, name):
                    return getattr(module, name)
            raise AttributeError(f"module {spec.name!r} (now {', '.join(self.targets)}) has no {name!r}")

        alias.__getattr__ = forward  # type: ignore[method-assign]
        alias.__dir__ = lambda: sorted({n for m in modules for n in dir(m)})  # type: ignore[method-assign]
        if any(hasattr(m, "__path__") for m in modules):
            alias.__path__ = []  # a package: its old submodules are answered too
        return alias

    def exec_module(self, module: types.ModuleType) -> None:
        pass


class _OldPaths(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: object = None, target: object = None):
        targets = new_path(fullname)
        if targets is None:
            return None
        warnings.warn(
            f"{fullname} moved to {' and '.join(targets)}; the old path goes in ganaug 0.3 "
            "(docs/plugins.md, 'Migrating a plugin')",
            DeprecationWarning,
            stacklevel=3,
        )
        return importlib.machinery.ModuleSpec(fullname, _Alias(targets))


def install() -> None:
    """Answer the old paths (once per process)."""
    if not any(isinstance(f, _OldPaths) for f in sys.meta_path):
        sys.meta_path.append(_OldPaths())
