"""``python -m benchmarks.run [--device cuda] [--size 128] [--quick] [--out results.json]``: every
benchmark in one process, a table with ratios on the console and all figures in a JSON file (written
atomically). On CUDA the JSON also holds each part's peak GPU memory (``cuda_peak_mb``)."""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path
from typing import Any

import attrs
import torch
from rich.console import Console

from benchmarks.common import Settings, matmul_gflops
from benchmarks.components import bench_iagan_components
from benchmarks.report import print_report
from benchmarks.search import bench_early_stop, bench_memory, bench_search
from benchmarks.train import bench_train
from ganaug.runtime.io import write_json

FULL = Settings()
QUICK = Settings(
    search_steps=3,
    batched_images=64,
    chunk_sizes=(64,),
    train_steps=1,
    memory_images=1_000,
    early_stop_images=16,
    early_stop_steps=100,
)


def gpu_peak_mb(device: torch.device) -> float | None:
    """Peak GPU memory allocated since the last call (MiB), then reset; None off CUDA."""
    if device.type != "cuda":
        return None
    peak = torch.cuda.max_memory_allocated(device) / 2**20
    torch.cuda.reset_peak_memory_stats(device)
    return peak


def run_all(settings: Settings, log: Any = None) -> dict[str, Any]:
    """Run every benchmark under ``settings`` and return the figures (JSON-ready)."""
    say = log or (lambda _msg: None)
    started = time.perf_counter()
    device = torch.device(settings.device)
    gpu_peak_mb(device)
    say(f"memory ({settings.memory_images} images)")
    memory = bench_memory(settings)  # first, while the process holds nothing else
    peaks = {"memory": gpu_peak_mb(device)}
    say("matmul")
    peak = matmul_gflops(settings.matmul_n, device)
    peaks["matmul"] = gpu_peak_mb(device)
    search = []
    for name, chunks in (("dcgan", settings.chunk_sizes), ("iagan", settings.iagan_chunk_sizes)):
        say(f"search {name}")
        search.append(bench_search(name, settings, peak, chunks))
        peaks[f"search_{name}"] = gpu_peak_mb(device)
    train = []
    for name in ("dcgan", "iagan"):
        for batch in settings.train_batches:
            for cl in (False, True):
                say(f"train {name} batch {batch}{' channels_last' if cl else ''}")
                train.append(bench_train(name, batch, settings, peak, channels_last=cl))
                peaks[f"train_{name}_{batch}{'_cl' if cl else ''}"] = gpu_peak_mb(device)
    say("IAGAN components")
    components = bench_iagan_components(settings)
    peaks["iagan_components"] = gpu_peak_mb(device)
    say("early stop")
    early = bench_early_stop(settings)
    peaks["early_stop"] = gpu_peak_mb(device)
    return {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "device": str(device),
            "cuda_device": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        },
        "settings": attrs.asdict(settings),
        "matmul_gflops": peak,
        "search": search,
        "train": train,
        "iagan_components": components,
        "early_stop": early,
        "memory": memory,
        "cuda_peak_mb": peaks if device.type == "cuda" else None,
        "seconds_total": time.perf_counter() - started,
    }


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run, print the table and write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--size", type=int, default=None, help=f"image size (default {FULL.size})")
    parser.add_argument("--quick", action="store_true", help="fewer steps and images (~1 minute)")
    parser.add_argument("--out", type=Path, default=Path("benchmark-results.json"))
    args = parser.parse_args(argv)
    settings = attrs.evolve(QUICK if args.quick else FULL, device=args.device)
    if args.size is not None:
        settings = attrs.evolve(settings, size=args.size)
    console = Console()
    results = run_all(settings, log=lambda msg: console.log(msg))
    write_json(args.out, results)  # first: a failing table must not lose the figures
    print_report(results, console)
    console.print(f"wrote {args.out} ({results['seconds_total']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
