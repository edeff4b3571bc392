"""``run.threads``: the same seed gives the same weights whatever the machine's core count."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ganaug.testing import TINY, plugin_host, run_text, tiny_recipe

TRAIN = {
    "kind": "train",
    "name": "g1",
    "generator": {"name": "tiny", "latent_dim": 4, "hidden": 16},
    "discriminator": {"name": "tiny", "hidden": 16},
    "loss": {"name": "bce"},
    "weighter": {"name": "none"},
    "epochs": 2,
    "batch_size": 4,
}


@pytest.mark.parametrize("threads", [1, 2])
def test_the_thread_setting_decides_not_the_cores(tmp_path: Path, threads: int) -> None:
    """Runs started with 1, 2 and 4 torch threads available write byte-identical weights."""
    text = tiny_recipe(TRAIN, run={"threads": threads})
    before = torch.get_num_threads()
    weights = []
    try:
        for cores in (1, 2, 4):
            torch.set_num_threads(cores)
            out = tmp_path / f"cores-{cores}"
            run_text(text, plugin_host(TINY), out)
            assert torch.get_num_threads() == cores  # the run's setting held for the run only
            assert json.loads((out / "manifest.json").read_text())["threads"] == threads
            weights.append((out / "g1" / "generator.safetensors").read_bytes())
    finally:
        torch.set_num_threads(before)
    assert weights[0] == weights[1] == weights[2]
