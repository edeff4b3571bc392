"""The evaluate stage (placeholder: being written)."""

from __future__ import annotations

import attrs


@attrs.frozen
class EvaluateOptions:
    """Options of the evaluate stage."""


class EvaluateStage:
    """The evaluate stage."""

    produces = frozenset()

    def __init__(self, options: EvaluateOptions) -> None:
        self.options = options
