"""The train stage (placeholder: being written)."""

from __future__ import annotations

import attrs


@attrs.frozen
class TrainOptions:
    """Options of the train stage."""


class TrainStage:
    """The train stage."""

    produces = frozenset()

    def __init__(self, options: TrainOptions) -> None:
        self.options = options
