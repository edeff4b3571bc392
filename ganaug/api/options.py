"""The helpers a plugin's options class uses: ``option()`` (a field with its one-line help and
former names), ``component()``/``components()`` (fields naming other components, as
:class:`ComponentRef`) and ``stage_ref()`` (fields naming earlier stages)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

#: ``build(ref, **context)``: what a factory declaring a ``build`` parameter receives, to create
#: the component a resolved reference names (composition without importing another plugin)
Builder = Callable[..., Any]

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
    meta = _meta(None, None, help, renamed_from, metadata)
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


def _meta(
    key: str | None,
    value: Any,
    help: str | None,
    renamed_from: str | tuple[str, ...] = (),
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A field's metadata: ``key: value`` (what the field refers to), its help, its former names."""
    meta = dict(metadata or {})
    if key is not None:
        meta[key] = value
    if help is not None:
        meta[HELP] = help
    if renamed_from:
        meta[RENAMED_FROM] = (renamed_from,) if isinstance(renamed_from, str) else tuple(renamed_from)
    return meta


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


def component(
    kind: str,
    default: str | None = None,
    *,
    help: str | None = None,
    renamed_from: str | tuple[str, ...] = (),
    **default_options: Any,
) -> Any:
    """An options field naming a component of ``kind`` (``"generators"``, ...), with a default;
    ``renamed_from`` as for :func:`option`."""
    meta = _meta("component", kind, help, renamed_from)
    if default is None:
        return attrs.field(metadata=meta)
    return attrs.field(factory=lambda: ComponentRef(default, dict(default_options)), metadata=meta)


def components(
    kind: str,
    *defaults: str,
    help: str | None = None,
    validator: Any = None,
    renamed_from: str | tuple[str, ...] = (),
) -> Any:
    """An options field holding an ordered list of components of ``kind``; ``renamed_from`` as for
    :func:`option`."""
    return attrs.field(
        factory=lambda: [ComponentRef(name) for name in defaults],
        validator=validator,
        metadata=_meta("component", kind, help, renamed_from),
    )


def stage_ref(
    produces: str,
    *,
    default: Any = attrs.NOTHING,
    help: str | None = None,
    validator: Any = None,
    renamed_from: str | tuple[str, ...] = (),
) -> Any:
    """An options field naming an earlier stage (or a list of them) that ``produces`` something
    (``"model"``, ``"images"``, ``"metrics"``); ``renamed_from`` as for :func:`option`."""
    return attrs.field(
        default=default, validator=validator, metadata=_meta("stage_ref", produces, help, renamed_from)
    )
