"""The console report of a benchmark run: rich tables with rates, ratios and fractions of matmul."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def print_report(r: dict[str, Any], console: Console) -> None:
    """Print the search, training, component, early-stop and memory tables of results ``r``."""
    m = r["machine"]
    console.print(
        f"[bold]{m['device']}[/] torch {m['torch']}, {m['threads']} threads; "
        f"fp32 matmul {r['matmul_gflops']:.1f} GFLOP/s"
    )
    t = Table(title="Latent search (image-steps/s)")
    for col in (
        "model",
        "GFLOP/img-step",
        "port style",
        "frozen 1-at-a-time",
        "batched default",
        "batched best",
        "best setting",
        "x port",
        "x frozen-1",
        "GFLOP/s",
        "% matmul",
    ):
        t.add_column(col, justify="right")
    for s in r["search"]:
        t.add_row(
            s["model"],
            f"{s['gflop_per_image_step']:.2f}",
            f"{s['port_style']:.1f}",
            f"{s['frozen_one_at_a_time']:.1f}",
            _f(s["batched_default"]),
            f"{s['batched_best']:.1f}",
            s["batched_best_setting"],
            f"{s['speedup_vs_port']:.1f}x",
            f"{s['speedup_vs_frozen_one']:.1f}x",
            f"{s['gflops_achieved']:.1f}",
            f"{100 * s['fraction_of_matmul']:.0f}%",
        )
    console.print(t)
    for s in r["search"]:
        t = Table(title=f"{s['model']}: batched search by chunk size (image-steps/s; _cl = channels_last)")
        keys = list(s["batched_by_chunk"])
        for k in keys:
            t.add_column(k, justify="right")
        t.add_row(*(f"{s['batched_by_chunk'][k]:.1f}" for k in keys))
        console.print(t)
    t = Table(title="Training step (GanStep: D then G)")
    for col in ("model", "batch", "layout", "images/s", "GFLOP/img", "GFLOP/s", "% matmul"):
        t.add_column(col, justify="right")
    for row in r["train"]:
        t.add_row(
            row["model"],
            str(row["batch"]),
            "NHWC" if row["channels_last"] else "NCHW",
            f"{row['images_per_s']:.1f}",
            f"{row['gflop_per_image']:.2f}",
            f"{row['gflops_achieved']:.1f}",
            f"{100 * row['fraction_of_matmul']:.0f}%",
        )
    console.print(t)
    t = Table(title="IAGAN forward cost by component (batch 64, eval)")
    for col in ("component", "GFLOP/img", "ms/img", "GFLOP/s"):
        t.add_column(col, justify="right")
    for row in r["iagan_components"]:
        t.add_row(
            row["component"],
            f"{row['gflop_per_image']:.3f}",
            f"{row['ms_per_image']:.2f}",
            f"{row['gflops_achieved']:.1f}",
        )
    console.print(t)
    e, mem = r["early_stop"], r["memory"]
    console.print(
        f"Early stop (DCGAN, {e['images']} images, {e['steps']} steps, patience {e['patience']}, "
        f"tol {e['tol']}): {e['image_steps_early']}/{e['image_steps_fixed']} image-steps "
        f"({100 * e['saved_fraction']:.0f}% saved); score mean {e['score_mean_fixed']:.1f} -> "
        f"{e['score_mean_early']:.1f} (relative difference mean {100 * e['score_rel_diff_mean']:.2f}%, "
        f"max {100 * e['score_rel_diff_max']:.2f}%)"
    )
    console.print(
        f"Memory: searching {mem['images']} images: peak RSS {mem['peak_rss_mb']:.0f} MiB "
        f"(before {mem['rss_before_mb']:.0f} MiB; queries+results {mem['queries_and_results_mb']:.0f} MiB); "
        f"under 2 GB: {mem['under_2gb']}"
    )


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
