"""The recipe's own sections (run, data, stages); the field helpers plugin options use are in
:mod:`ganaug.api.options` (re-exported here for the recipe code that reads them)."""

from __future__ import annotations

import re
from typing import Any

import attrs

from ganaug.api.options import (
    HELP,
    RENAMED_FROM,
    ComponentRef,
    component,
    components,
    help_of,
    option,
    renamed_options,
    stage_ref,
)

__all__ = [
    "HELP",
    "RENAMED_FROM",
    "ComponentRef",
    "Recipe",
    "RunSection",
    "StageSpec",
    "component",
    "components",
    "help_of",
    "option",
    "renamed_options",
    "stage_ref",
]

DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
#: what a run folder holds besides its stage folders (ganaug.runner.rundir, the engine, ganaug export):
#: a stage of one of these names would collide with it
RESERVED_STAGE_NAMES = frozenset(
    {"run.log", "manifest.json", "recipe.toml", "report.md", "data", "exports", "sweep.json"}
)


def _device(_: object, __: attrs.Attribute, value: str) -> None:
    if not DEVICE_PATTERN.match(value):
        raise ValueError(f"expected auto, cpu, cuda or cuda:N, got {value!r}")


def _name(_: object, __: attrs.Attribute, value: str) -> None:
    if not NAME_PATTERN.match(value):
        raise ValueError(f"expected letters, digits, '_', '-' or '.', got {value!r}")


@attrs.frozen
class RunSection:
    """``[run]``: what the run is called, its seed, device and where outputs go; ``trackers``
    (e.g. ``["tensorboard"]``) receive losses, samples and metrics while the run goes on."""

    name: str = option(
        "run", validator=_name, help="the run's name; its folder is <output_dir>/<name>-<date>-<time>"
    )
    seed: int = option(
        0,
        validator=[attrs.validators.ge(0), attrs.validators.lt(2**63)],
        help="master seed every stage's seed is derived from",
    )
    device: str = option("auto", validator=_device, help="auto, cpu, cuda, cuda:N or mps")
    output_dir: str = option("runs", help="folder that holds the run folders")
    deterministic: bool = option(True, help="ask torch for deterministic kernels (repeatable results)")
    threads: int = option(
        1,
        validator=attrs.validators.ge(1),
        help="torch CPU threads of the run; results depend on it, not on the machine's core count "
        "(1: measured fastest beside other work on small networks; docs/performance.md)",
    )
    jobs: int = option(
        1,
        validator=attrs.validators.ge(1),
        help="stages run at once, each in a process of its own with run.threads threads, as the "
        "stages' needs allow; results are those of one at a time (1: one after another)",
    )
    extra_jobs: str = option(
        "when-idle",
        validator=attrs.validators.in_(("when-idle", "always")),
        help="with run.jobs > 1, when a stage starts beside running ones: when-idle (only while a "
        "CPU core has been idle for 2 s, so beside other work the run takes its share) or always",
    )
    trackers: list[ComponentRef] | None = option(
        None, metadata={"component": "trackers"}, help="trackers that receive losses, samples and metrics"
    )


@attrs.frozen
class StageSpec:
    """One ``[[stages]]`` table: the stage plugin (``kind``), a unique ``name``, its options."""

    kind: str
    name: str
    raw: dict[str, Any] = attrs.Factory(dict)
    options: Any = None


@attrs.frozen
class Recipe:
    """A whole experiment; after :func:`ganaug.recipe.resolve` every option is structured."""

    run: RunSection
    data: ComponentRef
    stages: tuple[StageSpec, ...]
    source: str = ""
    overrides: tuple[str, ...] = ()  # the --set values it was loaded with (for the resume command)

    def stage(self, name: str) -> StageSpec:
        for spec in self.stages:
            if spec.name == name:
                return spec
        raise KeyError(name)
