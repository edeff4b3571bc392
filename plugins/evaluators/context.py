"""An evaluation context that can also build components (an evaluator's own searcher).

``ganaug.interfaces.EvalContext`` has no builder yet; the evaluate stage hands evaluators this
subclass so that an evaluator whose options name a component (``searcher = "backprop"``) can build it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from ganaug.errors import GanaugError
from ganaug.interfaces import EvalContext
from ganaug.recipe.schema import ComponentRef


@attrs.define
class BuildingEvalContext(EvalContext):
    """:class:`EvalContext` plus ``build(ref, **context)`` (the stage context's builder)."""

    build: Callable[..., Any] | None = None


def build_component(ctx: EvalContext, ref: ComponentRef, **context: Any) -> Any:
    """Build the component ``ref`` names with the context's builder (``ctx.build``)."""
    build = getattr(ctx, "build", None)
    if build is None:
        raise GanaugError(
            f"this evaluation context cannot build components (needed for {ref.kind} {ref.name!r})"
        )
    return build(ref, **context)
