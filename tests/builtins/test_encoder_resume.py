"""Kill the real CLI inside the encoder stage (and the encoder search), resume, and match an
uninterrupted run byte for byte, as tests/test_kill_resume.py does for the train stage."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from ganaug.kit.training.checkpoint import latest_checkpoint, load_checkpoint
from tests.killhooks.runner import metrics, run_cli, temp_files

pytestmark = pytest.mark.slow

# train -> encoder (izi_f; 16 images / 4 = 4 steps an epoch x 3) -> evaluate with the three methods
RECIPE = """
[run]
name = "encoder-kill"
seed = 2
device = "cpu"

[data]
source = "mnist-5k"
classes = ["8", "3"]
image_size = 16

[data.split]
train = { "8" = 16 }
test = { "8" = 4, "3" = 4 }

[[stages]]
kind = "train"
name = "base"
data = { split = "train", classes = ["8"] }
generator = { name = "dcgan", latent_dim = 8, width = 8 }
discriminator = { name = "dcgan", width = 8 }
loss = { name = "bce" }
weighter = { name = "none" }
epochs = 2
batch_size = 4
checkpoint_every = 2
sample_every = 2
samples = 4

[[stages]]
kind = "encoder"
name = "enc"
model = "base"
data = { split = "train", classes = ["8"] }
encoder = { name = "dcgan", width = 8 }
epochs = 3
batch_size = 4
checkpoint_every = 1
sample_every = 3
samples = 4

[[stages]]
kind = "evaluate"
name = "eval"
models = ["enc"]
test = { split = "test" }
positive = "3"

[[stages.evaluators]]
name = "anogan"
searcher = { name = "backprop", steps = 5 }

[[stages.evaluators]]
name = "anogan"
method = "encoder"
control = false
searcher = { name = "encoder" }

[[stages.evaluators]]
name = "anogan"
method = "encoder+3"
control = false
searcher = { name = "encoder", search = { name = "backprop", steps = 3 } }

[[stages.evaluators]]
name = "roc"
bootstrap = 20
"""

STEP = "call:ganaug_plugins.stages.encoder_step:EncoderStep.__call__"
KILLS = {
    # epoch 2, batch 2 of the encoder stage: the checkpoint of epoch 1 is the latest
    "encoder-mid-epoch": f"{STEP}:6",
    # the temp file of the encoder's 2nd checkpoint tensors is written, not yet renamed
    "encoder-checkpoint-write": "write:*/enc/checkpoints/step-*.safetensors:2",
    "encoder-final-write": "write:*/enc/encoder.safetensors:1",
    # the evaluate stage's first search from the encoder's codes
    "encoder-search": "call:ganaug_plugins.searchers.encoder:EncoderSearcher.search:1",
}
#: wall-clock figures of encoder.json: differ between any two runs
TIMED = ("images_per_s", "train_seconds")


def outputs(run: Path) -> dict[str, bytes]:
    files = [
        run / "enc" / "encoder.safetensors",
        run / "enc" / "losses.csv",
        *sorted((run / "enc" / "samples").glob("*.png")),
        run / "eval" / "scores.csv",
    ]
    return {str(p.relative_to(run)): p.read_bytes() for p in files}


def encoder_info(run: Path) -> dict[str, object]:
    info = json.loads((run / "enc" / "encoder.json").read_text())
    info["metrics"] = {k: v for k, v in info["metrics"].items() if k not in TIMED}
    return info


@pytest.fixture(scope="module")
def recipe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("recipe") / "encoder.toml"
    path.write_text(RECIPE)
    return path


@pytest.fixture(scope="module")
def reference(recipe: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "run"
    done = run_cli("run", recipe, "--out", out, "--quiet")
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.parametrize("where", list(KILLS))
def test_encoder_stage_resumes_bit_identically_after_a_kill(
    where: str, recipe: Path, reference: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    killed = run_cli("run", recipe, "--out", out, "--quiet", kill=KILLS[where])
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    if where == "encoder-mid-epoch":
        last = latest_checkpoint(out / "enc" / "checkpoints")
        assert last is not None and load_checkpoint(last).meta["position"]["epoch"] == 1
    if where == "encoder-checkpoint-write":
        assert temp_files(out), "the kill was meant to land inside an atomic write"
    resumed = run_cli("run", recipe, "--resume", out, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    got, want = outputs(out), outputs(reference)
    assert sorted(got) == sorted(want)
    assert [name for name in want if got[name] != want[name]] == []
    assert encoder_info(out) == encoder_info(reference)
    assert metrics(out) == metrics(reference)
    assert not temp_files(out)
    log = (out / "run.log").read_text()
    if where.startswith("encoder-mid") or where.startswith("encoder-checkpoint"):
        assert "resuming from" in log
    if where == "encoder-search":
        assert "stage enc: finished earlier" in log
