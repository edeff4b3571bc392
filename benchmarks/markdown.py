"""Markdown tables of a benchmark run (``python -m benchmarks.markdown results.json``), for the docs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def to_markdown(r: dict[str, Any]) -> str:
    """The search, training, component, early-stop and memory figures of results ``r`` as markdown."""
    m = r["machine"]
    out = [
        f"{m['device']}, torch {m['torch']}, {m['threads']} threads; fp32 matmul "
        f"{r['matmul_gflops']:.1f} GFLOP/s; whole run {r['seconds_total']:.0f} s.",
        "",
    ]
    out.append(
        _table(
            [
                "model",
                "GFLOP/img-step",
                "port style",
                "frozen 1-at-a-time",
                "batched best (setting)",
                "x port",
                "x frozen-1",
                "GFLOP/s",
                "% matmul",
            ],
            [
                [
                    s["model"],
                    f"{s['gflop_per_image_step']:.2f}",
                    f"{s['port_style']:.1f}",
                    f"{s['frozen_one_at_a_time']:.1f}",
                    f"{s['batched_best']:.1f} ({s['batched_best_setting']})",
                    f"{s['speedup_vs_port']:.1f}x",
                    f"{s['speedup_vs_frozen_one']:.1f}x",
                    f"{s['gflops_achieved']:.1f}",
                    f"{100 * s['fraction_of_matmul']:.0f}%",
                ]
                for s in r["search"]
            ],
        )
    )
    out.append("")
    out.append("Batched search by chunk size, image-steps/s (`_cl`: channels_last):")
    out.append("")
    for s in r["search"]:
        keys = list(s["batched_by_chunk"])
        out.append(
            _table(["model", *keys], [[s["model"], *(f"{s['batched_by_chunk'][k]:.1f}" for k in keys)]])
        )
        out.append("")
    out.append(
        _table(
            ["model", "batch", "layout", "images/s", "GFLOP/img", "GFLOP/s", "% matmul"],
            [
                [
                    t["model"],
                    str(t["batch"]),
                    "NHWC" if t["channels_last"] else "NCHW",
                    f"{t['images_per_s']:.1f}",
                    f"{t['gflop_per_image']:.2f}",
                    f"{t['gflops_achieved']:.1f}",
                    f"{100 * t['fraction_of_matmul']:.0f}%",
                ]
                for t in r["train"]
            ],
        )
    )
    out.append("")
    out.append(
        _table(
            ["IAGAN component (forward, batch 64)", "GFLOP/img", "ms/img", "GFLOP/s"],
            [
                [
                    c["component"],
                    f"{c['gflop_per_image']:.3f}",
                    f"{c['ms_per_image']:.2f}",
                    f"{c['gflops_achieved']:.1f}",
                ]
                for c in r["iagan_components"]
            ],
        )
    )
    e, mem = r["early_stop"], r["memory"]
    out += [
        "",
        f"Early stop (DCGAN, {e['images']} images, {e['steps']} steps, patience {e['patience']}, "
        f"tol {e['tol']}): {e['image_steps_early']} of {e['image_steps_fixed']} image-steps run "
        f"({100 * e['saved_fraction']:.0f}% saved); mean score {e['score_mean_fixed']:.1f} -> "
        f"{e['score_mean_early']:.1f} (relative difference mean {100 * e['score_rel_diff_mean']:.2f}%, "
        f"max {100 * e['score_rel_diff_max']:.2f}%).",
        "",
        f"Memory: searching {mem['images']} images, peak RSS {mem['peak_rss_mb']:.0f} MiB "
        f"(before the search {mem['rss_before_mb']:.0f} MiB; queries and results "
        f"{mem['queries_and_results_mb']:.0f} MiB).",
    ]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(to_markdown(json.loads(Path(sys.argv[1]).read_text())))
