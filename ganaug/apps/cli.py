"""The ``ganaug`` command line: run, validate, plugins, options, sweep, aggregate, generate, score,
export, --version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ganaug import __version__
from ganaug.apps.cli_guard import guarded
from ganaug.apps.cli_model import DEVICE, export_command, generate, score
from ganaug.apps.cli_sweep import aggregate_command, sweep
from ganaug.apps.scaffold import new_plugin
from ganaug.host.registry import closest, singular
from ganaug.runtime.console import stderr_console
from ganaug.runtime.errors import GanaugError, PluginError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ganaug")
@click.option("--debug", is_flag=True, help="Show full tracebacks for errors.")
def cli(debug: bool) -> None:
    """ganaug: GAN data augmentation and GAN anomaly detection, run from recipe files."""


@cli.command()
@click.argument("recipe", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Exact run directory.")
@click.option("--device", type=DEVICE, help="Override run.device (auto, cpu, cuda, cuda:N).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a recipe value.")
@click.option("--resume", type=click.Path(file_okay=False, path_type=Path), help="Continue this run dir.")
@click.option("--force", is_flag=True, help="Resume even though the recipe changed.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or log lines on the console.")
@guarded
def run(
    recipe: Path,
    out: Path | None,
    device: str | None,
    overrides: tuple[str, ...],
    resume: Path | None,
    force: bool,
    quiet: bool,
) -> None:
    """Run every stage of RECIPE and write a run directory."""
    if out is not None and resume is not None and out.resolve() != resume.resolve():
        raise click.UsageError(f"--out {out} and --resume {resume}: a resumed run stays in its own folder")
    from ganaug.host.loading import make_plugin_host
    from ganaug.recipe.load import load_recipe
    from ganaug.runner.engine import run_recipe
    from ganaug.runtime import distributed
    from ganaug.runtime.console import console_session

    main_rank = distributed.world_from_env().is_main
    console = stderr_console(quiet or not main_rank)
    host = make_plugin_host()
    try:
        loaded = load_recipe(recipe, overrides=overrides, registry=host.registry)
    except GanaugError:
        _warn_failures(host, stderr_console())  # a missing plugin may be why; a run logs them itself
        raise
    try:
        with console_session(console, quiet or not main_rank) as progress:
            result = run_recipe(
                loaded, out=out, device=device, progress=progress, host=host, resume=resume, force=force
            )
    finally:
        distributed.shutdown()
    if not main_rank:
        return  # one answer per job: rank 0's
    console.print(f"[bold green]done:[/] {result.run_dir}")
    report = result.run_dir / "report.md"
    if report.exists() and not quiet:
        console.print(report.read_text(encoding="utf-8"), markup=False)
    click.echo(str(result.run_dir))


@cli.command()
@click.argument("recipe", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a recipe value.")
@guarded
def validate(recipe: Path, overrides: tuple[str, ...]) -> None:
    """Check RECIPE without loading data or training: names, options, stage references, and each
    generator and discriminator built for the data's image and run on one batch."""
    from ganaug.host.loading import make_plugin_host
    from ganaug.recipe.load import load_recipe
    from ganaug.recipe.networks_check import check_networks

    console = stderr_console()
    host = make_plugin_host()
    _warn_failures(host, console)
    loaded = load_recipe(recipe, overrides=overrides, registry=host.registry)
    check_networks(loaded, host.registry)
    stages = ", ".join(f"{s.name} ({s.kind})" for s in loaded.stages)
    click.echo(f"{recipe}: ok — data {loaded.data.name}; stages: {stages}")


@cli.command()
@guarded
def plugins() -> None:
    """List loaded plugins, their components by kind, and plugins left out (failed or blocked)."""
    from ganaug.host.loading import BLOCK_ENV, make_plugin_host

    host = make_plugin_host()
    registry = host.registry  # never raises: a plugin failing in a hook is left out and listed
    table = Table(title="ganaug plugins")
    for column in ("plugin", "version", "components", "source"):
        table.add_column(column)
    for info in host.loaded:
        owned: dict[str, list[str]] = {}
        for comp in registry:
            if comp.plugin == info.name:
                owned.setdefault(comp.kind, []).append(comp.name)
        text = "\n".join(f"{kind}: {', '.join(sorted(names))}" for kind, names in owned.items())
        table.add_row(info.name, info.version, text or "-", info.source)
    for failure in host.failures:
        table.add_row(Text(failure.name), "", Text(f"not loaded: {failure.reason}"), "failed")
    for name in host.blocked:
        table.add_row(Text(name), "", "not loaded", f"blocked ({BLOCK_ENV})")
    Console(width=max(120, Console().width)).print(table)
    _warn_failures(host, stderr_console())


@cli.command()
@click.argument("name", required=False)
@click.option("--markdown", is_flag=True, help="The whole reference as Markdown (docs/components.md).")
@guarded
def options(name: str | None, markdown: bool) -> None:
    """Show the options (type, default, description) of every component, or of the component NAME."""
    from ganaug.apps.describe import markdown as reference
    from ganaug.apps.describe import option_rows
    from ganaug.host.loading import make_plugin_host

    registry = make_plugin_host().registry
    if markdown:
        click.echo(reference(registry), nl=False)
        return
    shown = [c for c in registry if name is None or c.name == name]
    if not shown:
        raise PluginError(
            f"no component named {name!r}{closest(name or '', sorted({c.name for c in registry}))}"
        )
    console = Console(width=max(120, Console().width))
    for comp in shown:
        table = Table(title=f"{singular(comp.kind)} {comp.name!r} ({comp.plugin})", title_justify="left")
        for column in ("option", "type", "default", "description"):
            table.add_column(column)
        for row in option_rows(comp):
            table.add_row(*(Text(cell) for cell in row))  # plain text: "list[str]" is not markup
        console.print(table if table.row_count else f"{singular(comp.kind)} {comp.name!r}: no options")


def _warn_failures(host: Any, console: Console) -> None:
    for failure in host.failures:
        text = f"plugin {failure.name!r} not loaded: {failure.reason}"
        console.print(f"[yellow]warning:[/] {escape(text)}", markup=True)  # a reason may hold brackets


cli.add_command(new_plugin)
cli.add_command(sweep)
cli.add_command(aggregate_command)
cli.add_command(generate)
cli.add_command(score)
cli.add_command(export_command)


def main() -> None:
    cli(prog_name="ganaug")
