"""Atomic writes and image files: a partial file never shows under its final name."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ganaug.kit.imaging import grid, load_png, save_grid, save_png
from ganaug.runtime import io
from ganaug.runtime.errors import RunDirError


def test_failed_write_keeps_previous_content_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    io.write_json(target, {"auc": 0.9})
    with pytest.raises(RuntimeError), io.atomic_path(target) as tmp:
        tmp.write_text("{half")
        raise RuntimeError("killed mid-write")
    assert io.write_json is not None and target.read_text().strip().startswith("{")
    assert '"auc": 0.9' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_disk_full_is_a_clear_error_and_previous_file_survives(tmp_path: Path) -> None:
    target = tmp_path / "ckpt.bin"
    io.write_bytes(target, b"good")
    with (
        pytest.raises(RunDirError, match=r"disk full while writing .*ckpt.bin.*intact"),
        io.atomic_path(target),
    ):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_bytes() == b"good"
    assert len(list(tmp_path.iterdir())) == 1


def test_disabled_writes_touch_nothing(tmp_path: Path) -> None:
    io.set_writes_enabled(False)
    try:
        io.write_text(tmp_path / "a.txt", "x")
        save_png(torch.zeros(1, 4, 4), tmp_path / "a.png")
    finally:
        io.set_writes_enabled(True)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("channels", [1, 3])
def test_png_round_trip_keeps_channels_and_values(tmp_path: Path, channels: int) -> None:
    gen = torch.Generator().manual_seed(0)
    image = torch.randint(0, 256, (channels, 8, 8), generator=gen).float() / 127.5 - 1
    path = save_png(image, tmp_path / "x.png")
    back = load_png(path, channels)
    assert back.shape == (channels, 8, 8)
    assert torch.allclose(back, image, atol=1e-6)


def test_grid_layout(tmp_path: Path) -> None:
    images = torch.ones(5, 1, 4, 4)
    tiled = grid(images, nrow=3, pad=1)
    assert tiled.shape == (1, 2 * 5 + 1, 3 * 5 + 1)
    assert tiled[0, 1, 1] == 1 and tiled[0, 0, 0] == -1
    assert tiled[0, 6:10, 11:15].eq(-1).all()  # sixth cell is empty
    assert save_grid(images, tmp_path / "g.png").exists()


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_follow_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        path = io.write_json(tmp_path / "metrics.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode


def test_a_file_size_limit_is_a_clear_error(tmp_path: Path) -> None:
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))\n"
        "from ganaug.runtime import io\nfrom ganaug.runtime.errors import RunDirError\n"
        "try:\n    io.write_bytes(sys.argv[1], b'x' * 5000)\n"
        "except RunDirError as e:\n    print('error:', e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "big.bin")], capture_output=True, text=True
    )
    assert "error: file size limit reached while writing" in out.stdout, out.stderr
    assert not list(tmp_path.iterdir())


def test_an_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(RunDirError, match=r"cannot write .*file/x\.json"):
        io.write_json(blocker / "x.json", {})
    with pytest.raises(RunDirError, match=r"cannot write /proc/ganaug-x"):
        io.write_text("/proc/ganaug-x", "")
