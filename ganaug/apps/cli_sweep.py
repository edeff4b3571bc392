"""``ganaug sweep`` and ``ganaug aggregate``: runs over seeds and settings, and their statistics."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from ganaug.apps.cli_model import DEVICE
from ganaug.runtime.console import stderr_console


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` or ``"0-4"`` (inclusive) or a mix: ``"0-2,7"``."""
    seeds: list[int] = []
    try:
        for part in (p.strip() for p in text.split(",") if p.strip()):
            low, sep, high = part.partition("-")
            first, last = (int(low), int(high)) if sep and low else (int(part), int(part))
            if first < 0 or last >= 2**63:
                raise click.BadParameter(f"seeds are 0 to 2^63-1, got {part!r}")
            if last - first + 1 + len(seeds) > MAX_SEEDS:
                raise click.BadParameter(f"at most {MAX_SEEDS} seeds in one sweep, got {text!r}")
            seeds += list(range(first, last + 1))
    except ValueError:
        raise click.BadParameter(f"expected seeds like 0,1,2 or 0-4, got {text!r}") from None
    return seeds


#: the seeds one sweep may have (each is a run folder)
MAX_SEEDS = 10_000


def _aggregate_summary(folder: Path, result: dict, console: Console) -> None:
    for entry in result.get("left_out", []):
        where = f"{entry['setting']} seed {entry['seed']}" + (f" {entry['stage']}" if entry["stage"] else "")
        console.print(f"[yellow]left out:[/] {where}: {entry['why']}", highlight=False)
    for stage, block in result["evaluate"].items():
        for setting, models in block["auc"].items():
            for model, s in models.items():
                mean = f"{s['mean']:.3f}" if s["n"] else "–"
                spread = f" ± {s['std']:.3f}" if s["n"] > 1 else ""
                console.print(f"  {stage} {setting} {model}: AUC {mean}{spread} over {s['n']} seed(s)")
    console.print(f"aggregate: {folder / 'aggregate.md'}")


@click.command()
@click.argument("recipe", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--seeds", default="0", show_default=True, help="Seeds: 0,1,2 or 0-4.")
@click.option("--grid", multiple=True, metavar="KEY=V1,V2", help="A recipe value to vary (repeatable).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a recipe value.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="The sweep folder.")
@click.option("--baseline", "baselines", multiple=True, help="Model(s) the others are compared with.")
@click.option("--device", type=DEVICE, help="Override run.device (auto, cpu, cuda, cuda:N).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or log lines on the console.")
@click.option("--launcher", type=click.Choice(["local", "slurm"]), default="local", show_default=True)
@click.option(
    "--jobs", default=1, show_default=True, type=click.IntRange(min=1),
    help="Local runs at once, each in its own process with its share of the CPU threads.",
)  # fmt: skip
@click.option("--slurm-partition", help="Slurm partition of each job.")
@click.option(
    "--slurm-time", default=240, show_default=True, type=click.IntRange(min=1), help="Minutes a job."
)
@click.option("--slurm-gpus", default=0, show_default=True, type=click.IntRange(min=0), help="GPUs per node.")
@click.option("--slurm-cpus", default=4, show_default=True, type=click.IntRange(min=1), help="CPUs per task.")
@click.option("--slurm-nodes", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--slurm-tasks-per-node", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--slurm-mem-gb", type=click.IntRange(min=1), help="Memory per node.")
@click.option("--slurm-cluster", hidden=True, help="submitit cluster: 'local' runs jobs as local processes.")
def sweep(
    recipe: Path,
    seeds: str,
    grid: tuple[str, ...],
    overrides: tuple[str, ...],
    out: Path | None,
    baselines: tuple[str, ...],
    device: str | None,
    quiet: bool,
    launcher: str,
    jobs: int,
    slurm_partition: str | None,
    slurm_time: int,
    slurm_gpus: int,
    slurm_cpus: int,
    slurm_nodes: int,
    slurm_tasks_per_node: int,
    slurm_mem_gb: int | None,
    slurm_cluster: str | None,
) -> None:
    """Run RECIPE for every seed and grid setting, then aggregate (re-running only what is missing)."""
    from ganaug.apps.aggregate import aggregate
    from ganaug.apps.cli_guard import guarded
    from ganaug.apps.sweep import local_launcher, plan_sweep, run_sweep
    from ganaug.host.loading import make_plugin_host
    from ganaug.runtime.console import console_session

    @guarded
    def body() -> None:
        console = stderr_console()
        host = make_plugin_host()
        plan = plan_sweep(
            recipe, parse_seeds(seeds), grid=grid, overrides=overrides, out=out, registry=host.registry
        )
        settings = len({r.setting for r in plan.runs})
        console.print(f"sweep: {settings} setting(s) x {len(plan.seeds)} seed(s) in {plan.out}")
        notify = lambda text: console.print(text, markup=False)  # noqa: E731
        if launcher == "slurm":
            from ganaug.apps.slurm import SlurmOptions, slurm_launcher

            options = SlurmOptions(
                slurm_partition, slurm_time, slurm_gpus, slurm_cpus, slurm_nodes, slurm_tasks_per_node,
                slurm_mem_gb, slurm_cluster,
            )  # fmt: skip
            outcome = run_sweep(plan, slurm_launcher(plan.out / "slurm-logs", options, device), notify)
        elif jobs > 1:
            from ganaug.apps.sweep import parallel_launcher

            outcome = run_sweep(plan, parallel_launcher(jobs, device), notify)
        else:
            with console_session(stderr_console(quiet), quiet) as progress:
                launch = local_launcher(device=device, progress=progress, host=host)
                outcome = run_sweep(plan, launch, notify)
        result = aggregate(plan.out, baselines=baselines)
        _aggregate_summary(plan.out, result, console)
        if outcome.failed:
            console.print(f"[bold red]{len(outcome.failed)} run(s) failed:[/]")
            for setting, seed in outcome.failed:
                console.print(f"  {setting} seed {seed}: {outcome.status[(setting, seed)]}", markup=False)
            raise SystemExit(1)
        click.echo(str(plan.out))

    body()


@click.command("aggregate")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--baseline", "baselines", multiple=True, help="Model(s) the others are compared with.")
@click.option("--method", default="anogan", show_default=True, help="The score method to compare.")
@click.option(
    "--resamples",
    default=2000,
    show_default=True,
    type=click.IntRange(min=0),
    help="Paired bootstrap resamples.",
)
def aggregate_command(folder: Path, baselines: tuple[str, ...], method: str, resamples: int) -> None:
    """Rebuild the aggregate tables and figures of the sweep in FOLDER."""
    from ganaug.apps.aggregate import aggregate
    from ganaug.apps.cli_guard import guarded

    @guarded
    def body() -> None:
        result = aggregate(folder, method=method, baselines=baselines, resamples=resamples)
        _aggregate_summary(folder, result, stderr_console())

    body()
