"""``ganaug generate``, ``ganaug score`` and ``ganaug export``: using a trained model of a run."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any

import click

from ganaug.apps.cli_guard import guarded
from ganaug.runtime.console import stderr_console

_RUN_DIR = click.Path(path_type=Path)


class DeviceType(click.ParamType):
    """A device name as a recipe's ``run.device`` takes it (auto, cpu, cuda, cuda:N, mps)."""

    name = "device"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from ganaug.recipe.schema import DEVICE_PATTERN

        if isinstance(value, str) and DEVICE_PATTERN.match(value):
            return value
        self.fail(f"expected auto, cpu, cuda, cuda:N or mps, got {value!r}", param, ctx)


DEVICE = DeviceType()
#: seeds as a recipe's run.seed takes them (torch generators take 64-bit seeds)
SEED = click.IntRange(min=0, max=2**63 - 1)
_DEVICE = click.option(
    "--device", default="auto", show_default=True, type=DEVICE, help="auto, cpu, cuda, cuda:N."
)
_ON_ERROR = click.option(
    "--on-error",
    type=click.Choice(["error", "skip"]),
    default="error",
    show_default=True,
    help="An unreadable image: error stops, skip leaves it out and lists it.",
)


def _csv_text(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """The CSV ``ganaug.kit.tables.write_rows_csv`` writes, as text (for stdout)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in columns})
    return buffer.getvalue()


def _skipped(skipped: tuple[tuple[str, str], ...]) -> None:
    if skipped:
        console = stderr_console()
        console.print(f"[yellow]skipped {len(skipped)} unreadable file(s):[/]")
        for name, reason in skipped:
            console.print(f"  {name}: {reason}", markup=False)


@click.command()
@click.argument("run_dir", type=_RUN_DIR)
@click.option("--stage", "stage", required=True, help="The train stage whose generator to use.")
@click.option("-n", "count", required=True, type=click.IntRange(min=1), help="Images to generate.")
@click.option(
    "--condition",
    "conditions",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Conditioning image file or folder (repeatable; conditional generators), used in turn.",
)
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of z.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--replace", is_flag=True, help="Remove an earlier generate's images and table in --out first.")
@_ON_ERROR
@_DEVICE
def generate(
    run_dir: Path,
    stage: str,
    count: int,
    conditions: tuple[Path, ...],
    seed: int,
    out: Path,
    replace: bool,
    on_error: str,
    device: str,
) -> None:
    """Generate images with the trained generator of stage STAGE of RUN_DIR.

    Writes generated-NNNNN.png and generated.csv (file, seed, conditioning image, z) to --out,
    a chunk of images at a time (any count fits in memory).
    """

    @guarded
    def body() -> None:
        from ganaug.apps.model import load_model
        from ganaug.kit.imaging import save_png
        from ganaug.kit.tables import streamed_rows_csv

        model = load_model(run_dir, stage, device=device)
        _clear_earlier(out, replace)
        _check_room(out, count, model.image.channels * model.image.size**2)
        columns = ["file", "seed", "condition", *(f"z_{j}" for j in range(model.latent_dim))]
        chunks = model.generate_chunks(
            count, condition=list(conditions) or None, seed=seed, on_error=on_error
        )  # type: ignore[arg-type]
        i = 0
        with streamed_rows_csv(columns, out / "generated.csv") as write_row:
            for made in chunks:
                if i == 0:
                    _skipped(made.skipped)
                for k, image in enumerate(made.images):
                    name = f"generated-{i:05d}.png"
                    save_png(image, out / name)
                    row = {
                        "file": name,
                        "seed": seed,
                        "condition": made.condition[k] if made.condition else None,
                    }
                    row.update({f"z_{j}": float(v) for j, v in enumerate(made.z[k].tolist())})
                    write_row(row)
                    i += 1
        stderr_console().print(
            f"[bold green]generated:[/] {count} image(s) in {out}; z per image in generated.csv"
        )

    body()


#: a lower bound on one generated PNG's size beyond its pixels' (header, table row)
PNG_OVERHEAD = 200


def _check_room(out: Path, count: int, pixels: int) -> None:
    """Refuse a count whose images cannot fit the free space of ``out``'s disk (before writing any)."""
    import shutil

    from ganaug.runtime.errors import RunDirError

    folder = out
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free = shutil.disk_usage(folder).free
    # PNG compresses: count at least a tenth of the raw pixels per image, and its fixed overhead
    need = count * (pixels // 10 + PNG_OVERHEAD)
    if need > free:
        raise RunDirError(
            f"{count} images need at least {need / 1e9:.3g} GB and {folder} has {free / 1e9:.3g} GB free; "
            "ask for fewer (-n) or another --out"
        )


def _clear_earlier(out: Path, replace: bool) -> None:
    """An earlier generate's images in ``out`` would stand beside the new ones without a row in
    generated.csv: refuse them, or remove them with ``--replace``."""
    from ganaug.runtime.errors import DataError

    earlier = sorted(out.glob("generated-*.png")) if out.is_dir() else []
    if not earlier:
        return
    if not replace:
        raise DataError(
            f"{out} already holds {len(earlier)} generated image(s) of an earlier generate; "
            "give another --out, or --replace to remove them first"
        )
    for path in [*earlier, out / "generated.csv"]:
        path.unlink(missing_ok=True)


@click.command()
@click.argument("run_dir", type=_RUN_DIR)
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--model", "model_name", required=True, help="The train stage whose model scores.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="CSV file (default: stdout).")
@click.option(
    "--heatmaps", type=click.Path(file_okay=False, path_type=Path), help="Folder for residual heatmaps."
)
@click.option(
    "--heatmap-scale", default=1.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
    help="|x - G(z*)| shown at full colour (the value range is 2 wide).",
)  # fmt: skip
@click.option("--seed", type=SEED, help="Seed of the search (default: the run's).")
@click.option("--scorer", help="The stage whose scoring settings and thresholds to use (default: the first).")
@click.option("--method", "methods", multiple=True, help="Only these scoring methods (repeatable).")
@_ON_ERROR
@_DEVICE
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or log lines on the console.")
def score(
    run_dir: Path,
    images: tuple[Path, ...],
    model_name: str,
    out: Path | None,
    heatmaps: Path | None,
    heatmap_scale: float,
    seed: int | None,
    scorer: str | None,
    methods: tuple[str, ...],
    on_error: str,
    device: str,
    quiet: bool,
) -> None:
    """Score IMAGES (files or folders) with the model of stage --model of RUN_DIR.

    Images are read as the run's data source read its own, and scored as the stage that evaluated
    the model scored its test images; with a fitted threshold each row gets a decision.
    """

    @guarded
    def body() -> None:
        from ganaug.apps.model import load_model
        from ganaug.kit.heatmaps import write_heatmaps
        from ganaug.kit.tables import write_rows_csv
        from ganaug.runtime.console import console_session

        model = load_model(run_dir, model_name, device=device, scorer=scorer)
        inputs = model.read_images(images, on_error)  # type: ignore[arg-type]
        _skipped(inputs.skipped)
        with console_session(stderr_console(quiet), quiet) as progress:
            result = model.score(inputs, seed=seed, methods=list(methods) or None, progress=progress)
        columns = list(result.columns)
        if heatmaps is not None:
            columns.append("heatmap")
            drawn = {}
            for method, scores in result.methods.items():
                if scores.reconstruction is None:
                    stderr_console().print(f"method {method} has no reconstruction: no heatmaps for it")
                    continue
                paths = write_heatmaps(
                    inputs.tensor, scores.reconstruction, inputs.ids, heatmaps, method, heatmap_scale
                )
                drawn.update({(name, method): p for name, p in zip(inputs.ids, paths, strict=True)})
            for row in result.rows:
                row["heatmap"] = drawn.get((row["image"], row["method"]))
        if out is None:
            sys.stdout.write(_csv_text(result.rows, columns))
        else:
            write_rows_csv(result.rows, columns, out)
            stderr_console().print(f"[bold green]scored:[/] {len(inputs.ids)} image(s); {out}")

    body()


@click.command("export")
@click.argument("run_dir", type=_RUN_DIR)
@click.option("--model", "model_name", required=True, help="The train stage whose model to export.")
@click.option("--format", "fmt", required=True, type=click.Choice(["onnx", "torchscript"]), help="Format.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder (default: RUN_DIR/exports/MODEL-FORMAT).",
)
@click.option("--scorer", help="The stage whose thresholds go into model.json (default: the first).")
def export_command(run_dir: Path, model_name: str, fmt: str, out: Path | None, scorer: str | None) -> None:
    """Export the generator and discriminator of stage --model of RUN_DIR, with model.json beside.

    ONNX needs the optional extra: pip install 'ganaug[onnx]'. Exported outputs are checked
    against PyTorch's on random inputs; a mismatch fails the export.
    """

    @guarded
    def body() -> None:
        from ganaug.apps.export import ATOL, RTOL, check_format, export_model
        from ganaug.apps.model import load_model

        check_format(fmt)  # before loading anything: a missing extra is said at once
        model = load_model(run_dir, model_name, device="cpu", scorer=scorer)
        folder = out or Path(run_dir) / "exports" / f"{model_name}-{fmt}"
        done = export_model(model, folder, fmt)
        worst = max(done.parity.values())
        stderr_console().print(
            f"[bold green]exported:[/] {done.generator.file.name}, {done.discriminator.file.name} and "
            f"{done.sidecar.name} to {folder}; largest |exported - PyTorch| on random inputs "
            f"{worst:.2g} (allowed {ATOL:g} + {RTOL:g} x the largest output)"
        )
        click.echo(str(folder))

    body()
