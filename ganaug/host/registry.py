"""The component registry: every plugin's components by kind and name, built once from the hooks,
and building components from resolved recipe references so components can compose.

A factory that takes a keyword parameter ``build`` receives a builder for other registered
components (``build(ref, **context)``): a searcher can wrap another searcher the recipe names, an
evaluator can build its own searcher, without importing another plugin's modules.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import attrs

from ganaug.api.hookspecs import KINDS
from ganaug.api.options import Builder
from ganaug.runtime.errors import PluginError, closest

if TYPE_CHECKING:
    from ganaug.api.options import ComponentRef

__all__ = [
    "Builder",
    "Component",
    "NoOptions",
    "Registry",
    "builder",
    "closest",
    "component_of",
    "create",
    "singular",
    "takes_build",
]


@attrs.frozen
class NoOptions:
    """Options class of a component that takes none."""


@attrs.frozen
class Component:
    """One registered component: its kind, name, factory, options class and owning plugin."""

    kind: str
    name: str
    factory: Callable[..., Any]
    options: type
    description: str
    plugin: str

    def build(self, options: Any, **context: Any) -> Any:
        """Create the component from a structured options instance (and kind-specific context)."""
        return self.factory(options, **context)


def singular(kind: str) -> str:
    """``gan_losses`` -> ``gan loss``: the kind's name for one component, in messages."""
    word = kind.replace("_", " ")
    return word[:-2] if word.endswith("sses") else word[:-1]


def component_of(
    kind: str,
    plugin: str,
    name: str,
    factory: Callable[..., Any],
    options: type | None = None,
    description: str = "",
) -> Component:
    """Check one ``register(...)`` call's arguments and make its :class:`Component`."""
    if not isinstance(name, str) or not name:
        raise PluginError(f"plugin {plugin!r} registered a {kind} component without a name")
    opts = options if options is not None else NoOptions
    if not attrs.has(opts):
        raise PluginError(f"plugin {plugin!r}: options of {name!r} must be an attrs class")
    doc = description or (factory.__doc__ or "").strip().splitlines()[0:1]
    text = doc if isinstance(doc, str) else (doc[0] if doc else "")
    return Component(kind, name, factory, opts, text, plugin)


class Registry:
    """Components by kind and name; duplicate names are refused with both owners named."""

    def __init__(self) -> None:
        self._by_kind: dict[str, dict[str, Component]] = {kind: {} for kind in KINDS}
        #: Plugins left out (failed or blocked); unknown-name errors name them, as a likely cause.
        self.not_loaded: list[str] = []

    def add(self, component: Component) -> None:
        table = self._by_kind[component.kind]
        if (old := table.get(component.name)) is not None:
            raise PluginError(
                f"{singular(component.kind)} {component.name!r} is registered twice: "
                f"by plugin {old.plugin!r} and by plugin {component.plugin!r}"
            )
        if not attrs.has(component.options):
            raise PluginError(
                f"plugin {component.plugin!r}: options of {component.name!r} must be an attrs class"
            )
        table[component.name] = component

    def register_callable(self, kind: str, plugin: str) -> Callable[..., None]:
        """The ``register`` argument handed to one plugin's ``register_<kind>`` hook."""

        def register(
            name: str, factory: Callable[..., Any], options: type | None = None, description: str = ""
        ) -> None:
            self.add(component_of(kind, plugin, name, factory, options, description))

        return register

    def get(self, kind: str, name: str) -> Component:
        table = self._by_kind[kind]
        if name in table:
            return table[name]
        known = sorted(table)
        listed = ", ".join(known) if known else "none registered"
        missing = ""
        if self.not_loaded:
            missing = f" (plugins not loaded: {', '.join(self.not_loaded)} — see `ganaug plugins`)"
        raise PluginError(
            f"unknown {singular(kind)} {name!r}{closest(name, known)}; known: {listed}{missing}"
        )

    def build(self, ref: ComponentRef, **context: Any) -> Any:
        """Create the component a resolved recipe reference names (with ``context``)."""
        return create(self, self.get(ref.kind, ref.name), ref.options, **context)

    def names(self, kind: str) -> list[str]:
        return sorted(self._by_kind[kind])

    def kinds(self) -> list[str]:
        return list(self._by_kind)

    def __iter__(self) -> Iterator[Component]:
        for table in self._by_kind.values():
            yield from table.values()


@functools.cache
def takes_build(factory: Callable[..., Any]) -> bool:
    """Whether ``factory`` declares a ``build`` parameter (it then receives a :data:`Builder`)."""
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # some builtins have no signature
        return False
    return "build" in parameters


def create(registry: Registry, component: Component, options: Any, **context: Any) -> Any:
    """Call the component's factory with its options, ``context`` and, if it asks, a builder."""
    if takes_build(component.factory):
        context = {**context, "build": builder(registry)}
    return component.build(options, **context)


def builder(registry: Registry) -> Builder:
    """``build(ref, **context)``: create the component a resolved reference names."""
    return registry.build
