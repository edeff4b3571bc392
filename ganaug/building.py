"""Building components from resolved recipe references, so components can compose.

A factory that takes a keyword parameter ``build`` receives a builder for other registered
components (``build(ref, **context)``): a searcher can wrap another searcher the recipe names, an
evaluator can build its own searcher, without importing another plugin's modules.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ganaug.registry import Component, Registry

if TYPE_CHECKING:
    from ganaug.recipe.schema import ComponentRef

Builder = Callable[..., Any]


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

    def build(ref: ComponentRef, **context: Any) -> Any:
        return create(registry, registry.get(ref.kind, ref.name), ref.options, **context)

    return build
