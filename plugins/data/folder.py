"""The ``folder`` data source: a tree of class folders (e.g. ``chest_xray/{train,test}/{NORMAL,...}``).

``layout = "pooled"`` pools every class folder found under the root and deals the images out with
the recipe's ``split`` table (the paper's protocol); ``layout = "tree"`` keeps the tree's own
top-level split folders (``train``, ``test``, ``val``) and needs no ``split``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import attrs
import numpy as np
from torch import Tensor

from ganaug.api.context import DataContext
from ganaug.api.interfaces import DataBundle, ImageSpec
from ganaug.api.options import option
from ganaug.api.preprocessing import Preprocessing
from ganaug.kit.images import IMAGE_EXTENSIONS, UnreadableImage, decode_image
from ganaug.runtime.errors import DataError
from ganaug_plugins.data.bundle import OnError, by_class, make_bundle, report_skipped
from ganaug_plugins.data.cache import Decoded, cached_decode, content_digest
from ganaug_plugins.data.decode import Preprocess, ResizeMode
from ganaug_plugins.data.reading import describe, read_file
from ganaug_plugins.data.scan import ImageFile, Layout, scan_folder
from ganaug_plugins.data.split import deal, split_validator


def _names(_: object, attribute: attrs.Attribute, value: list[str] | None) -> None:
    if value is None:
        return
    if not value:
        raise ValueError("expected at least one class name (or leave the option out for every folder)")
    if any(not name for name in value) or len(set(value)) != len(value):
        raise ValueError(f"class names must be non-empty and distinct, got {value!r}")


def _extensions(_: object, __: attrs.Attribute, value: list[str]) -> None:
    bad = [e for e in value if not e.startswith(".") or len(e) < 2]
    if not value or bad:
        raise ValueError(f"expected file endings such as '.png', got {value!r}")


def _split_rule(options: FolderOptions) -> str:
    if options.layout == "pooled" and options.split is None:
        return "required with layout = 'pooled': e.g. { train = { A = 100 }, test = { A = 'rest' } }"
    if options.layout == "tree" and options.split is not None:
        return "not used with layout = 'tree' (the tree's folders are the splits); remove it or use 'pooled'"
    return ""


@attrs.frozen
class FolderOptions:
    """Options of the ``folder`` source; defaults give 64x64 grayscale, centre-cropped."""

    root: Path = option(help="the folder tree's root (~ is expanded)")
    classes: list[str] | None = option(
        None, validator=_names, help="class folders to load, in label order (unset: every class folder)"
    )
    layout: Layout = option(
        "pooled",
        validator=attrs.validators.in_(("pooled", "tree")),
        help="pooled: root/<class>/ dealt out by split; tree: root/<split>/<class>/ as the splits",
    )
    split: dict[str, Any] | None = option(
        None,
        validator=split_validator(known=lambda o: o.classes, required=_split_rule),
        help="images per split and class: { train = { A = 100 }, test = { A = 'rest' } } (pooled only)",
    )
    image_size: int = option(
        64,
        validator=[attrs.validators.ge(4), attrs.validators.le(4096)],
        help="side of the square images, in pixels",
    )
    channels: Literal[1, 3] = option(
        1, validator=attrs.validators.in_((1, 3)), help="1 (grayscale) or 3 (RGB)"
    )
    resize: ResizeMode = option(
        "crop",
        validator=attrs.validators.in_(("crop", "pad", "stretch")),
        help="to a square: centre crop, pad with black, or stretch",
    )
    extensions: list[str] = option(
        factory=lambda: list(IMAGE_EXTENSIONS),
        validator=_extensions,
        help="file endings read as images (case-insensitive)",
    )
    on_error: OnError = option(
        "error",
        validator=attrs.validators.in_(("error", "skip")),
        help="an unreadable image: error stops the run, skip leaves it out and lists it in skipped.csv",
    )
    cache: bool = option(True, help="keep the decoded images in the cache between runs")

    @property
    def preprocess(self) -> Preprocess:
        return Preprocess(size=self.image_size, channels=self.channels, resize=self.resize)


class FolderSource:
    """Loads a folder tree of images into named splits (see the module docstring)."""

    def __init__(self, options: FolderOptions) -> None:
        self.options = options

    def declared_splits(self) -> list[str] | None:
        return list(self.options.split) if self.options.split is not None else None

    def declared_classes(self) -> list[str] | None:
        return list(self.options.classes) if self.options.classes is not None else None

    def declared_image(self) -> ImageSpec:
        return ImageSpec(channels=self.options.channels, size=self.options.image_size)

    def preprocessing(self) -> Preprocessing:
        return describe(self.options.preprocess)

    def read_image(self, path: Path) -> Tensor:
        """A new image file, decoded exactly as the tree's files are."""
        return read_file(path, self.options.preprocess)

    def load(self, ctx: DataContext) -> DataBundle:
        opts = self.options
        root = opts.root.expanduser()
        scan = scan_folder(root, opts.layout, opts.classes, opts.extensions, ctx.log, opts.on_error)
        prep = opts.preprocess
        payload = {
            "files": [[f.rel, f.size, content_digest(f.path)] for f in scan.files],
            "preprocess": attrs.asdict(prep),
        }
        decoded = cached_decode(
            ctx,
            enabled=opts.cache,
            kind="folder",
            payload=payload,
            shape=(prep.channels, prep.size, prep.size),
            decode=lambda: _decode_files(scan.files, prep, opts.on_error, ctx, root),
        )
        report_skipped(decoded.skipped, opts.on_error, ctx, str(root))
        info = {f.rel: f for f in scan.files}
        class_of = {f.rel: f.cls for f in scan.files}
        if opts.layout == "tree":
            groups = {
                split: by_class([i for i in decoded.ids if info[i].split == split], class_of, scan.classes)
                for split in scan.splits
            }
        else:
            table = opts.split or {}  # the options validator requires a table for "pooled"
            groups = deal(by_class(decoded.ids, class_of, scan.classes), table, ctx.seed)
        return make_bundle(decoded, class_of, scan.classes, groups, ctx)


def _decode_files(
    files: tuple[ImageFile, ...], prep: Preprocess, on_error: OnError, ctx: DataContext, root: Path
) -> Decoded:
    """Decode every file; an unreadable one raises (``error``) or is recorded and left out."""
    arrays: list[np.ndarray] = []
    ids: list[str] = []
    skipped: list[tuple[str, str]] = []
    with ctx.progress.task("decode", total=len(files)) as task:
        for item in files:
            try:
                arrays.append(decode_image(item.path, prep))
                ids.append(item.rel)
            except UnreadableImage as exc:
                if on_error == "error":
                    raise DataError(
                        f"{item.path}: {exc.reason}; set on_error = 'skip' to leave unreadable files out"
                    ) from None
                skipped.append((item.rel, exc.reason))
            task.advance()
    ctx.log.info("decoded %d image(s) under %s, %d unreadable", len(ids), root, len(skipped))
    shape = (0, prep.channels, prep.size, prep.size)
    images = np.stack(arrays) if arrays else np.zeros(shape, dtype=np.uint8)
    return Decoded(images, tuple(ids), tuple(skipped))
