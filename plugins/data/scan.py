"""Finding a folder tree's image files and their classes (and split folders), before decoding.

A file's class is the name of the folder that holds it, wherever that folder sits under the root
(``pooled``), so ``chest_xray/{train,test,val}/NORMAL`` all pool into ``NORMAL``. With ``tree``
the first folder under the root also names the file's split. Hidden files and folders (``.*``,
including macOS ``._*`` companions) and ``__MACOSX`` folders are ignored, as are files whose
names do not end in an image extension (``.DS_Store``, ``notes.txt``).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import attrs

from ganaug.runtime.errors import DataError

Layout = Literal["pooled", "tree"]


@attrs.frozen
class ImageFile:
    """One candidate image: its id (path relative to the root), class, split folder, size, mtime."""

    rel: str
    path: Path
    cls: str
    split: str | None
    size: int
    mtime_ns: int


@attrs.frozen
class FolderScan:
    """The image files of the wanted classes, sorted by id, and the class names in label order."""

    files: tuple[ImageFile, ...]
    classes: tuple[str, ...]

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(sorted({f.split for f in self.files if f.split is not None}))


def _hidden(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


@attrs.define
class _Walk:
    images: list[tuple[tuple[str, ...], Path]] = attrs.Factory(list)
    empty: list[Path] = attrs.Factory(list)
    unreadable: list[tuple[str, str]] = attrs.Factory(list)  # (folder, reason)


def _walk(root: Path, extensions: Sequence[str]) -> _Walk:
    endings = tuple(e.lower() for e in extensions)
    found = _Walk()
    seen: set[str] = set()

    def unreadable(error: OSError) -> None:
        found.unreadable.append((str(error.filename), error.strerror or str(error)))

    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=unreadable):
        real = os.path.realpath(dirpath)
        if real in seen:  # a symlink loop, or a linked folder seen under its own name: once only
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = sorted(d for d in dirnames if not _hidden(d))
        here = Path(dirpath)
        parts = here.relative_to(root).parts
        if parts and os.path.islink(dirpath):
            # a linked class folder (alias -> ../val/PNEUMONIA) is named by what it links to
            parts = (*parts[:-1], Path(real).name)
        images = sorted(f for f in filenames if not _hidden(f) and f.lower().endswith(endings))
        found.images += [((*parts, name), here / name) for name in images]
        if not images and not dirnames and parts:
            found.empty.append(here)
    return found


def scan_folder(
    root: Path,
    layout: Layout,
    classes: Sequence[str] | None,
    extensions: Sequence[str],
    log: logging.Logger,
    on_error: str = "error",
) -> FolderScan:
    """List the image files under ``root`` for ``classes`` (None: every class folder found).

    A folder that cannot be read stops the scan (``on_error = "error"``) or is left out with a
    warning (``"skip"``): never silently, since its images would be missing from the splits.
    """
    if not root.exists():
        raise DataError(f"data root {root} does not exist")
    if not root.is_dir():
        raise DataError(f"data root {root} is not a folder")
    walk = _walk(root, extensions)
    if walk.unreadable:
        listed = "; ".join(f"{folder} ({reason})" for folder, reason in walk.unreadable[:5])
        more = f" and {len(walk.unreadable) - 5} more" if len(walk.unreadable) > 5 else ""
        if on_error == "error":
            raise DataError(
                f"cannot read {len(walk.unreadable)} folder(s) under {root}: {listed}{more}; fix the "
                "permissions, or set on_error = 'skip' to leave them out"
            )
        log.warning("left out %d unreadable folder(s): %s%s", len(walk.unreadable), listed, more)
    depth = 2 if layout == "pooled" else 3
    loose = [parts for parts, _ in walk.images if len(parts) < depth]
    if loose:
        where = "a class folder" if layout == "pooled" else "a split/class folder"
        log.warning("ignored %d image(s) not inside %s, e.g. %s", len(loose), where, "/".join(loose[0]))
    placed = [(parts, path) for parts, path in walk.images if len(parts) >= depth]
    with_images = sorted({parts[-2] for parts, _ in placed})
    wanted = _wanted_classes(root, classes, with_images, walk.empty, extensions)
    files = []
    for parts, path in placed:
        if parts[-2] not in wanted:
            continue
        try:
            stat = path.stat()
            size, mtime = stat.st_size, stat.st_mtime_ns
        except OSError:  # a broken link: decoding will report it like any unreadable file
            size, mtime = -1, 0
        split = parts[0] if layout == "tree" else None
        files.append(ImageFile("/".join(parts), path, parts[-2], split, size, mtime))
    files.sort(key=lambda f: f.rel)
    for folder in walk.empty:
        if folder.name in wanted:
            log.warning("class folder %s is empty; the class's images come from its other folders", folder)
    counts = Counter(f.cls for f in files)
    log.info(
        "found %d image file(s) under %s: %s", len(files), root, ", ".join(f"{c} {counts[c]}" for c in wanted)
    )
    return FolderScan(tuple(files), tuple(wanted))


def _wanted_classes(
    root: Path,
    classes: Sequence[str] | None,
    with_images: list[str],
    empty: list[Path],
    extensions: Sequence[str],
) -> list[str]:
    """The classes to load, in label order; a wanted class with no image anywhere is an error."""
    empty_by_name: dict[str, list[Path]] = {}
    for folder in empty:
        empty_by_name.setdefault(folder.name, []).append(folder)
    wanted = list(classes) if classes is not None else sorted({*with_images, *empty_by_name})
    if not wanted:
        raise DataError(
            f"no image files under {root} (looked for names ending in {', '.join(extensions)} "
            "inside class folders)"
        )
    for cls in wanted:
        if cls in with_images:
            continue
        if cls in empty_by_name:
            folders = ", ".join(str(f) for f in empty_by_name[cls])
            raise DataError(
                f"class folder {cls!r} is empty: {folders} holds no file ending in {', '.join(extensions)}"
            )
        found = ", ".join(with_images) if with_images else "none"
        raise DataError(f"class {cls!r}: no folder of that name under {root}; class folders found: {found}")
    return wanted
