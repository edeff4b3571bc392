"""Sweeps: one recipe run over the cross product of settings (``--grid``) and seeds.

Each (setting, seed) is an ordinary run directory ``OUT/<setting>/seed-<N>`` (locked, resumable),
listed in ``OUT/sweep.json``. Running a sweep again runs only what is missing or unfinished; a
finished run whose recipe differs from the sweep's is refused, never silently mixed in. Every
setting's recipe is checked before the first run starts, so a bad grid key fails at once.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import attrs

from ganaug.recipe.load import load_recipe, recipe_to_dict
from ganaug.recipe.schema import Recipe
from ganaug.runner.rundir import RunDir, recipe_hash
from ganaug.runtime import io
from ganaug.runtime.errors import Problem, RecipeError, RunDirError

MANIFEST = "sweep.json"
DEFAULT_SETTING = "default"


def split_values(text: str) -> list[str]:
    """``"4,16,[1, 2]"`` -> ``["4", "16", "[1, 2]"]``: commas inside brackets or quotes stay."""
    values, current, depth, quote = [], [], 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            values.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    values.append("".join(current).strip())
    return values


def parse_grid(items: Iterable[str]) -> list[tuple[str, list[str]]]:
    """``["stages.iagan.epochs=10,20"]`` -> ``[("stages.iagan.epochs", ["10", "20"])]``."""
    grid, problems = [], []
    for item in items:
        key, sep, text = item.partition("=")
        values = split_values(text) if sep else []
        if not key.strip() or not values or any(v == "" for v in values):
            problems.append(Problem(f"--grid {item}", "expected key.path=value1,value2,..."))
            continue
        if any(key.strip() == seen for seen, _ in grid):
            problems.append(
                Problem(f"--grid {item}", f"{key.strip()!r} is varied twice: give its values once")
            )
            continue
        grid.append((key.strip(), values))
    if problems:
        raise RecipeError(problems, "--grid")
    return grid


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "-", text).strip("-.") or "value"


@attrs.frozen
class Setting:
    """One point of the grid: its folder name and the ``--set`` overrides that make it."""

    name: str
    overrides: tuple[str, ...]


def settings_of(grid: Sequence[tuple[str, list[str]]]) -> list[Setting]:
    """The cross product of the grid's values, in order; no grid gives one ``default`` setting."""
    if not grid:
        return [Setting(DEFAULT_SETTING, ())]
    out = []
    for i, combo in enumerate(itertools.product(*[values for _, values in grid])):
        overrides = tuple(f"{key}={value}" for (key, _), value in zip(grid, combo, strict=True))
        label = "_".join(
            f"{key.split('.')[-1]}={_slug(value)}" for (key, _), value in zip(grid, combo, strict=True)
        )
        out.append(Setting(f"{i:02d}-{label}"[:80], overrides))
    return out


@attrs.frozen
class PlannedRun:
    """A run of the sweep: setting, seed, folder, and the recipe it runs."""

    setting: Setting
    seed: int
    dir: Path
    recipe: Recipe
    source: Path
    overrides: tuple[str, ...]

    @property
    def digest(self) -> str:
        return recipe_hash(recipe_to_dict(self.recipe))

    @property
    def tags(self) -> dict[str, Any]:
        """The setting, the seed and each grid value, for trackers (TensorBoard's hparams)."""
        values = dict(o.split("=", 1) for o in self.setting.overrides)
        return {"setting": self.setting.name, "seed": self.seed, **values}

    def state(self) -> str:
        """``missing``, ``unfinished`` or ``finished``."""
        manifest = RunDir(self.dir).read_manifest() if self.dir.exists() else None
        if manifest is None:
            return "missing"
        return "finished" if manifest.get("finished") else "unfinished"


@attrs.frozen
class SweepPlan:
    """Everything a sweep will run, checked: recipe path, seeds, grid, runs."""

    recipe: Path
    out: Path
    seeds: tuple[int, ...]
    grid: tuple[tuple[str, tuple[str, ...]], ...]
    overrides: tuple[str, ...]
    runs: tuple[PlannedRun, ...]

    def manifest(self) -> dict[str, Any]:
        return {
            "recipe": str(self.recipe),
            "seeds": list(self.seeds),
            "grid": {key: list(values) for key, values in self.grid},
            "overrides": list(self.overrides),
            "settings": {
                run.setting.name: list(run.setting.overrides)
                for run in self.runs
                if run.seed == self.seeds[0]
            },
            "runs": [
                {
                    "setting": run.setting.name,
                    "seed": run.seed,
                    "dir": str(run.dir.relative_to(self.out)),
                    "recipe_hash": run.digest,
                }
                for run in self.runs
            ],
        }


def plan_sweep(
    recipe: str | Path,
    seeds: Sequence[int],
    *,
    grid: Iterable[str] = (),
    overrides: Iterable[str] = (),
    out: str | Path | None = None,
    registry: Any = None,
) -> SweepPlan:
    """Check every (setting, seed) recipe and lay out the run folders; nothing runs yet.

    Raises :class:`RecipeError` with every problem of every setting (a bad grid key names itself).
    """
    if not seeds:
        raise RecipeError([Problem("--seeds", "give at least one seed")], str(recipe))
    if len(set(seeds)) != len(seeds):
        raise RecipeError([Problem("--seeds", f"seeds repeat: {list(seeds)}")], str(recipe))
    parsed = parse_grid(grid)
    base = tuple(overrides)
    problems: list[Problem] = []
    runs: list[PlannedRun] = []
    folder = Path(out) if out is not None else None
    for setting in settings_of(parsed):
        for seed in seeds:
            every = (*base, *setting.overrides, f"run.seed={seed}")
            try:
                loaded = load_recipe(recipe, overrides=every, registry=registry)
            except RecipeError as error:
                keys = {f"--set {key}" for key, _ in parsed}
                for found in error.problems:
                    grid_key = found.path in keys
                    problem = (
                        Problem(found.path.replace("--set", "--grid", 1), found.message)
                        if grid_key
                        else found
                    )
                    if not any(p.path == problem.path and p.message == problem.message for p in problems):
                        problems.append(problem)
                break
            if folder is None:
                folder = Path(loaded.run.output_dir) / f"{loaded.run.name}-sweep"
            where = folder / setting.name / f"seed-{seed}"
            runs.append(PlannedRun(setting, seed, where, loaded, Path(recipe), every))
    if problems:
        raise RecipeError(problems, str(recipe))
    assert folder is not None
    grid_items = tuple((key, tuple(values)) for key, values in parsed)
    return SweepPlan(Path(recipe), folder, tuple(seeds), grid_items, base, tuple(runs))


def check_consistent(plan: SweepPlan) -> None:
    """Refuse a finished run whose recipe is not the one the sweep would run there now."""
    for run in plan.runs:
        if run.state() != "finished":
            continue
        stored = RunDir(run.dir).read_recipe_hash()
        if stored != run.digest:
            raise RunDirError(
                f"{run.dir} holds a finished run of another recipe (hash {stored}, the sweep's is "
                f"{run.digest}); use another --out, or remove that folder to run it again"
            )


def write_manifest(plan: SweepPlan) -> Path:
    plan.out.mkdir(parents=True, exist_ok=True)
    return io.write_json(plan.out / MANIFEST, plan.manifest())


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunDirError(f"{folder} holds no sweep ({MANIFEST} is missing)") from None
    except (OSError, ValueError, RecursionError) as error:
        raise RunDirError(f"cannot read {path}: {error}") from None
    runs = manifest.get("runs") if isinstance(manifest, dict) else None
    keys = ("setting", "seed", "dir")
    if not isinstance(runs, list) or not all(isinstance(r, dict) and all(k in r for k in keys) for r in runs):
        raise RunDirError(f"{path} is not a sweep manifest (expected an object whose 'runs' list {keys})")
    if not all(isinstance(r["seed"], int) and isinstance(r["dir"], str) for r in runs):
        raise RunDirError(f"{path}: every run needs an integer 'seed' and a folder name 'dir'")
    return manifest


#: Starts one planned run, ``(run, resume)``, and returns a callable that waits for it to end
#: (raising a GanaugError if it failed). The local launcher runs it before returning.
Launch = Callable[[PlannedRun, bool], Callable[[], None]]


@attrs.define
class SweepOutcome:
    """Per run: ``skipped`` (already finished), ``ran``, ``resumed`` or the error message."""

    status: dict[tuple[str, int], str] = attrs.Factory(dict)

    @property
    def failed(self) -> list[tuple[str, int]]:
        return [key for key, value in self.status.items() if value not in ("skipped", "ran", "resumed")]


def local_launcher(**run_kwargs: Any) -> Launch:
    """Runs each planned run in this process, one after another (the default)."""
    from ganaug.runner.engine import run_recipe

    def launch(run: PlannedRun, resume: bool) -> Callable[[], None]:
        where = {"resume": run.dir} if resume else {"out": run.dir}
        run_recipe(run.recipe, tags=run.tags, **where, **run_kwargs)
        return lambda: None

    return launch


def run_sweep(
    plan: SweepPlan, launch: Launch, notify: Callable[[str], None] = lambda _: None
) -> SweepOutcome:
    """Start what is missing or unfinished, then wait for it; a failed run is reported and the
    others still run."""
    from ganaug.runtime.errors import GanaugError

    check_consistent(plan)
    write_manifest(plan)
    outcome = SweepOutcome()
    waiting: list[tuple[tuple[str, int], str, str, Callable[[], None]]] = []
    for i, run in enumerate(plan.runs, 1):
        key, state = (run.setting.name, run.seed), run.state()
        where = f"[{i}/{len(plan.runs)}] {run.setting.name} seed {run.seed}"
        if state == "finished":
            outcome.status[key] = "skipped"
            notify(f"{where}: finished already, skipped")
            continue
        notify(f"{where}: {'resuming' if state == 'unfinished' else 'running'} in {run.dir}")
        done = "resumed" if state == "unfinished" else "ran"
        try:
            waiting.append((key, where, done, launch(run, state == "unfinished")))
        except GanaugError as error:
            outcome.status[key] = f"failed: {error}"
            notify(f"{where}: failed: {error}")
    for key, where, done, wait in waiting:
        try:
            wait()
        except GanaugError as error:
            outcome.status[key] = f"failed: {error}"
            notify(f"{where}: failed: {error}")
            continue
        outcome.status[key] = done
    return outcome


def parallel_launcher(jobs: int, device: str | None = None, threads: int | None = None) -> Launch:
    """Runs up to ``jobs`` runs at once, each in its own ``ganaug run`` process with ``threads``
    torch threads (default: the CPU count divided among the jobs). On a CPU, several
    single-threaded runs of small networks get more done than one run on every core."""
    import os
    import subprocess
    import sys

    from ganaug.runtime.errors import GanaugError

    per_job = threads or max(1, (os.cpu_count() or 1) // jobs)
    env = {**os.environ, "OMP_NUM_THREADS": str(per_job), "MKL_NUM_THREADS": str(per_job)}
    running: list[subprocess.Popen[str]] = []

    def launch(run: PlannedRun, resume: bool) -> Callable[[], None]:
        while sum(p.poll() is None for p in running) >= jobs:
            next(p for p in running if p.poll() is None).wait()
        where = ["--resume", str(run.dir)] if resume else ["--out", str(run.dir)]
        command = [sys.executable, "-m", "ganaug", "run", str(run.source), *where, "--quiet"]
        command += [arg for item in run.overrides for arg in ("--set", item)]
        command += ["--device", device] if device else []
        log = run.dir.parent / f".{run.dir.name}.stderr"
        run.dir.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w", encoding="utf-8") as err:
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=env, text=True)
        running.append(proc)

        def wait() -> None:
            code = proc.wait()
            if code != 0:
                tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
                raise GanaugError(f"ganaug run exited with {code}: {' / '.join(tail)} (see {log})")
            log.unlink(missing_ok=True)

        return wait

    return launch
