"""Image selections: which split and classes a stage uses, plus images made by earlier stages."""

from __future__ import annotations

import attrs

from ganaug.api.options import option


@attrs.frozen
class ImageSelection:
    """``{split = "train", classes = ["PNEUMONIA"], add = ["augment"], limit = 100}``."""

    split: str = option("train", metadata={"split": True}, help="the data split the images come from")
    classes: list[str] | None = option(
        None, metadata={"classes": True}, help="the classes to use (unset: every class of the split)"
    )
    add: list[str] = option(
        factory=list,
        metadata={"stage_ref": "images"},
        help="earlier stages that made images (augment stages); theirs follow the real ones",
    )
    limit: int | None = option(
        None,
        validator=attrs.validators.optional(attrs.validators.ge(1)),
        help="keep the first N real images (after the seeded split)",
    )
