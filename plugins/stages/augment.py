"""The augment stage (placeholder: being written)."""

from __future__ import annotations

import attrs


@attrs.frozen
class AugmentOptions:
    """Options of the augment stage."""


class AugmentStage:
    """The augment stage."""

    produces = frozenset()

    def __init__(self, options: AugmentOptions) -> None:
        self.options = options
