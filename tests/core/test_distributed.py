"""torchrun end to end: 2 gloo processes on the CPU against 1 process on the same recipe.

Sharded search must give every image exactly what a 1-process search gives it; training runs
data-parallel with a global batch of ``batch_size x 2``; a failing rank fails the whole job.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

RECIPE = """
[run]
name = "tiny"
seed = 3
device = "cpu"

[data]
source = "mnist-5k"
classes = ["8", "3"]
image_size = 16

[data.split]
train = { "8" = 16 }
test = { "8" = 5, "3" = 4 }

[[stages]]
kind = "train"
name = "gan"
data = { split = "train", classes = ["8"] }
generator = { name = "dcgan", latent_dim = 8, width = 8 }
discriminator = { name = "dcgan", width = 8 }
loss = { name = "bce" }
weighter = { name = "none" }
epochs = 2
batch_size = 4
sample_every = 1
checkpoint_every = 1
samples = 4

[[stages]]
kind = "augment"
name = "aug"
model = "gan"
queries = [{ split = "test" }]
label = "8"
searcher = { name = "backprop", steps = 6, feature_weight = 0.7, chunk_size = 4 }
pairs = 2
curves = 2

[[stages]]
kind = "evaluate"
name = "evaluate"
models = ["gan"]
test = { split = "test" }
positive = "3"
evaluators = [
  { name = "anogan", searcher = { name = "backprop", steps = 6, chunk_size = 4 }, curves = 2, samples = 2 },
  { name = "roc", bootstrap = 20 },
]
"""

# injected on rank 1 only, through sitecustomize (imported by every Python process at start-up)
FAIL_ON_RANK_1 = """
import os
if os.environ.get("RANK") == "1":
    from ganaug_plugins.stages.augment import AugmentStage

    def _fail(self, ctx):
        raise RuntimeError("injected failure on rank 1")

    AugmentStage.run = _fail
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ganaug(
    base: Path, args: list[str], nproc: int, extra_path: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``ganaug run`` in a subprocess: plain for 1 process, under torchrun for more."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GANAUG_CACHE_DIR": str(base / "cache")}
    env["GANAUG_DIST_TIMEOUT"] = "120"  # a lost rank ends a collective in 2 min, never a hang
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(extra_path), env.get("PYTHONPATH", "")])
    launcher = [sys.executable]
    if nproc > 1:
        launcher += ["-m", "torch.distributed.run", "--nproc-per-node", str(nproc)]
        launcher += ["--master-addr", "127.0.0.1", "--master-port", str(_free_port())]
    command = [*launcher, "-m", "ganaug", "run", str(base / "tiny.toml"), *args, "--quiet"]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dist")
    (folder / "tiny.toml").write_text(RECIPE)
    return folder


@pytest.fixture(scope="module")
def two_ranks(base: Path) -> Path:
    """The tiny recipe run by 2 processes."""
    out = base / "two"
    done = _ganaug(base, ["--out", str(out)], 2)
    assert done.returncode == 0, done.stderr[-4000:]
    return out


def _copy_without(run: Path, target: Path, stages: list[str]) -> Path:
    shutil.copytree(run, target)
    for stage in stages:
        shutil.rmtree(target / stage)
    return target


def _same_numbers(a: list[dict[str, str]], b: list[dict[str, str]], numeric: tuple[str, ...]) -> None:
    assert len(a) == len(b) > 0
    for left, right in zip(a, b, strict=True):
        assert {k: v for k, v in left.items() if k not in numeric} == {
            k: v for k, v in right.items() if k not in numeric
        }
        for key in numeric:
            assert float(left[key]) == pytest.approx(float(right[key]), abs=1e-5, rel=1e-6), (key, left)


def test_sharded_search_matches_one_process(two_ranks: Path, base: Path) -> None:
    # same trained model, then augment + evaluate again in ONE process (resume re-runs them)
    one = _copy_without(two_ranks, base / "one", ["aug", "evaluate"])
    done = _ganaug(base, ["--resume", str(one)], 1)
    assert done.returncode == 0, done.stderr[-4000:]
    numbers = ("residual", "discrimination", "score", "initial_score")
    aug_two, aug_one = _rows(two_ranks / "aug/augmented.csv"), _rows(one / "aug/augmented.csv")
    assert len(aug_two) == 9  # rank 0 searched 5 images, rank 1 4: all gathered, in order
    _same_numbers(aug_two, aug_one, numbers)
    for row in aug_two:
        assert (two_ranks / "aug" / row["output"]).read_bytes() == (one / "aug" / row["output"]).read_bytes()
    scores_two, scores_one = _rows(two_ranks / "evaluate/scores.csv"), _rows(one / "evaluate/scores.csv")
    assert {r["method"] for r in scores_two} == {"anogan", "anogan@init"}
    _same_numbers(scores_two, scores_one, ("residual", "discrimination", "score"))


def test_training_is_data_parallel(two_ranks: Path) -> None:
    info = json.loads((two_ranks / "gan/training.json").read_text())
    # 16 images, 4 per rank x 2 ranks = global batch 8: 2 steps per epoch, 2 epochs
    assert info["metrics"]["steps"] == 4
    assert all(math.isfinite(info["metrics"][k]) for k in ("d_loss", "g_loss"))
    latest = json.loads((two_ranks / "gan/checkpoints/latest.json").read_text())
    meta = json.loads((two_ranks / "gan/checkpoints" / latest["checkpoint"]).read_text())
    assert meta["world_size"] == 2 and meta["position"]["images"] == 32
    assert "effective batch 8" in (two_ranks / "run.log").read_text()


def test_resume_with_another_world_size_is_refused(two_ranks: Path, base: Path) -> None:
    other = _copy_without(two_ranks, base / "other", ["aug", "evaluate"])
    (other / "gan/done.json").unlink()  # so the train stage resumes from its checkpoint
    done = _ganaug(base, ["--resume", str(other)], 1)
    assert done.returncode != 0
    assert "written by a run on 2 process(es)" in done.stdout + done.stderr


def test_a_failing_rank_fails_the_job(base: Path) -> None:
    inject = base / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(FAIL_ON_RANK_1)
    done = _ganaug(base, ["--out", str(base / "failing")], 2, extra_path=inject)
    assert done.returncode != 0
    assert "injected failure on rank 1" in done.stdout + done.stderr
    assert not (base / "failing/aug/done.json").exists()


def test_limited_data_switches_train_under_torchrun(tmp_path: Path) -> None:
    """DiffAugment, ADA, R1 (a double backward through the DDP-wrapped D) and LeCam on 2 ranks."""
    train_only = RECIPE.split('[[stages]]\nkind = "augment"')[0]
    switches = (
        'augmenters = [{ name = "diffaugment" }, { name = "ada", interval = 1, speed = 50 }]\n'
        'regularizers = [{ name = "r1", gamma = 1.0 }, { name = "lecam" }]\n'
    )
    (tmp_path / "tiny.toml").write_text(
        train_only.replace('weighter = { name = "none" }\n', 'weighter = { name = "none" }\n' + switches)
    )
    done = _ganaug(tmp_path, ["--out", str(tmp_path / "two")], 2)
    assert done.returncode == 0, done.stderr[-4000:]
    rows = _rows(tmp_path / "two" / "gan" / "losses.csv")
    assert len(rows) == 4 and all(math.isfinite(float(r[k])) for r in rows for k in ("d_loss", "r1", "lecam"))
    assert float(rows[-1]["ada_p"]) > 0  # p moved, from the logits of the whole global batch
