"""The engine: runs a resolved recipe's stages in order inside a run directory.

It knows no built-in by name: data sources, stages and their components all come from the
registry, exactly as third-party plugins do.
"""

from __future__ import annotations

import contextlib
import logging
import math
import shlex
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import torch

from ganaug.api.capabilities import EstimatesWork
from ganaug.api.context import DataContext, StageContext
from ganaug.api.interfaces import DataBundle, StageOutput
from ganaug.api.tracking import Trackers, numeric_leaves
from ganaug.host.blame import culprit, failure_message, is_builtin
from ganaug.host.loading import BLOCK_ENV, PluginHost, make_plugin_host
from ganaug.host.registry import builder
from ganaug.kit.images import record_source
from ganaug.recipe.load import recipe_to_dict
from ganaug.recipe.schema import Recipe, StageSpec
from ganaug.runner.contexts import stage_context, stage_of
from ganaug.runner.fingerprint import check_and_record
from ganaug.runner.logs import LOG_ONLY, LOGGER, file_log
from ganaug.runner.parallel import run_side_by_side
from ganaug.runner.report import write_report
from ganaug.runner.rundir import (
    RunDir,
    environment_versions,
    now,
    open_run_dir,
    recipe_hash,
    remove_temp_files,
)
from ganaug.runner.session import Session, cache_dir
from ganaug.runtime import distributed, io
from ganaug.runtime.device import resolve_device, seed_everything
from ganaug.runtime.errors import GanaugError, PluginError, RunDirError, RunInterrupted
from ganaug.runtime.progress import Progress
from ganaug.runtime.run_view import RunView, plans
from ganaug.runtime.seeds import stage_seed


@attrs.define
class RunResult:
    """What a finished run leaves: its folder, each stage's metrics and outputs."""

    run_dir: Path
    outputs: dict[str, StageOutput]

    @property
    def metrics(self) -> dict[str, dict[str, Any]]:
        return {name: out.metrics for name, out in self.outputs.items() if out.metrics}

    def files(self, stage: str) -> list[Path]:
        return list(self.outputs[stage].files)


@contextlib.contextmanager
def _warnings_to(log: logging.Logger) -> Iterator[None]:
    """Route Python warnings raised during the run into ganaug's log (console and ``run.log``)."""

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int, *_: Any) -> None:
        log.warning("%s: %s (%s:%d)", category.__name__, message, Path(filename).name, lineno)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def _clean_temp_files(run_dir: RunDir, log: logging.Logger) -> None:
    removed = remove_temp_files(run_dir.path)
    if removed:
        names = ", ".join(str(p.relative_to(run_dir.path)) for p in removed[:5])
        log.info("removed %d partial file(s) an interrupted write left: %s", len(removed), names)


def run_recipe(
    recipe: Recipe,
    *,
    out: Path | None = None,
    device: str | None = None,
    progress: Progress | None = None,
    host: PluginHost | None = None,
    resume: Path | None = None,
    force: bool = False,
    tags: dict[str, Any] | None = None,
) -> RunResult:
    """Run every stage of ``recipe``; return the run directory and the stages' outputs.

    ``tags`` (a sweep's setting and seed, say) go to the run's trackers with its final metrics.

    Under ``torchrun`` every rank calls this; rank 0 owns the run directory and writes all files.
    """
    host = host or make_plugin_host()
    progress = progress or Progress()
    resolved = recipe_to_dict(recipe)
    digest = recipe_hash(resolved)
    world = distributed.world_from_env()
    torch_device = distributed.device_for(world, resolve_device(device or recipe.run.device))
    distributed.init(world, torch_device)
    io.set_writes_enabled(world.is_main)
    run_dir, notes = _shared_run_dir(world, recipe, out, resume, resolved, force)
    log = logging.getLogger(LOGGER)
    log.setLevel(logging.INFO)
    handler = file_log(run_dir.path) if world.is_main else logging.NullHandler()
    log.addHandler(handler)
    try:
        with run_dir.lock() if world.is_main else contextlib.nullcontext(), _warnings_to(log):
            for note in notes:
                log.warning("%s", note)
            for failure in host.failures:
                log.warning("plugin %r not loaded: %s", failure.name, failure.reason)
            if resume is not None and world.is_main:
                _clean_temp_files(run_dir, log)
            session = Session(
                recipe,
                run_dir,
                resolved,
                digest,
                torch_device,
                progress,
                host,
                log,
                resume,
                world,
                tags or {},
                force,
            )
            threads = torch.get_num_threads()  # run.threads holds for this run only
            try:
                return _execute(session)
            finally:
                torch.set_num_threads(threads)
    except KeyboardInterrupt:
        source = recipe.source if recipe.source and not recipe.source.startswith("<") else "RECIPE"
        sets = "".join(f" --set {shlex.quote(item)}" for item in recipe.overrides)
        message = (
            f"interrupted; finished stages and the last checkpoint are kept in {run_dir.path}. "
            f"Resume with: ganaug run {shlex.quote(source)} --resume {shlex.quote(str(run_dir.path))}{sets}"
        )
        log.warning("%s", message, extra=LOG_ONLY)
        raise RunInterrupted(message) from None
    except GanaugError as exc:
        log.error("%s", exc, extra=LOG_ONLY)  # the CLI prints the error itself
        raise
    except Exception as exc:
        found = culprit(exc, host.pm)
        if found is None or is_builtin(found[0]):
            # run.log keeps the traceback; the CLI prints one line (the traceback with --debug)
            log.exception("the run failed with an unexpected error (a bug; please report it)", extra=LOG_ONLY)
            raise
        message = failure_message(exc, *found, BLOCK_ENV)
        log.error("%s", message, exc_info=True, extra=LOG_ONLY)
        raise PluginError(message) from exc
    finally:
        log.removeHandler(handler)
        handler.close()
        io.set_writes_enabled(True)


def _shared_run_dir(
    world: distributed.World,
    recipe: Recipe,
    out: Path | None,
    resume: Path | None,
    resolved: dict[str, Any],
    force: bool,
) -> tuple[RunDir, list[str]]:
    """Rank 0 opens (or refuses) the run directory; every other rank gets the same answer.

    Also returns warnings found on the way, to log once the run's own log file is open."""
    digest = recipe_hash(resolved)
    answer: tuple[str, str]
    notes: list[str] = []
    if world.is_main:
        try:
            opened, notes = open_run_dir(recipe, out, resume, digest, force, resolved)
            answer = ("ok", str(opened.path))
        except RunDirError as exc:
            answer = ("error", str(exc))
            world.broadcast(answer)
            raise
    answer = world.broadcast(answer if world.is_main else ("", ""))
    if answer[0] == "error":
        raise RunDirError(answer[1])
    return RunDir(Path(answer[1])), notes


def _execute(session: Session) -> RunResult:
    recipe, run_dir, resolved, digest = session.recipe, session.run_dir, session.resolved, session.digest
    device, host, log = session.device, session.host, session.log
    resume, world = session.resume, session.world
    seed_everything(recipe.run.seed, recipe.run.deterministic)
    torch.set_num_threads(recipe.run.threads)
    manifest = run_dir.read_manifest() if resume else None
    manifest = manifest or {
        "recipe_hash": digest,
        "seed": recipe.run.seed,
        "device": str(device),
        "world_size": world.size,
        "threads": torch.get_num_threads(),
        "started": now(),
        "versions": environment_versions([attrs.asdict(p) for p in host.loaded]),
        "stages": {},
    }
    if manifest.get("recipe_hash") != digest:  # a --force resume: the run now holds this recipe
        manifest.setdefault("forced_from", []).append(manifest.get("recipe_hash"))
        manifest["recipe_hash"] = digest
    run_dir.write_recipe(resolved)
    run_dir.write_manifest(manifest)
    log.info("run %s in %s on %s (seed %d)", recipe.run.name, run_dir.path, device, recipe.run.seed)
    track = _trackers(recipe, host, world, log)
    track.start(run_dir.path, resolved, {"seed": recipe.run.seed, **session.tags})
    outputs: dict[str, StageOutput] = {}
    try:
        _stages(session, track, manifest, outputs)
    finally:  # an interrupted run still closes its trackers' files
        track.finish({name: out.metrics for name, out in outputs.items()})
    manifest["finished"] = now()
    run_dir.write_manifest(manifest)
    write_report(run_dir.path, recipe, session.stage_times)
    log.info("run finished: %s", run_dir.path)
    return RunResult(run_dir.path, outputs)


def _trackers(recipe: Recipe, host: PluginHost, world: distributed.World, log: logging.Logger) -> Trackers:
    """The recipe's trackers, built once; rank 0 only (other ranks get none)."""
    refs = (recipe.run.trackers or []) if world.is_main else []
    build = builder(host.registry)
    built = [(ref.name, build(ref)) for ref in refs]
    return Trackers(built, log)


def _stages(
    session: Session, track: Trackers, manifest: dict[str, Any], outputs: dict[str, StageOutput]
) -> None:
    """Run (or, on resume, restore) each stage in order, filling ``outputs``."""
    recipe, run_dir, device, progress = session.recipe, session.run_dir, session.device, session.progress
    host, log, resume, world = session.host, session.log, session.resume, session.world
    data = _load_data(recipe, host, run_dir, log, progress, resume is not None, session.force)
    stages = []
    for spec in recipe.stages:
        stage = stage_of(host.registry, spec)
        ctx = stage_context(
            spec, run_dir.stage_dir(spec.name), recipe, host.registry, device,
            data=data, outputs=outputs, log=log, progress=progress if world.is_main else Progress(),
            resume=resume is not None, world=world, track=track,
        )  # fmt: skip
        stages.append((spec, stage, ctx))
    view = RunView(plans([(spec.name, spec.kind, _work(stage, ctx, log)) for spec, stage, ctx in stages]))
    progress.view = view
    side_by_side = recipe.run.jobs > 1 and world.size == 1
    if recipe.run.jobs > 1 and world.size > 1:
        log.warning("run.jobs = %d is ignored under torchrun: stages run one after another", recipe.run.jobs)
    try:
        for i, (spec, stage, ctx) in enumerate(stages):
            if side_by_side and not (resume is not None and run_dir.is_done(spec.name)):
                continue  # left to run_side_by_side, once the finished ones are restored
            _stage(session, track, manifest, outputs, view, i, spec, stage, ctx)
        if side_by_side:
            run_side_by_side(session, track, manifest, outputs, view, stages)
    finally:
        progress.view = None
    session.stage_times[:] = view.table()
    log.info("stage times (this session):\n%s", "\n".join(f"  {line}" for line in session.stage_times))


def _work(stage: Any, ctx: StageContext, log: logging.Logger) -> float | None:
    """A stage's own estimate of its work (None: it makes none, or the estimate failed)."""
    if not isinstance(stage, EstimatesWork):
        return None
    try:
        work = float(stage.work(ctx))
    except Exception as exc:  # an estimate only feeds the time-left display: never fail a run for it
        log.debug("stage %s: no work estimate (%s: %s)", ctx.name, type(exc).__name__, exc)
        return None
    return work if work > 0 and math.isfinite(work) else None


def _stage(
    session: Session,
    track: Trackers,
    manifest: dict[str, Any],
    outputs: dict[str, StageOutput],
    view: RunView,
    i: int,
    spec: StageSpec,
    stage: Any,
    ctx: StageContext,
) -> None:
    """Run (or restore) one stage, recording it in the manifest and the run view."""
    recipe, run_dir, log = session.recipe, session.run_dir, session.log
    seed_everything(stage_seed(recipe.run.seed, spec.name), recipe.run.deterministic)
    if session.resume is not None and run_dir.is_done(spec.name):
        log.info("stage %s: finished earlier, loading its outputs", spec.name)
        run_dir.verify_done(spec.name)
        outputs[spec.name] = stage.restore(ctx)
        view.end(i, restored=True)
        return
    view.begin(i)
    log.info("stage %s (%s) started: %s", spec.name, spec.kind, view.line())
    manifest["finished"] = None  # only now: a resume that fails before this keeps a finished run finished
    manifest["stages"][spec.name] = {"kind": spec.kind, "started": now()}
    run_dir.write_manifest(manifest)
    outputs[spec.name] = stage.run(ctx)
    track.scalars(f"{spec.name}/metrics", 0, numeric_leaves(outputs[spec.name].metrics))
    view.end(i)
    manifest["stages"][spec.name]["finished"] = now()
    manifest["stages"][spec.name]["seconds"] = view.stages[i].seconds
    run_dir.mark_done(spec.name, {"kind": spec.kind})
    run_dir.write_manifest(manifest)
    log.info("stage %s finished", spec.name)


def _load_data(
    recipe: Recipe,
    host: PluginHost,
    run_dir: RunDir,
    log: logging.Logger,
    progress: Progress,
    resume: bool = False,
    force: bool = False,
) -> DataBundle:
    source = builder(host.registry)(recipe.data)
    ctx = DataContext(
        seed=recipe.run.seed,
        cache_dir=cache_dir(),
        report_dir=run_dir.stage_dir("data"),
        log=log.getChild("data"),
        progress=progress,
    )
    bundle: DataBundle = source.load(ctx)
    record_source(ctx.report_dir, source, recipe.data.name)  # how new images are to be read
    for note in check_and_record(ctx.report_dir, bundle, resume, force):
        log.warning("%s", note)
    sizes = ", ".join(f"{name} {len(images)}" for name, images in bundle.splits.items())
    log.info("data %s: classes %s; splits: %s", recipe.data.name, ", ".join(bundle.classes), sizes)
    return bundle
