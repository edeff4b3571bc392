"""The recipe's own sections (run, data, stages) and the field helpers plugin options use."""

from __future__ import annotations

import re
from typing import Any

import attrs

DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
#: what a run folder holds besides its stage folders (ganaug.rundir, the engine, ganaug export):
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


HELP = "help"  # field metadata: the option's one-line description (``ganaug options``, docs)
RENAMED_FROM = "renamed_from"  # field metadata: former names, answered with "renamed: use <name>"


def option(
    default: Any = attrs.NOTHING,
    *,
    help: str,
    validator: Any = None,
    factory: Any = None,
    renamed_from: str | tuple[str, ...] = (),
    metadata: dict[str, Any] | None = None,
) -> Any:
    """An options field with its one-line ``help``; ``renamed_from`` names the field's former
    names, which a recipe still using them is told to replace."""
    meta = {**(metadata or {}), HELP: help}
    if renamed_from:
        meta[RENAMED_FROM] = (renamed_from,) if isinstance(renamed_from, str) else tuple(renamed_from)
    if factory is not None:
        return attrs.field(factory=factory, validator=validator, metadata=meta)
    return attrs.field(default=default, validator=validator, metadata=meta)


def help_of(field: attrs.Attribute) -> str:
    """The one-line help of an options field ("" when it has none)."""
    return str(field.metadata.get(HELP, ""))


def renamed_options(cls: type) -> dict[str, str]:
    """``{former name: current name}`` for the fields of the attrs class ``cls``."""
    if not attrs.has(cls):
        return {}
    return {old: field.name for field in attrs.fields(cls) for old in field.metadata.get(RENAMED_FROM, ())}


def _meta(key: str, value: Any, help: str | None) -> dict[str, Any]:
    return {key: value} if help is None else {key: value, HELP: help}


@attrs.frozen
class ComponentRef:
    """A recipe's reference to a component: its registered name plus its options table.

    ``raw`` holds the table as written; after resolution ``options`` holds the plugin's own
    structured options instance.
    """

    name: str
    raw: dict[str, Any] = attrs.Factory(dict)
    options: Any = None
    kind: str = ""


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


def component(
    kind: str, default: str | None = None, *, help: str | None = None, **default_options: Any
) -> Any:
    """An options field naming a component of ``kind`` (``"generators"``, ...), with a default."""
    if default is None:
        return attrs.field(metadata=_meta("component", kind, help))
    return attrs.field(
        factory=lambda: ComponentRef(default, dict(default_options)), metadata=_meta("component", kind, help)
    )


def components(kind: str, *defaults: str, help: str | None = None, validator: Any = None) -> Any:
    """An options field holding an ordered list of components of ``kind``."""
    return attrs.field(
        factory=lambda: [ComponentRef(name) for name in defaults],
        validator=validator,
        metadata=_meta("component", kind, help),
    )


def stage_ref(
    produces: str, *, default: Any = attrs.NOTHING, help: str | None = None, validator: Any = None
) -> Any:
    """An options field naming an earlier stage (or a list of them) that ``produces`` something
    (``"model"``, ``"images"``, ``"metrics"``)."""
    return attrs.field(default=default, validator=validator, metadata=_meta("stage_ref", produces, help))
