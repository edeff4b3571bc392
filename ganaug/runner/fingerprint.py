"""The data a run was dealt, recorded and checked on resume.

``data/fingerprint.json`` holds, per split, every image id with a hash of its pixels (after
decoding and resizing). A resume recomputes it and refuses a difference (an image added, removed,
moved to another split, or changed) unless ``--force``: a changed file could otherwise move a test
image into the training data of a stage that is still to run.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ganaug.api.interfaces import DataBundle
from ganaug.runtime import io

FILE = "fingerprint.json"


def fingerprint(bundle: DataBundle) -> dict[str, dict[str, str]]:
    """``{split: {image id: pixel hash}}``."""
    out: dict[str, dict[str, str]] = {}
    for name, images in bundle.splits.items():
        pixels = images.images.detach().cpu().contiguous().numpy()
        out[name] = {
            image_id: hashlib.blake2b(pixels[i].tobytes(), digest_size=10).hexdigest()
            for i, image_id in enumerate(images.ids)
        }
    return out


def differences(old: dict[str, dict[str, str]], new: dict[str, dict[str, str]], limit: int = 10) -> list[str]:
    """What changed between two fingerprints, one line each (at most ``limit`` lines)."""
    lines: list[str] = []
    for split in sorted(set(old) | set(new)):
        before, after = old.get(split, {}), new.get(split, {})
        lines += [f"{split}: {i} is new" for i in sorted(set(after) - set(before))]
        lines += [f"{split}: {i} is gone" for i in sorted(set(before) - set(after))]
        lines += [f"{split}: {i} changed" for i in sorted(set(before) & set(after)) if before[i] != after[i]]
    if len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit} more"]
    return lines


def check_and_record(folder: Path, bundle: DataBundle, resume: bool, force: bool) -> list[str]:
    """Compare with the stored fingerprint on resume (raise on a change unless forced), then store
    the current one. Returns warnings to log."""
    from ganaug.runtime.errors import RunDirError

    current = fingerprint(bundle)
    path = folder / FILE
    notes: list[str] = []
    if resume:
        stored = _read(path)
        if stored is None:
            notes.append(f"no readable {path}: the data cannot be checked against the first session")
        elif changes := differences(stored, current):
            listed = "\n".join(f"  {line}" for line in changes)
            if not force:
                raise RunDirError(
                    f"the data changed since this run started:\n{listed}\nfinished stages were made "
                    "from the old data (a changed file can move a test image into training); restore "
                    "the data, use another output folder, or pass --force to resume anyway"
                )
            notes.append(f"resuming with changed data (--force):\n{listed}")
    io.write_json(path, current)
    return notes


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
