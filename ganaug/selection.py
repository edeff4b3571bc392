"""Image selections: which split and classes a stage uses, plus images made by earlier stages."""

from __future__ import annotations

import attrs


@attrs.frozen
class ImageSelection:
    """``{split = "train", classes = ["PNEUMONIA"], add = ["augment"], limit = 100}``.

    ``add`` names earlier stages that produced images (an augment stage); their images are
    appended after the real ones. ``limit`` keeps the first N real images (after the seeded split).
    """

    split: str = attrs.field(default="train", metadata={"split": True})
    classes: list[str] | None = attrs.field(default=None, metadata={"classes": True})
    add: list[str] = attrs.field(factory=list, metadata={"stage_ref": "images"})
    limit: int | None = attrs.field(default=None, validator=attrs.validators.optional(attrs.validators.ge(1)))
