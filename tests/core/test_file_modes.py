"""Every file a run writes has the mode a plain ``open()`` gives under the user's umask, weights
included (safetensors' own writer made them 0600, so a colleague could not read them)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ganaug.testing import plugin_host, run_text
from tests.killhooks.runner import TINY

ENCODER = """
[[stages]]
kind = "encoder"
name = "enc"
model = "base"
data = { split = "train", classes = ["8"] }
encoder = { name = "dcgan", width = 8 }
epochs = 1
batch_size = 4

[[stages]]
kind = "evaluate"
name = "eval_enc"
models = ["enc"]
test = { split = "test" }
positive = "3"
evaluators = [
  { name = "anogan", method = "encoder", control = false, searcher = { name = "encoder" } },
  { name = "knn" },
  { name = "roc", bootstrap = 10 },
]
"""


@pytest.mark.slow
@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_every_file_of_a_run_follows_the_umask(tmp_path: Path, umask: int) -> None:
    before = os.umask(umask)
    try:
        run_text(TINY + ENCODER, plugin_host(), tmp_path / "run")
    finally:
        os.umask(before)
    expected = 0o666 & ~umask
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file() and p.name != ".lock"]
    wrong = {str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    wrong = {name: mode for name, mode in wrong.items() if mode != oct(expected)}
    assert not wrong, f"expected {oct(expected)}"
    names = {p.name for p in files}
    assert {"generator.safetensors", "discriminator.safetensors", "train_mean.safetensors"} <= names
    assert {"encoder.safetensors", "enc-knn.safetensors"} <= names
