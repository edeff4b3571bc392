"""The ``idx`` data source: image and label files in the IDX format of the MNIST family.

Files may be gzip-compressed or plain (recognised by their first bytes, not their names). Images
must be unsigned bytes ``[N, rows, cols]`` (magic ``0x00000803``), labels unsigned bytes ``[N]``
(magic ``0x00000801``). Digits are resized to ``image_size`` (32 by default: the networks need a
power of two).
"""

from __future__ import annotations

import gzip
import struct
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
from ganaug_plugins.data.decode import resize_gray
from ganaug_plugins.data.reading import describe, gray, read_file
from ganaug_plugins.data.split import deal, split_validator

_UBYTE = 0x08
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: Path, ndim: int, what: str) -> np.ndarray:
    """Read an unsigned-byte IDX array of ``ndim`` dimensions; every problem is a DataError."""
    try:
        raw = path.expanduser().read_bytes()
        if raw[:2] == _GZIP_MAGIC:
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise DataError(f"IDX {what} file {path} does not exist") from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"IDX {what} file {path} cannot be read: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path} is not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    if raw[2] != _UBYTE:
        raise DataError(
            f"{path}: IDX data type 0x{raw[2]:02x} is not supported; expected unsigned bytes (0x08)"
        )
    if raw[3] != ndim:
        raise DataError(f"{path}: IDX {what} file with {raw[3]} dimension(s); expected {ndim}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: IDX header is cut short ({len(raw)} bytes)")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(dims, dtype=np.int64))
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: IDX header says {'x'.join(map(str, dims))} = {expected:,} bytes of data, "
            f"the file holds {len(raw) - header:,}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _names(_: object, __: attrs.Attribute, value: list[str] | None) -> None:
    if value is not None and (not value or len(set(value)) != len(value) or not all(value)):
        raise ValueError(f"class names must be non-empty and distinct, got {value!r}")


def _split_required(options: Any) -> str:
    return (
        "" if options.split is not None else "required: e.g. { train = { 8 = 400 }, test = { 8 = 'rest' } }"
    )


@attrs.frozen
class IdxOptions:
    """Options of the ``idx`` source (an IDX image file and its label file, as MNIST ships)."""

    images: Path = option(help="IDX file of unsigned-byte images [N, rows, cols]")
    labels: Path = option(help="IDX file of unsigned-byte labels [N]")
    split: dict[str, Any] | None = option(
        None,
        validator=split_validator(known=lambda o: o.class_names, required=_split_required),
        help="images per split and class: { train = { 8 = 400 }, test = { 8 = 'rest' } }",
    )
    class_names: list[str] | None = option(
        None, validator=_names, help='class_names[i] names label i (unset: the label itself, "i")'
    )
    image_size: int = option(
        32,
        validator=[attrs.validators.ge(4), attrs.validators.le(4096)],
        help="side of the square images, in pixels (resized)",
    )
    cache: bool = option(True, help="keep the decoded images in the cache between runs")


class IdxSource:
    """Loads an IDX image/label file pair into named splits."""

    def __init__(self, options: IdxOptions) -> None:
        self.options = options

    def declared_splits(self) -> list[str] | None:
        return list(self.options.split) if self.options.split is not None else None

    def declared_classes(self) -> list[str] | None:
        return list(self.options.class_names) if self.options.class_names is not None else None

    def declared_image(self) -> ImageSpec:
        return ImageSpec(channels=1, size=self.options.image_size)

    def preprocessing(self) -> Preprocessing:
        """The run's digits are stretched to ``image_size``; a new image file is read likewise."""
        return describe(gray(self.options.image_size), data="IDX unsigned-byte digits, resized")

    def read_image(self, path: Path) -> Tensor:
        return read_file(path, gray(self.options.image_size))

    def load(self, ctx: DataContext) -> DataBundle:
        opts = self.options
        payload = {
            "files": [_stamp(opts.images, "images"), _stamp(opts.labels, "labels")],
            "size": opts.image_size,
        }
        decoded = cached_decode(
            ctx,
            enabled=opts.cache,
            kind="idx",
            payload=payload,
            shape=(1, opts.image_size, opts.image_size),
            decode=lambda: self._decode(ctx),
        )
        present = sorted({int(label) for label in decoded.labels})
        classes = _class_names(opts, present)
        names = opts.class_names
        pairs = zip(decoded.ids, decoded.labels, strict=True)
        class_of = {ident: names[int(label)] if names else label for ident, label in pairs}
        groups = deal(by_class(decoded.ids, class_of, classes), opts.split or {}, ctx.seed)
        return make_bundle(decoded, class_of, classes, groups, ctx)

    def _decode(self, ctx: DataContext) -> Decoded:
        opts = self.options
        images = read_idx(opts.images, 3, "images")
        labels = read_idx(opts.labels, 1, "labels")
        if len(images) != len(labels):
            raise DataError(
                f"{opts.images} holds {len(images):,} images but {opts.labels} {len(labels):,} labels"
            )
        ids = tuple(f"{opts.images.name}:{row}" for row in range(len(labels)))
        decoded = resize_all(images, ids, opts.image_size, ctx)
        return attrs.evolve(decoded, labels=tuple(str(int(label)) for label in labels))


def _class_names(opts: IdxOptions, present: list[int]) -> list[str]:
    if opts.class_names is None:
        return [str(label) for label in present]
    if present and present[-1] >= len(opts.class_names):
        raise DataError(
            f"{opts.labels} has label {present[-1]}, "
            f"but class_names names only {len(opts.class_names)} classes"
        )
    return list(opts.class_names)


def _stamp(path: Path, what: str) -> list[Any]:
    """What identifies a file's content for the cache key: resolved path, size, a hash of its bytes."""
    try:
        stat = path.expanduser().stat()
    except FileNotFoundError:
        raise DataError(f"IDX {what} file {path} does not exist") from None
    return [str(path.expanduser().resolve()), stat.st_size, content_digest(path.expanduser())]


def resize_all(digits: np.ndarray, ids: tuple[str, ...], size: int, ctx: DataContext) -> Decoded:
    """Resize ``uint8 [N, H, W]`` digits to ``[N, 1, size, size]`` (progress task ``decode``)."""
    out = np.empty((len(digits), 1, size, size), dtype=np.uint8)
    with ctx.progress.task("decode", total=len(digits)) as task:
        for i, digit in enumerate(digits):
            out[i] = resize_gray(digit, size)
            task.advance()
    return Decoded(out, ids)
