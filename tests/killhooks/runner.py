"""A tiny recipe covering every stage kind, and helpers to run, kill and compare CLI runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOOKS = Path(__file__).resolve().parent

# train -> augment (latent search) -> train on real + augmented -> evaluate (AnoGAN search, ROC)
TINY = """
[run]
name = "tiny"
seed = 1
device = "cpu"

[data]
source = "mnist-5k"
classes = ["8", "3"]
image_size = 16

[data.split]
train = { "8" = 16 }
test = { "8" = 4, "3" = 4 }
holdout = { "3" = 4 }

[[stages]]
kind = "train"
name = "base"
data = { split = "train", classes = ["8"] }
generator = { name = "dcgan", latent_dim = 8, width = 8 }
discriminator = { name = "dcgan", width = 8 }
loss = { name = "bce" }
weighter = { name = "none" }
epochs = 3
batch_size = 4
checkpoint_every = 1
sample_every = 3
samples = 4

[[stages]]
kind = "augment"
name = "aug"
model = "base"
queries = [{ split = "holdout", classes = ["3"] }]
label = "8"
searcher = { name = "backprop", steps = 10 }
pairs = 2
curves = 2

[[stages]]
kind = "train"
name = "more"
data = { split = "train", classes = ["8"], add = ["aug"] }
generator = { name = "dcgan", latent_dim = 8, width = 8 }
discriminator = { name = "dcgan", width = 8 }
loss = { name = "bce" }
weighter = { name = "none" }
epochs = 2
batch_size = 4
checkpoint_every = 1
sample_every = 2
samples = 4

[[stages]]
kind = "evaluate"
name = "eval"
models = ["base", "more"]
test = { split = "test" }
positive = "3"
evaluators = [
  { name = "anogan", searcher = { name = "backprop", steps = 10 } },
  { name = "l1-mean" },
  { name = "roc", bootstrap = 50 },
]
"""

# GAN steps per stage of TINY: base 16 images / 4 = 4 a epoch x 3; more (16 + 4) / 4 = 5 x 2
BASE_STEPS, MORE_STEPS_PER_EPOCH = 12, 5
WAIT_S = 300  # a hang guard for subprocess waits, not a speed limit


def env(kill: str = "") -> dict[str, str]:
    """The subprocess environment: one thread, this test session's cache, optional fault."""
    out = dict(os.environ)
    out.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(ROOT), GANAUG_KILL=kill)
    out.setdefault("MPLBACKEND", "Agg")
    return out


def command(*args: str | Path, hooked: bool = False) -> list[str]:
    module = "tests.killhooks.killrun" if hooked else "ganaug"
    return [sys.executable, "-m", module, *map(str, args)]


def run_cli(*args: str | Path, kill: str = "") -> subprocess.CompletedProcess[str]:
    """Run ``ganaug ARGS`` (through the fault-injecting wrapper when ``kill`` names a fault)."""
    return subprocess.run(
        command(*args, hooked=bool(kill)),
        env=env(kill),
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )


def start_cli(*args: str | Path, kill: str = "") -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(*args, hooked=True),
        env=env(kill),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, proc: subprocess.Popen[str]) -> None:
    """Poll until ``path`` exists; fail (and show the child's output) if the child ends first."""
    deadline = time.monotonic() + WAIT_S
    while not path.exists():
        if proc.poll() is not None:
            _, err = proc.communicate()
            raise AssertionError(f"the run ended (rc {proc.returncode}) before {path} appeared:\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.02)


def signal_and_wait(proc: subprocess.Popen[str], sig: int = signal.SIGKILL) -> tuple[int, str]:
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=WAIT_S)
    return proc.returncode, err


def outputs(run: Path) -> dict[str, bytes]:
    """The files whose content must not depend on interruptions, by run-relative path."""
    files = [
        *(run / s / f"{net}.safetensors" for s in ("base", "more") for net in ("generator", "discriminator")),
        *(run / stage / "losses.csv" for stage in ("base", "more")),
        *sorted((run / "aug" / "images").glob("*.png")),
        run / "aug" / "augmented.csv",
        run / "aug" / "summary.json",
        run / "eval" / "scores.csv",
    ]
    return {str(p.relative_to(run)): p.read_bytes() for p in files}


#: wall-clock figures of metrics.json (the anogan evaluator's search time): differ between any two runs
TIMING = ("search_seconds", "seconds_per_image")


def metrics(run: Path, stage: str = "eval") -> dict[str, object]:
    """A stage's metrics.json without its wall-clock figures."""
    found = json.loads((run / stage / "metrics.json").read_text())
    return {
        model: {
            method: {k: v for k, v in entry.items() if k not in TIMING} if isinstance(entry, dict) else entry
            for method, entry in methods.items()
        }
        if isinstance(methods, dict)
        else methods
        for model, methods in found.items()
    }


def temp_files(run: Path) -> list[Path]:
    """Temporary files of interrupted atomic writes (``.NAME.XXXX.tmp``)."""
    return sorted(p for p in run.rglob(".*.tmp"))
