"""One stage of a run in a process of its own, started by the engine when ``run.jobs`` > 1.

It reads the run folder's stored recipe, loads the data as the run did, restores the finished
stages this one needs (from their files, exactly as a resumed run does) and runs the stage with the
run's seeds and threads, so its results are those of a run that takes the stages one at a time.
Its log lines go to ``run.log``; a failure is reported to the engine as the last line of stderr
(``FAILURE_MARK`` + JSON: the error's type and message). The engine marks the stage done.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import torch

from ganaug.api.context import DataContext
from ganaug.api.interfaces import DataBundle
from ganaug.host.blame import culprit, failure_message, is_builtin
from ganaug.host.loading import BLOCK_ENV, make_plugin_host
from ganaug.host.registry import builder
from ganaug.recipe.load import load_recipe
from ganaug.runner.fingerprint import FILE as FINGERPRINT
from ganaug.runner.fingerprint import differences, fingerprint
from ganaug.runner.logs import LOGGER, file_log
from ganaug.runner.restore import FinishedRun
from ganaug.runner.rundir import RECIPE, RunDir
from ganaug.runner.stage_graph import needs
from ganaug.runtime import errors
from ganaug.runtime.device import resolve_device, seed_everything
from ganaug.runtime.seeds import stage_seed

FAILURE_MARK = "GANAUG-STAGE-FAILURE "


def _data(recipe: Any, host: Any, run_dir: RunDir, log: logging.Logger) -> DataBundle:
    """The run's data as its data source loads it, checked against the run's fingerprint (the
    engine recorded it before starting any stage)."""
    from ganaug.runner.session import cache_dir

    source = builder(host.registry)(recipe.data)
    ctx = DataContext(recipe.run.seed, cache_dir(), run_dir.stage_dir("data"), log.getChild("data"))
    bundle: DataBundle = source.load(ctx)
    stored = json.loads((run_dir.stage_dir("data") / FINGERPRINT).read_text(encoding="utf-8"))
    changes = differences(stored, fingerprint(bundle))
    if changes:
        raise errors.RunDirError("the data changed while the run went on: " + "; ".join(changes))
    return bundle


def run_stage(host: Any, folder: Path, name: str, device: str, resume: bool) -> None:
    """Restore what stage ``name`` of the run in ``folder`` needs, then run it."""
    recipe = load_recipe(folder / RECIPE, registry=host.registry)
    run_dir = RunDir(folder)
    torch.set_num_threads(recipe.run.threads)
    log = logging.getLogger(LOGGER)
    log.setLevel(logging.INFO)
    log.addHandler(file_log(folder))
    seed_everything(recipe.run.seed, recipe.run.deterministic)
    data = _data(recipe, host, run_dir, log)
    torch_device = resolve_device(device)
    wanted = needs([(spec.name, spec.options) for spec in recipe.stages])[name]
    run = FinishedRun(run_dir, recipe, host, torch_device, data=data, log=log)
    for spec in recipe.stages:
        if spec.name == name:
            stage, ctx = run.stage(name), run.context(name, resume=resume)
            seed_everything(stage_seed(recipe.run.seed, name), recipe.run.deterministic)
            stage.run(ctx)
            return
        if spec.name in wanted:
            seed_everything(stage_seed(recipe.run.seed, spec.name), recipe.run.deterministic)
            run.restore(spec.name)


def _failure(exc: BaseException, pm: Any) -> dict[str, str]:
    """What the engine re-raises: a ganaug error as itself, a plugin's crash as a PluginError."""
    if isinstance(exc, errors.GanaugError):
        return {"type": type(exc).__name__, "message": str(exc)}
    found = culprit(exc, pm)
    if found is not None and not is_builtin(found[0]):
        return {"type": "PluginError", "message": failure_message(exc, *found, BLOCK_ENV)}
    return {"type": "bug", "message": f"{type(exc).__name__}: {exc}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ganaug.runner.stage_worker", description=__doc__.splitlines()[0]
    )
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("stage")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    # SIGINT is how the engine asks this stage to stop at a checkpoint; a run started in the
    # background of a script inherits it ignored, which would leave that request unheard
    signal.signal(signal.SIGINT, signal.default_int_handler)
    host = make_plugin_host()
    try:
        run_stage(host, args.run_dir, args.stage, args.device, args.resume)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        logging.getLogger(LOGGER).exception("stage %s failed in its own process", args.stage)
        sys.stderr.write("\n" + FAILURE_MARK + json.dumps(_failure(exc, host.pm)) + "\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
