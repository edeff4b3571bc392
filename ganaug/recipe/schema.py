"""The recipe's own sections (run, data, stages) and the field helpers plugin options use."""

from __future__ import annotations

import re
from typing import Any

import attrs

DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _device(_: object, __: attrs.Attribute, value: str) -> None:
    if not DEVICE_PATTERN.match(value):
        raise ValueError(f"expected auto, cpu, cuda or cuda:N, got {value!r}")


def _name(_: object, __: attrs.Attribute, value: str) -> None:
    if not NAME_PATTERN.match(value):
        raise ValueError(f"expected letters, digits, '_', '-' or '.', got {value!r}")


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

    name: str = attrs.field(default="run", validator=_name)
    seed: int = attrs.field(default=0, validator=[attrs.validators.ge(0), attrs.validators.lt(2**63)])
    device: str = attrs.field(default="auto", validator=_device)
    output_dir: str = "runs"
    deterministic: bool = True
    trackers: list[ComponentRef] | None = attrs.field(default=None, metadata={"component": "trackers"})


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


def component(kind: str, default: str | None = None, **default_options: Any) -> Any:
    """An options field naming a component of ``kind`` (``"generators"``, ...), with a default."""
    if default is None:
        return attrs.field(metadata={"component": kind})
    return attrs.field(
        factory=lambda: ComponentRef(default, dict(default_options)), metadata={"component": kind}
    )


def components(kind: str, *defaults: str) -> Any:
    """An options field holding an ordered list of components of ``kind``."""
    return attrs.field(
        factory=lambda: [ComponentRef(name) for name in defaults],
        metadata={"component": kind},
    )


def stage_ref(produces: str, *, default: Any = attrs.NOTHING) -> Any:
    """An options field naming an earlier stage (or a list of them) that ``produces`` something
    (``"model"``, ``"images"``, ``"metrics"``)."""
    return attrs.field(default=default, metadata={"stage_ref": produces})
