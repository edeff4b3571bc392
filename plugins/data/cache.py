"""The decoded-image cache: resized ``uint8`` arrays kept under ``ctx.cache_dir`` between runs.

An entry is keyed by a hash of what produced it (the file list with each file's size and a hash
of its bytes, the preprocessing options, :data:`FORMAT_VERSION`), so a changed, added or removed
file, or other options, give another key; an edit that keeps a file's size and modification time
does too. It is stored as ``<key>.npy`` (``[N, C, H, W]`` uint8) plus
``<key>.json`` (ids and skipped files); both written atomically, the JSON last, and read without
pickle. A damaged entry is reported and decoded again, never trusted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from ganaug.api.context import DataContext
from ganaug.runtime.errors import RunDirError
from ganaug.runtime.io import atomic_path, file_digest, write_json

#: Bump when decoding changes in a way that makes older entries wrong.
FORMAT_VERSION = 1


@attrs.frozen
class Decoded:
    """Decoded images ``[N, C, H, W]`` uint8, their ids, the files skipped with reasons, and
    (for sources whose labels live in the data file) each image's label as text."""

    images: np.ndarray
    ids: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    labels: tuple[str, ...] = ()

    def __attrs_post_init__(self) -> None:
        n = len(self.ids)
        if self.images.ndim != 4 or self.images.shape[0] != n or self.images.dtype != np.uint8:
            raise ValueError(f"Decoded: images {self.images.shape} {self.images.dtype} for {n} ids")
        if self.labels and len(self.labels) != n:
            raise ValueError(f"Decoded: {len(self.labels)} labels for {n} ids")


def content_digest(path: Path) -> str:
    """A hash of a file's bytes for cache keys (``unreadable: ...`` when it cannot be read, so a
    file that became unreadable changes the key too)."""
    try:
        return file_digest(path)
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"


def cache_key(payload: dict[str, Any]) -> str:
    """The hex digest naming an entry: stable JSON of ``payload`` plus the format version."""
    text = json.dumps({"format": FORMAT_VERSION, **payload}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


@attrs.frozen
class DecodedCache:
    """One folder of cache entries; ``get`` answers None on a miss or a damaged entry."""

    root: Path

    def paths(self, key: str) -> tuple[Path, Path]:
        return self.root / f"{key}.npy", self.root / f"{key}.json"

    def get(self, key: str, shape: tuple[int, int, int]) -> Decoded | None:
        array_path, meta_path = self.paths(key)
        if not meta_path.is_file():
            return None
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        images = np.load(array_path, allow_pickle=False)
        if meta.get("key") != key or meta.get("format") != FORMAT_VERSION or tuple(images.shape[1:]) != shape:
            raise ValueError("metadata does not match the entry")
        skipped = tuple((str(a), str(b)) for a, b in meta["skipped"])
        labels = tuple(str(label) for label in meta["labels"])
        return Decoded(images, tuple(str(i) for i in meta["ids"]), skipped, labels)

    def put(self, key: str, decoded: Decoded) -> None:
        array_path, meta_path = self.paths(key)
        with atomic_path(array_path) as tmp, open(tmp, "wb") as handle:
            np.save(handle, np.ascontiguousarray(decoded.images), allow_pickle=False)
        meta = {
            "format": FORMAT_VERSION,
            "key": key,
            "ids": list(decoded.ids),
            "skipped": [list(s) for s in decoded.skipped],
            "labels": list(decoded.labels),
        }
        write_json(meta_path, meta)


def cached_decode(
    ctx: DataContext,
    *,
    enabled: bool,
    kind: str,
    payload: dict[str, Any],
    shape: tuple[int, int, int],
    decode: Callable[[], Decoded],
) -> Decoded:
    """Answer from the cache when an entry for ``payload`` exists, else ``decode()`` and store it."""
    if not enabled:
        return decode()
    key = cache_key({"kind": kind, **payload})
    cache = DecodedCache(ctx.cache_dir / "decoded" / kind)
    try:
        found = cache.get(key, shape)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        ctx.log.warning("%s cache entry %s is damaged (%s); decoding again", kind, key[:12], exc)
        found = None
    if found is not None:
        ctx.log.info("%s cache hit %s: %d images, no decoding", kind, key[:12], len(found.ids))
        return found
    ctx.log.info("%s cache miss %s: decoding", kind, key[:12])
    decoded = decode()
    try:
        cache.put(key, decoded)
    except (OSError, RunDirError) as exc:  # a read-only or full cache must not stop the run
        ctx.log.warning("could not write the %s cache under %s: %s", kind, cache.root, exc)
    return decoded
