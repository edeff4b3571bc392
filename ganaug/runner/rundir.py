"""The run directory: resolved recipe, manifest, log, a lock, and one folder per stage."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import platform
import tomllib
from pathlib import Path
from typing import Any

import attrs
import tomli_w

from ganaug.runtime import io
from ganaug.runtime.errors import CheckpointError, RunDirError

RECIPE = "recipe.toml"
MANIFEST = "manifest.json"
LOCK = ".lock"
LOG = "run.log"
DONE = "done.json"


def recipe_hash(resolved: dict[str, Any]) -> str:
    """A stable hash of the resolved recipe, to detect a recipe changed before a resume."""
    canonical = json.dumps(resolved, sort_keys=True, default=str).encode()
    return hashlib.sha256(canonical).hexdigest()[:16]


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@attrs.define
class RunDir:
    """One run's folder. Only one process may hold it at a time (see :meth:`lock`)."""

    path: Path

    @classmethod
    def new(cls, output_dir: Path, name: str) -> RunDir:
        """A fresh folder ``output_dir/name-YYYYmmdd-HHMMSS`` (suffixed if it exists)."""
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        base = output_dir.expanduser() / f"{name}-{stamp}"
        path, n = base, 1
        while path.exists():
            n += 1
            path = base.with_name(f"{base.name}-{n}")
        make_folder(path, exist_ok=False)
        return cls(path)

    def stage_dir(self, stage: str) -> Path:
        folder = self.path / stage
        make_folder(folder)
        return folder

    def is_done(self, stage: str) -> bool:
        return (self.path / stage / DONE).exists()

    def mark_done(self, stage: str, info: dict[str, Any]) -> None:
        """``done.json``: when the stage finished, ``info``, and the SHA-256 of every file in its
        folder (its final files), which :meth:`verify_done` checks before the stage is restored."""
        folder = self.path / stage
        digests = {
            p.relative_to(folder).as_posix(): io.file_digest(p)
            for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink() and p.name != DONE and not io.is_temp_name(p.name)
        }
        io.write_json(folder / DONE, {"finished": now(), **info, "files": digests})

    def verify_done(self, stage: str) -> None:
        """Refuse a finished stage whose final files changed since (a replaced weight, a NaN, an
        edited image): :class:`CheckpointError` naming the file. A stage finished before digests
        were recorded has nothing to check."""
        folder = self.path / stage
        recorded = io.read_json(folder / DONE).get("files", {})
        if not isinstance(recorded, dict):
            raise CheckpointError(f"{folder / DONE}: 'files' is not a table of digests")
        for name, digest in recorded.items():
            path = folder / str(name)
            if not path.is_file():
                raise CheckpointError(f"{path} is missing, but stage {stage!r} finished with it")
            if io.file_digest(path) != digest:
                raise CheckpointError(
                    f"{path} changed after stage {stage!r} finished (its SHA-256 differs from {DONE}); "
                    f"its outputs cannot be trusted: restore the file, or rerun the stage (remove "
                    f"{folder / DONE} and resume)"
                )

    def write_recipe(self, resolved: dict[str, Any]) -> None:
        io.write_text(self.path / RECIPE, tomli_w.dumps(resolved))

    def read_recipe(self) -> dict[str, Any] | None:
        """The resolved recipe this run was started (or last resumed) with; None if unreadable."""
        try:
            return tomllib.loads((self.path / RECIPE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def read_recipe_hash(self) -> str | None:
        manifest = self.read_manifest()
        return manifest.get("recipe_hash") if manifest else None

    def read_manifest(self) -> dict[str, Any] | None:
        """The run's manifest (None when there is none or it is not JSON); one that is JSON but
        not an object, or nested absurdly deep, is a CheckpointError naming it."""
        path = self.path / MANIFEST
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        except RecursionError:
            raise CheckpointError(f"{path} is nested too deeply to be a manifest") from None
        if not isinstance(data, dict):
            raise CheckpointError(f"{path} holds a {type(data).__name__}, expected a JSON object")
        return data

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        io.write_json(self.path / MANIFEST, manifest)

    @contextlib.contextmanager
    def lock(self) -> Any:
        """Hold the folder for this process with an exclusive ``flock`` on ``.lock``.

        The kernel releases the lock when its holder dies, so there is no stale lock to judge, and
        two processes can never both hold it. The file holds the holder's pid, for the message.
        """
        lock = self.path / LOCK
        fd = _locked_fd(lock, self.path)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield self
        finally:
            lock.unlink(missing_ok=True)  # before releasing: a waiter then finds a fresh file
            os.close(fd)


def make_folder(folder: Path, exist_ok: bool = True) -> None:
    """``mkdir -p``, an OS failure (read-only, a file in the way, no permission) as RunDirError."""
    try:
        folder.mkdir(parents=True, exist_ok=exist_ok)
    except FileExistsError:
        raise
    except OSError as exc:
        raise RunDirError(f"cannot create the folder {folder}: {exc.strerror or exc}") from exc


def open_no_follow(path: Path, flags: int, what: str) -> int:
    """``os.open`` of a run-folder file that refuses a symbolic link (a link would make ganaug
    truncate or append to whatever it points at); any OS failure is a RunDirError naming ``path``."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW, 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP or path.is_symlink():
            raise RunDirError(
                f"{path} is a symbolic link; ganaug does not follow links in a run folder: remove it"
            ) from None
        raise RunDirError(f"cannot open the {what} {path}: {exc.strerror or exc}") from exc


def _locked_fd(lock: Path, folder: Path) -> int:
    """An open descriptor of ``lock`` holding its exclusive flock; the file it locks is the one
    at that path (a holder that removed it while we opened it makes us try again)."""
    for _ in range(100):
        fd = open_no_follow(lock, os.O_CREAT | os.O_RDWR, "lock file")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            owner = _read_pid(lock)
            holder = f" (pid {owner})" if owner else ""
            raise RunDirError(
                f"{folder} is in use by another ganaug process{holder}; "
                "wait for it to finish or use another output directory"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.lstat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder removed the file between our open and our lock: again
    raise RunDirError(f"could not lock {folder}: the lock file keeps changing")


def _read_pid(lock: Path) -> int | None:
    try:
        return int(lock.read_text().strip() or "0") or None
    except (OSError, ValueError):
        return None


_UNSET = object()


def _show(value: Any) -> str:
    return "(unset)" if value is _UNSET else repr(value)


def _leaves(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, dict):
        found: dict[str, Any] = {}
        for key, item in value.items():
            found.update(_leaves(item, f"{prefix}.{key}" if prefix else str(key)))
        return found
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        found = {}
        for index, item in enumerate(value):
            found.update(_leaves(item, f"{prefix}[{index}]"))
        return found
    return {prefix: value}


def _by_name(stages: Any) -> dict[str, Any]:
    items = stages if isinstance(stages, list) else []
    return {str(s.get("name", i)) if isinstance(s, dict) else str(i): s for i, s in enumerate(items)}


def recipe_changes(old: dict[str, Any], new: dict[str, Any], limit: int = 12) -> list[str]:
    """What differs between two resolved recipes, one line each (``stages.base.epochs: 3 -> 4``).

    ``new`` is compared as it would read back from ``recipe.toml``; stages are matched by name.
    """
    new = tomllib.loads(tomli_w.dumps(new))
    lines: list[str] = []
    rest_old = {k: v for k, v in old.items() if k != "stages"}
    rest_new = {k: v for k, v in new.items() if k != "stages"}
    old_stages, new_stages = _by_name(old.get("stages")), _by_name(new.get("stages"))
    if list(old_stages) != list(new_stages):
        lines.append(f"stages: {', '.join(old_stages) or 'none'} -> {', '.join(new_stages) or 'none'}")
    pairs = [("", rest_old, rest_new)]
    pairs += [(f"stages.{n}", old_stages[n], new_stages[n]) for n in old_stages if n in new_stages]
    for prefix, a, b in pairs:
        flat_a, flat_b = _leaves(a, prefix), _leaves(b, prefix)
        for key in sorted(set(flat_a) | set(flat_b)):
            before, after = flat_a.get(key, _UNSET), flat_b.get(key, _UNSET)
            if before != after:
                lines.append(f"{key}: {_show(before)} -> {_show(after)}")
    if len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit} more"]
    return lines


def open_run_dir(
    recipe: Any, out: Path | None, resume: Path | None, digest: str, force: bool, resolved: dict[str, Any]
) -> tuple[RunDir, list[str]]:
    """The run directory for ``--resume``, ``--out`` or a new one under ``run.output_dir``.

    Refuses a changed recipe on resume (naming what changed) unless ``force``, and a non-empty
    ``--out``. Returns the folder and warnings to log once the run's log is open.
    """
    if resume is not None:
        run_dir = RunDir(Path(resume))
        old = run_dir.read_recipe_hash()
        if old is None:
            raise RunDirError(f"{resume} holds no ganaug run to resume (no manifest.json)")
        if old == digest:
            return run_dir, []
        stored = run_dir.read_recipe()
        changes = recipe_changes(stored, resolved) if stored is not None else []
        what = "\n".join(f"  {line}" for line in changes) or "  (recipe.toml is missing or unreadable)"
        if not force:
            raise RunDirError(
                f"the recipe changed since {resume} was started (hash {old} -> {digest}):\n{what}\n"
                "resume with the same recipe, or pass --force to resume with the new one "
                "(finished stages are kept as they are)"
            )
        return run_dir, [f"resuming with a changed recipe (--force):\n{what}"]
    if out is not None:
        out = out.expanduser()
        make_folder(out)
        try:
            existing = [p for p in out.iterdir() if p.name != LOCK]
        except OSError as exc:
            raise RunDirError(f"cannot read the folder {out}: {exc.strerror or exc}") from exc
        if existing:
            hint = unfinished_hint(RunDir(out), digest)
            raise RunDirError(f"{out} is not empty{hint}; use --resume {out} or another --out")
        return RunDir(out), []
    output_dir = Path(recipe.run.output_dir).expanduser()
    notes = []
    for earlier in sorted(output_dir.glob(f"{recipe.run.name}-*"), reverse=True):
        if unfinished_hint(RunDir(earlier), digest):
            notes.append(
                f"{earlier} holds an unfinished run of this same recipe; to continue it instead, "
                f"run again with --resume {earlier}"
            )
            break
    return RunDir.new(output_dir, recipe.run.name), notes


def unfinished_hint(run_dir: RunDir, digest: str) -> str:
    """' (it holds an unfinished run of this recipe: ...)' when that is so, else ''."""
    manifest = run_dir.read_manifest()
    if not manifest or manifest.get("finished") or manifest.get("recipe_hash") != digest:
        return ""
    done = [name for name in manifest.get("stages", {}) if run_dir.is_done(name)]
    return f" (it holds an unfinished run of this recipe; stages done: {', '.join(done) or 'none'})"


def remove_temp_files(folder: Path) -> list[Path]:
    """Delete the temporary files interrupted atomic writes left (``.NAME.XXXX.tmp``).

    Only safe while holding the folder's lock: a live writer's temp file looks the same.
    """
    found = [p for p in folder.rglob(".*.tmp") if p.is_file() and io.is_temp_name(p.name)]
    for path in found:
        path.unlink(missing_ok=True)
    return found


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
