"""Atomic file writing: a partial file is never visible under its final name."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ganaug.runtime.errors import CheckpointError, RunDirError

_writes = {"enabled": True}
_TEMP = re.compile(r"^\..+\.[A-Za-z0-9_]+\.tmp$")


def is_temp_name(name: str) -> bool:
    """Whether ``name`` looks like one of :func:`atomic_path`'s temporary files."""
    return bool(_TEMP.match(name))


def set_writes_enabled(enabled: bool) -> None:
    """Off on every rank but 0 of a distributed run: only rank 0 writes run outputs."""
    _writes["enabled"] = enabled


def writes_enabled() -> bool:
    return _writes["enabled"]


def _umask() -> int:
    """The process's umask (read by setting and restoring it; ganaug writes from one thread)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be opened
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync it and rename it into place.

    On any error the temporary file is removed and ``path`` keeps its previous content. A full
    disk, a read-only or unwritable folder, a file-size limit: each is a :class:`RunDirError`
    naming the file. The file gets the mode a plain ``open()`` would give (0666 less the umask),
    not mkstemp's private 0600, so colleagues can read results.
    """
    final = Path(path)
    if not _writes["enabled"]:
        with tempfile.TemporaryDirectory(prefix="ganaug-discard-") as scratch:
            yield Path(scratch) / final.name
        return
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        os.fchmod(fd, 0o666 & ~_umask())
        os.close(fd)
    except OSError as exc:
        raise RunDirError(f"cannot write {final}: {exc.strerror or exc}") from exc
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, final)
        _fsync_dir(final.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise RunDirError(
                f"disk full while writing {final}; the previous version of that file is intact"
            ) from exc
        if exc.errno == errno.EFBIG:
            raise RunDirError(
                f"file size limit reached while writing {final} (ulimit -f?); the previous version "
                "of that file is intact"
            ) from exc
        raise RunDirError(f"cannot write {final}: {exc.strerror or exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_tensors(path: str | Path, tensors: dict[str, Any], metadata: dict[str, str] | None = None) -> Path:
    """Tensors as a safetensors file, through :func:`atomic_path` (the file mode follows the umask
    and a full disk is a clear error; safetensors' own writer makes a private temp file of its own)."""
    import safetensors.torch

    cpu = {name: tensor.detach().cpu().contiguous() for name, tensor in tensors.items()}
    return write_bytes(path, safetensors.torch.save(cpu, metadata=metadata))


def write_text(path: str | Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | Path, data: Any) -> Path:
    return write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def file_digest(path: str | Path, algorithm: str = "sha256") -> str:
    """The hex digest of a file's bytes (``hashlib`` algorithm), read a MiB at a time."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json(path: str | Path, what: type = dict, error: type[Exception] | None = None) -> Any:
    """A JSON file of the run written by ganaug, read back: missing, unreadable, not JSON, nested
    absurdly deep or not a ``what`` is ``error`` (default CheckpointError) naming the file."""
    fail = error or CheckpointError
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise fail(f"{path} is missing or unreadable: {reason}") from None
    if not isinstance(data, what):
        raise fail(f"{path} holds a {type(data).__name__}, expected a JSON {what.__name__}")
    return data


def save_figure(fig: Any, path: str | Path, **kwargs: Any) -> Path:
    """Save a matplotlib figure atomically (format from the final name's suffix)."""
    final = Path(path)
    with atomic_path(final) as tmp:
        fig.savefig(tmp, format=final.suffix.lstrip(".") or "png", **kwargs)
    return final
