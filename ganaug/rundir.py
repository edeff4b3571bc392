"""The run directory: resolved recipe, manifest, log, a lock, and one folder per stage."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any

import attrs
import tomli_w

from ganaug import io
from ganaug.errors import RunDirError

RECIPE = "recipe.toml"
MANIFEST = "manifest.json"
LOCK = ".lock"
LOG = "run.log"


def recipe_hash(resolved: dict[str, Any]) -> str:
    """A stable hash of the resolved recipe, to detect a recipe changed before a resume."""
    canonical = json.dumps(resolved, sort_keys=True, default=str).encode()
    return hashlib.sha256(canonical).hexdigest()[:16]


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@attrs.define
class RunDir:
    """One run's folder. Only one process may hold it at a time (see :meth:`lock`)."""

    path: Path

    @classmethod
    def new(cls, output_dir: Path, name: str) -> RunDir:
        """A fresh folder ``output_dir/name-YYYYmmdd-HHMMSS`` (suffixed if it exists)."""
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        base = output_dir / f"{name}-{stamp}"
        path, n = base, 1
        while path.exists():
            n += 1
            path = base.with_name(f"{base.name}-{n}")
        path.mkdir(parents=True)
        return cls(path)

    def stage_dir(self, stage: str) -> Path:
        folder = self.path / stage
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def is_done(self, stage: str) -> bool:
        return (self.path / stage / "done.json").exists()

    def mark_done(self, stage: str, info: dict[str, Any]) -> None:
        io.write_json(self.path / stage / "done.json", {"finished": now(), **info})

    def write_recipe(self, resolved: dict[str, Any]) -> None:
        io.write_text(self.path / RECIPE, tomli_w.dumps(resolved))

    def read_recipe_hash(self) -> str | None:
        manifest = self.read_manifest()
        return manifest.get("recipe_hash") if manifest else None

    def read_manifest(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.path / MANIFEST).read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        io.write_json(self.path / MANIFEST, manifest)

    @contextlib.contextmanager
    def lock(self) -> Any:
        """Hold the folder for this process; a live holder refuses us, a dead one is taken over."""
        lock = self.path / LOCK
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            owner = _read_pid(lock)
            if owner is not None and owner != os.getpid() and _pid_alive(owner):
                raise RunDirError(
                    f"{self.path} is in use by another ganaug process (pid {owner}); "
                    "wait for it to finish or use another output directory"
                ) from None
            lock.unlink(missing_ok=True)  # stale: its owner is gone
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{os.getpid()}\n")
        try:
            yield self
        finally:
            lock.unlink(missing_ok=True)


def _read_pid(lock: Path) -> int | None:
    try:
        return int(lock.read_text().strip() or "0") or None
    except (OSError, ValueError):
        return None


def environment_versions(plugins: list[dict[str, str]]) -> dict[str, Any]:
    """Versions that decide a run's numbers, for the manifest."""
    import numpy
    import torch

    from ganaug import __version__

    return {
        "ganaug": __version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "plugins": plugins,
    }
