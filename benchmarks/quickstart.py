"""``python -m benchmarks.quickstart``: the main job's wall time alone and beside other work.

Runs the quickstart recipe as a user does (``ganaug run`` in its own process) for each thread
setting given: once alone, then once beside a second, identical run started at the same moment (a
CPU-bound neighbour, as a second experiment on a laptop is). Reports each run's wall time, its
stage times and the ratio beside / alone, measured in the same invocation; writes JSON (atomically).
Nothing else should run on the machine meanwhile. About 15 minutes with the defaults on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ganaug.runtime.io import write_json

ROOT = Path(__file__).resolve().parents[1]


def _start(recipe: Path, out: Path, threads: int, extra: list[str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "ganaug", "run", str(recipe), "--out", str(out), "--quiet"]
    command += ["--set", f"run.threads={threads}", *extra]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _finish(proc: subprocess.Popen[bytes], started: float) -> float:
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"ganaug run failed ({proc.returncode}): {err.decode(errors='replace')[-2000:]}")
    return time.perf_counter() - started


def _stages(run: Path) -> dict[str, float]:
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    return {name: entry.get("seconds") for name, entry in manifest["stages"].items()}


def measure(recipe: Path, threads: int, beside: bool, work: Path, extra: list[str]) -> dict[str, Any]:
    """One timed run of ``recipe`` (alone, or beside an identical neighbour started with it)."""
    tag = f"t{threads}-{'beside' if beside else 'alone'}"
    started = time.perf_counter()
    main = _start(recipe, work / tag, threads, extra)
    neighbour = _start(recipe, work / f"{tag}-neighbour", threads, extra) if beside else None
    seconds = _finish(main, started)
    if neighbour is not None:
        _finish(neighbour, started)
    return {"threads": threads, "beside": beside, "seconds": seconds, "stages": _stages(work / tag)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, default=ROOT / "examples" / "quickstart.toml")
    parser.add_argument("--threads", default="1", help="thread settings to measure, e.g. 1,2")
    parser.add_argument("--alone-only", default="", help="thread settings measured alone only, e.g. 2")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="recipe override")
    parser.add_argument("--out", type=Path, default=Path("quickstart-bench.json"))
    args = parser.parse_args()
    extra = [arg for item in args.overrides for arg in ("--set", item)]
    console = Console(stderr=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="ganaug-qs-bench-") as tmp:
        plan = [(int(t), False) for t in args.threads.split(",") if t]
        plan += [(int(t), True) for t in args.threads.split(",") if t]
        plan += [(int(t), False) for t in args.alone_only.split(",") if t]
        for threads, beside in plan:
            console.print(
                f"quickstart, {threads} thread(s), {'beside a second run' if beside else 'alone'} ..."
            )
            results.append(measure(args.recipe, threads, beside, Path(tmp), extra))
    alone = {r["threads"]: r["seconds"] for r in results if not r["beside"]}
    table = Table("threads", "alone", "beside a second run", "beside / alone")
    for threads, seconds in alone.items():
        other = next((r["seconds"] for r in results if r["beside"] and r["threads"] == threads), None)
        ratio = f"{other / seconds:.2f}x" if other else "—"
        table.add_row(
            str(threads), f"{seconds / 60:.2f} min", f"{other / 60:.2f} min" if other else "—", ratio
        )
    console.print(table)
    write_json(args.out, {"recipe": str(args.recipe), "runs": results})
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
