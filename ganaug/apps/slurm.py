"""Slurm launcher for sweeps, through submitit (optional extra ``pip install 'ganaug[slurm]'``).

Each run of a sweep is one job. The job reloads its recipe from the file and overrides, so what
runs on the cluster is exactly what the sweep planned. A job that is preempted or reaches its time
limit is requeued by submitit (``checkpoint``) and continues with ganaug's own ``--resume`` logic:
finished stages are kept, training goes on from its last checkpoint. A job with several tasks
(``tasks_per_node`` x ``nodes``) gets torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from ganaug.apps.sweep import Launch, PlannedRun
from ganaug.runtime.errors import GanaugError, PluginError

EXTRA = "pip install 'ganaug[slurm]'"


def _submitit() -> Any:
    try:
        import submitit
    except ImportError as error:
        raise PluginError(f"--launcher slurm needs submitit: {EXTRA} ({error})") from None
    return submitit


@attrs.frozen
class SlurmOptions:
    """Per-job resources; ``cluster = "local"`` runs the jobs as local processes (for tests)."""

    partition: str | None = None
    time_min: int = 240
    gpus_per_node: int = 0
    cpus_per_task: int = 4
    nodes: int = 1
    tasks_per_node: int = 1
    mem_gb: int | None = None
    cluster: str | None = None  # None: Slurm (submitit's auto-detection); "local": local processes


def _tasks(submitit: Any) -> int:
    """Tasks of the job this process belongs to (1 outside a submitit job)."""
    try:
        return int(submitit.JobEnvironment().num_tasks)
    except RuntimeError:
        return 1


@attrs.frozen
class SweepJob:
    """The picklable job: reload the recipe, run or resume into the run folder."""

    source: str
    overrides: tuple[str, ...]
    dir: str
    tags: dict[str, Any]
    device: str | None = None

    def __call__(self) -> str:
        from ganaug.recipe.load import load_recipe
        from ganaug.runner.engine import run_recipe
        from ganaug.runner.rundir import RunDir

        submitit = _submitit()
        if _tasks(submitit) > 1:
            submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
        recipe = load_recipe(self.source, overrides=self.overrides)
        folder = Path(self.dir)
        started = RunDir(folder).read_manifest() is not None
        where = {"resume": folder} if started else {"out": folder}
        return str(run_recipe(recipe, device=self.device, tags=self.tags, **where).run_dir)

    def checkpoint(self) -> Any:
        """Called by submitit on preemption or timeout: requeue the same job (it resumes)."""
        return _submitit().helpers.DelayedSubmission(self)


def slurm_launcher(folder: Path, options: SlurmOptions, device: str | None = None) -> Launch:
    """Submit each run as a job; the returned waiter blocks until the job ends."""
    submitit = _submitit()
    executor = submitit.AutoExecutor(folder=str(folder), cluster=options.cluster)
    params: dict[str, Any] = {
        "timeout_min": options.time_min,
        "nodes": options.nodes,
        "tasks_per_node": options.tasks_per_node,
        "cpus_per_task": options.cpus_per_task,
    }
    if options.cluster != "local":
        params.update(slurm_partition=options.partition, gpus_per_node=options.gpus_per_node)
        if options.mem_gb is not None:
            params["mem_gb"] = options.mem_gb
    executor.update_parameters(**{k: v for k, v in params.items() if v is not None})

    def launch(run: PlannedRun, resume: bool) -> Callable[[], None]:
        executor.update_parameters(name=f"ganaug-{run.setting.name}-seed{run.seed}")
        job = executor.submit(SweepJob(str(run.source), run.overrides, str(run.dir), run.tags, device))

        def wait() -> None:
            try:
                job.result()
            except Exception as error:  # submitit re-raises the job's failure with its traceback
                raise GanaugError(f"job {job.job_id} failed (log: {folder}): {error}") from None

        return wait

    return launch
