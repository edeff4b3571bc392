"""The CUDA path on a real GPU: batched search, bit-identical resume, AnoGAN scoring, NCCL.

Every test here is marked ``cuda`` and skips without a CUDA device, so the CPU suite only
collects them; ``scripts/gpu-check`` runs them on a lent GPU (``pytest -m cuda``). Each test
prints what it measured (``pytest -rA`` shows it) and records it as a junit property, so one GPU
run tells how close the numbers came, not only whether they passed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import safetensors.torch
import torch
import torch.distributed as dist
from torch import Tensor, nn

# cuBLAS reads this when its first handle is made: set before any test touches the GPU, so a
# deterministic run does not depend on which test came first (seed_everything sets it too late then).
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

from ganaug.api.hookspecs import Register, hookimpl
from ganaug.api.interfaces import ImageSpec
from ganaug.kit.tables import read_scores_csv
from ganaug.kit.training.data_parallel import agree, replicate, sync_from_main
from ganaug.runner.engine import run_recipe
from ganaug.runtime import distributed
from ganaug.runtime.errors import RunInterrupted
from ganaug.testing import TINY, plugin_host, recipe_from, tiny_recipe
from ganaug_plugins.losses.gan import LeastSquaresLoss
from ganaug_plugins.searchers.backprop import BackpropOptions, BackpropSearcher
from ganaug_plugins.stages.gan_step import GanStep

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

#: The device under test (a name, so a dry run of the helpers can point it at the CPU).
DEVICE = "cuda"
SIZE = 16


def note(record: Any, key: str, value: object) -> None:
    """Print a measured figure and record it as a junit property of the test."""
    print(f"{key} = {value}")
    record(key, str(value))


@pytest.fixture(autouse=True)
def _restore_torch_flags() -> Iterator[None]:
    """The engine turns deterministic kernels on for the process; put every flag back after a test."""
    saved = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.benchmark,
        torch.backends.cudnn.allow_tf32,
        torch.backends.cuda.matmul.allow_tf32,
    )
    yield
    torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
    torch.backends.cudnn.benchmark = saved[2]
    torch.backends.cudnn.allow_tf32 = saved[3]
    torch.backends.cuda.matmul.allow_tf32 = saved[4]


@contextlib.contextmanager
def precision(mode: str) -> Iterator[None]:
    """``fp32``: TF32 off for convolutions and matmuls; ``default``: torch's own flags (cuDNN TF32 on)."""
    if mode == "fp32":
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    yield


# --- (a) latent search: batched equals one image at a time -------------------------------------


def registry_nets(name: str, device: str) -> tuple[nn.Module, nn.Module]:
    """Narrow G and D ``name`` from the built-in registry, BatchNorm statistics from one pass over
    random data, in eval mode (as after training); the same weights on every call and device."""
    registry = plugin_host().registry
    image = ImageSpec(1, SIZE)
    torch.manual_seed(0)
    built = []
    for kind, options in (("generators", {"latent_dim": 8, "width": 8}), ("discriminators", {"width": 8})):
        component = registry.get(kind, name)
        built.append(component.build(component.options(**options), image=image))
    g, d = built
    x = torch.rand(32, 1, SIZE, SIZE) * 2 - 1
    z = torch.randn(32, int(g.latent_dim)) * 2
    with torch.no_grad():
        g.train(), d.train()
        fake = g(z, x) if g.conditional else g(z)
        d(x), d(fake)
    return g.eval().to(device), d.eval().to(device)


def queries(n: int = 6) -> Tensor:
    return torch.rand(n, 1, SIZE, SIZE, generator=torch.Generator().manual_seed(4)) * 2 - 1


def searcher(**kw: Any) -> BackpropSearcher:
    return BackpropSearcher(
        BackpropOptions(**{"steps": 25, "chunk_size": 64, "record_every": 5, "feature_weight": 0.3, **kw})
    )


def max_rel(a: Tensor, b: Tensor) -> float:
    return float(((a - b).abs() / b.abs().clamp_min(1e-12)).max())


#: (atol of z, rtol of the score) per precision mode: fp32 differs by summation order alone, while
#: TF32 rounds convolution inputs to 10 mantissa bits and 25 Adam steps carry that on. Under TF32
#: z itself is not compared (None): measured on an H200, an IAGAN search's z moved 0.14 apart along a
#: direction the loss hardly sees, while the scores stayed within 6e-5 of each other.
SEARCH_TOLERANCE = {"fp32": (1e-3, 1e-3), "default": (None, 1e-2)}


@pytest.mark.parametrize("mode", ["fp32", "default"])
@pytest.mark.parametrize("name", ["dcgan", "iagan"])
def test_batched_search_equals_one_image_at_a_time(name: str, mode: str, record_property: Any) -> None:
    z_tol, score_rtol = SEARCH_TOLERANCE[mode]
    with precision(mode):
        g, d = registry_nets(name, DEVICE)
        x = queries().to(DEVICE)
        s = searcher()
        z0 = s.initial_z(len(x), int(g.latent_dim), seed=5)
        batched = s.search(g, d, x, seed=0, z_init=z0)
        alone = [s.search(g, d, x[i : i + 1], seed=0, z_init=z0[i : i + 1]) for i in range(len(x))]
    note(record_property, "flags", f"cudnn.allow_tf32={torch.backends.cudnn.allow_tf32}")
    z_alone = torch.cat([a.z for a in alone])
    score_alone = torch.cat([a.score for a in alone])
    note(record_property, "z_max_abs_diff", float((z_alone - batched.z).abs().max()))
    note(record_property, "score_max_rel_diff", max_rel(score_alone, batched.score))
    assert float((batched.z - z0).abs().max()) > 0.1  # z moved: the check is not about a z that stayed
    if z_tol is not None:
        torch.testing.assert_close(z_alone, batched.z, rtol=0, atol=z_tol)
    torch.testing.assert_close(score_alone, batched.score, rtol=score_rtol, atol=0)
    if mode == "fp32":  # the same search on the CPU: same numbers up to float rounding
        g_cpu, d_cpu = registry_nets(name, "cpu")
        on_cpu = s.search(g_cpu, d_cpu, queries(), seed=0, z_init=z0)
        note(record_property, "cpu_score_max_rel_diff", max_rel(batched.score, on_cpu.score))
        torch.testing.assert_close(batched.score, on_cpu.score, rtol=1e-3, atol=0)


def test_search_repeats_bit_identically_with_deterministic_kernels() -> None:
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    g, d = registry_nets("iagan", DEVICE)
    x = queries().to(DEVICE)
    first = searcher().search(g, d, x, seed=3)
    again = searcher().search(g, d, x, seed=3)
    assert torch.equal(first.z, again.z)
    assert torch.equal(first.score, again.score)
    assert not torch.equal(first.z, first.z_initial)


# --- (b) train stage: interrupted and resumed equals an uninterrupted run ----------------------

#: Calls of ``generator_loss`` after which the ``watched`` loss sends SIGINT (None: never).
INTERRUPT: dict[str, int | None] = {"at": None, "calls": 0}


class WatchedLoss(LeastSquaresLoss):
    """Least squares that interrupts the run (SIGINT to this process) at a chosen G step."""

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        INTERRUPT["calls"] = int(INTERRUPT["calls"] or 0) + 1
        if INTERRUPT["at"] == INTERRUPT["calls"]:
            os.kill(os.getpid(), signal.SIGINT)
        return super().generator_loss(fake_logits)


class WatchedPlugin:
    plugin_name = "tests.core.test_cuda:watched"

    @hookimpl
    def register_gan_losses(self, register: Register) -> None:
        register("watched", lambda options: WatchedLoss(), description="least squares with an interrupt")


def host() -> Any:
    return plugin_host(TINY, WatchedPlugin())


def train_recipe(device: str, **generator: Any) -> str:
    """An IAGAN train stage on 12 tiny images of class a: 3 steps an epoch, 2 epochs."""
    return tiny_recipe(
        {
            "kind": "train",
            "name": "gan",
            "data": {"split": "train", "classes": ["a"]},
            "generator": {"name": "iagan", "latent_dim": 8, "width": 8, "code_dim": 4, **generator},
            "discriminator": {"name": "iagan", "width": 8},
            "loss": "watched",
            "weighter": {"name": "ssim", "mode": "detached"},
            "epochs": 2,
            "batch_size": 4,
            "checkpoint_every": 1,
            "sample_every": 1,
            "samples": 4,
        },
        data={"per_class": 12, "size": SIZE},
        run={"device": device, "deterministic": True},
    )


def run_train(text: str, out: Path, interrupt_at: int | None = None, resume: bool = False) -> Any:
    INTERRUPT.update(at=interrupt_at, calls=0)
    h = host()
    try:
        if resume:
            return run_recipe(recipe_from(text, h), resume=out, host=h)
        return run_recipe(recipe_from(text, h), out=out, host=h)
    finally:
        INTERRUPT.update(at=None, calls=0)


def tensor_differences(a: Path, b: Path) -> dict[str, float]:
    """Max absolute difference of every tensor that differs between two safetensors files."""
    ta, tb = safetensors.torch.load_file(a), safetensors.torch.load_file(b)
    assert sorted(ta) == sorted(tb)
    return {
        k: float((ta[k].double() - tb[k].double()).abs().max()) for k in ta if not torch.equal(ta[k], tb[k])
    }


def nondeterminism_warnings(run_dir: Path) -> list[str]:
    """Lines of run.log where torch warned that an op has no deterministic implementation."""
    log = (run_dir / "run.log").read_text(errors="replace")
    return sorted({line.split(": ", 1)[-1][:200] for line in log.splitlines() if "determinis" in line})


@pytest.mark.parametrize(
    "generator",
    [
        pytest.param({}, id="iagan"),
        # code dropout and noise draw from the global CUDA random stream, which a resume must restore
        pytest.param({"code_dropout": 0.25, "code_noise": 0.1}, id="iagan-code-dropout-noise"),
    ],
)
def test_interrupted_and_resumed_training_is_bit_identical(
    generator: dict[str, Any], tmp_path: Path, record_property: Any
) -> None:
    text = train_recipe(DEVICE, **generator)
    reference = run_train(text, tmp_path / "reference").run_dir
    out = tmp_path / "interrupted"
    with pytest.raises((KeyboardInterrupt, RunInterrupted)):
        run_train(text, out, interrupt_at=5)  # the 2nd batch of epoch 2
    assert not (out / "gan" / "generator.safetensors").exists()
    resumed = run_train(text, out, resume=True)
    assert resumed.outputs["gan"].metrics["steps"] == 6
    log = (out / "run.log").read_text()
    assert "resuming from" in log and f"on {DEVICE}" in log
    note(record_property, "nondeterministic_ops", nondeterminism_warnings(reference))
    differ: dict[str, float] = {}
    for name in ("generator", "discriminator"):
        file = f"{name}.safetensors"
        found = tensor_differences(out / "gan" / file, reference / "gan" / file)
        differ.update({f"{name}/{k}": v for k, v in found.items()})
    note(record_property, "tensors_that_differ", len(differ))
    note(record_property, "max_abs_diff", max(differ.values(), default=0.0))
    assert not differ, f"resumed weights differ from the uninterrupted run's: {differ}"
    assert (out / "gan" / "losses.csv").read_bytes() == (reference / "gan" / "losses.csv").read_bytes()


def test_same_recipe_twice_gives_the_same_weights(tmp_path: Path) -> None:
    text = train_recipe(DEVICE)
    a = run_train(text, tmp_path / "a").run_dir / "gan"
    b = run_train(text, tmp_path / "b").run_dir / "gan"
    for file in ("generator.safetensors", "discriminator.safetensors", "losses.csv"):
        assert (a / file).read_bytes() == (b / file).read_bytes(), file


# --- (c) AnoGAN scoring: the evaluate stage on CUDA agrees with the CPU ------------------------

EVAL_RECIPE = tiny_recipe(
    {
        "kind": "train",
        "name": "gan",
        "data": {"split": "train", "classes": ["a"]},
        "generator": {"name": "dcgan", "latent_dim": 8, "width": 8},
        "discriminator": {"name": "dcgan", "width": 8},
        "loss": "bce",
        "weighter": "none",
        "epochs": 2,
        "batch_size": 8,
        "sample_every": 2,
        "samples": 4,
    },
    {
        "kind": "evaluate",
        "name": "eval",
        "models": ["gan"],
        "test": {"split": "test"},
        "positive": "b",
        "evaluators": [
            {"name": "anogan", "searcher": {"name": "backprop", "steps": 30}, "curves": 2, "samples": 2},
            "l1-mean",
            {"name": "roc", "bootstrap": 20},
        ],
    },
    data={"per_class": 32, "size": SIZE},
    run={"device": "cpu"},
)

#: AnoGAN AUC and per-image score tolerances, CUDA (torch's default flags: cuDNN TF32) against CPU.
AUC_ATOL, SCORE_RTOL = 0.02, 1e-2


def scores_by_key(run_dir: Path) -> dict[tuple[str, str, str], float]:
    rows = read_scores_csv(run_dir / "eval" / "scores.csv")
    return {(r["model"], r["method"], r["image"]): float(r["score"]) for r in rows}


def test_evaluate_stage_scores_on_cuda_as_on_the_cpu(tmp_path: Path, record_property: Any) -> None:
    """The same trained model scored on the CPU and on CUDA: AUCs and per-image scores agree."""
    h = host()
    recipe = recipe_from(EVAL_RECIPE, h)
    cpu = run_recipe(recipe, out=tmp_path / "cpu", host=h).run_dir
    gpu = tmp_path / "gpu"
    shutil.copytree(cpu, gpu)
    shutil.rmtree(gpu / "eval")  # the train stage stays finished: CUDA scores the CPU's weights
    run_recipe(recipe, resume=gpu, device=DEVICE, host=host())
    log = (gpu / "run.log").read_text()
    assert f"on {DEVICE}" in log and "stage gan: finished earlier" in log
    want = json.loads((cpu / "eval" / "metrics.json").read_text())["gan"]
    got = json.loads((gpu / "eval" / "metrics.json").read_text())["gan"]
    a, b = scores_by_key(cpu), scores_by_key(gpu)
    assert sorted(a) == sorted(b) and len(a) == 3 * 64  # methods x test images
    rel = {m: max(abs(b[k] - a[k]) / abs(a[k]) for k in a if k[1] == m) for m in {k[1] for k in a}}
    for method in ("anogan", "anogan@init", "l1-mean"):
        note(record_property, f"auc_{method}", f"cpu {want[method]['auc']:.4f} cuda {got[method]['auc']:.4f}")
        note(record_property, f"score_max_rel_diff_{method}", rel[method])
    for method in ("anogan", "anogan@init", "l1-mean"):
        assert abs(got[method]["auc"] - want[method]["auc"]) <= AUC_ATOL, method
        assert rel[method] <= SCORE_RTOL, method
    assert want["anogan"]["auc"] > 0.5  # the detector works, so the comparison means something


# --- (d) NCCL: a world of one rank, through ganaug's own calls ---------------------------------


class OneRankJob(distributed.World):
    """A job of one rank that still takes the collective code paths (as under ``torchrun``)."""

    @property
    def distributed(self) -> bool:
        return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def job(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[OneRankJob, torch.device]]:
    """The process group of a one-rank job joined with ``ganaug.runtime.distributed.init``; left after."""
    for key, value in {
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
        "RANK": "0",
        "WORLD_SIZE": "1",
        "LOCAL_RANK": "0",
    }.items():
        monkeypatch.setenv(key, value)
    world = OneRankJob(0, 1, 0)
    device = distributed.device_for(world, torch.device(DEVICE))
    assert not dist.is_initialized()
    distributed.init(world, device)
    try:
        yield world, device
    finally:
        distributed.shutdown()
    assert not dist.is_initialized()


def test_nccl_group_of_one_initialises_and_shuts_down(job: tuple[OneRankJob, torch.device]) -> None:
    _, device = job
    assert dist.is_initialized()
    assert dist.get_backend() == distributed.backend_for(device)
    assert (dist.get_rank(), dist.get_world_size()) == (0, 1)
    if device.type == "cuda":
        assert dist.get_backend() == "nccl" and device == torch.device("cuda", 0)
        assert torch.cuda.current_device() == 0


def test_collectives_under_nccl(job: tuple[OneRankJob, torch.device]) -> None:
    world, device = job
    x = torch.arange(12.0, device=device).view(4, 3)
    assert torch.equal(world.gather(x), x)
    assert world.broadcast({"answer": ("ok", "/run")}) == {"answer": ("ok", "/run")}
    world.barrier()
    stats, stop = agree(world, {"d_loss": 0.5, "g_loss": 1.25}, True, device)
    assert stats == {"d_loss": 0.5, "g_loss": 1.25} and stop is True
    module = nn.Linear(3, 2).to(device)
    before = [p.detach().clone() for p in module.parameters()]
    sync_from_main(module, world)
    assert all(torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True))


def test_all_ok_under_nccl(job: tuple[OneRankJob, torch.device]) -> None:
    """``World.all_ok`` reduces a flag: under an NCCL-only group it must live on the GPU."""
    world, _ = job
    assert world.all_ok(True) is True
    assert world.all_ok(False) is False


def gan_step(device: torch.device, world: distributed.World | None) -> tuple[GanStep, nn.Module, nn.Module]:
    """A DCGAN step on ``device``; its networks DDP replicas when ``world`` is given."""
    registry = plugin_host().registry
    g, d = registry_nets("dcgan", str(device))
    g.train(), d.train()
    loss = registry.get("gan_losses", "bce")
    weighter = registry.get("loss_weighters", "none")
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    wrapped_g = replicate(g, world, device) if world is not None else g
    wrapped_d = replicate(d, world, device) if world is not None else d
    step = GanStep(
        wrapped_g, wrapped_d, loss.build(loss.options()), weighter.build(weighter.options()), opt_g, opt_d
    )
    return step, g, d


def test_ddp_replicas_step_as_the_bare_networks(
    job: tuple[OneRankJob, torch.device], record_property: Any
) -> None:
    """One rank's DDP step (gradients all-reduced over NCCL) equals the bare networks' step."""
    world, device = job
    torch.use_deterministic_algorithms(True, warn_only=True)  # as a run sets it: same kernels both times
    torch.backends.cudnn.benchmark = False
    real = queries(8).to(device)
    z = torch.randn(8, 8, generator=torch.Generator().manual_seed(1)).to(device)
    bare, g0, d0 = gan_step(device, None)
    ddp, g1, d1 = gan_step(device, world)
    assert type(ddp.generator).__name__ == "Replica"
    for _ in range(2):
        a, b = bare(real, z), ddp(real, z)
    assert a.keys() == b.keys()
    diffs = [
        float((p - q).abs().max())
        for m0, m1 in ((g0, g1), (d0, d1))
        for p, q in zip(m0.state_dict().values(), m1.state_dict().values(), strict=True)
        if p.is_floating_point()
    ]
    note(record_property, "max_abs_weight_diff", max(diffs))
    assert max(diffs) <= 1e-5
    assert a == pytest.approx(b, rel=1e-5, abs=1e-6)
