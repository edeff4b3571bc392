"""The sweep aggregate as Markdown tables and one figure per evaluate stage."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ganaug.runtime.io import save_figure


def _num(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}"


def summary_text(s: dict[str, Any], digits: int = 3, percent: bool = False) -> str:
    """``mean ± sd [t-interval low, high]`` (``mean (1 seed)`` for a single value)."""
    scale = 100 if percent else 1
    unit = "%" if percent else ""
    d = 1 if percent else digits

    def f(key: str) -> str:
        value = s.get(key)
        return _num(None if value is None else value * scale, d) + unit

    if s.get("n", 0) == 0:
        return "–"
    if s["n"] == 1:
        return f"{f('mean')} (1 seed)"
    return f"{f('mean')} ± {f('std')} [{f('low')}, {f('high')}]"


def _per_seed(values: list[float], seeds: list[int] | None = None) -> str:
    if seeds is None:
        return ", ".join(_num(v) for v in values)
    return ", ".join(f"{s}: {_num(v)}" for s, v in zip(seeds, values, strict=False))


def _auc_rows(table: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "| setting | model | AUC mean ± SD [95% t-interval] | seeds | per seed |",
        "|---|---|---|---|---|",
    ]
    for setting, models in table.items():
        for model, s in models.items():
            per_seed = _per_seed(s["values"], s.get("seeds"))
            lines.append(f"| {setting} | {model} | {summary_text(s)} | {s['n']} | {per_seed} |")
    return lines


def _paired_rows(paired: dict[str, list[dict[str, Any]]]) -> list[str]:
    lines = [
        "| setting | model − baseline | ΔAUC mean ± SD [95% t-interval] | seeds won "
        "| per seed: ΔAUC (DeLong p) |",
        "|---|---|---|---|---|",
    ]
    for setting, rows in paired.items():
        for row in rows:
            per_seed = ", ".join(
                f"{p['seed']}: {p['delong']['difference']:+.3f} (p {_num(p['delong']['p_value'], 3)})"
                for p in row["per_seed"]
            )
            won = f"{row['wins']}/{row['seeds']}"
            comparison = f"{row['model']} − {row['baseline']}"
            lines.append(
                f"| {setting} | {comparison} | {summary_text(row['difference'])} | {won} | {per_seed} |"
            )
    return lines


def _race_rows(race: dict[str, Any]) -> list[str]:
    lines = [
        "| setting | detector | AUC over seeds | best baseline | its AUC | ΔAUC mean ± SD [95% t-interval] "
        "| seeds won | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for setting, block in race.items():
        entries, baseline = block["entries"], block["best_baseline"]
        for row in block["comparisons"]:
            mark = " (best)" if row["detector"] == block["best_detector"] else ""
            lines.append(
                f"| {setting} | {row['detector']}{mark} | {summary_text(entries[row['detector']]['auc'])} "
                f"| {baseline} | {summary_text(entries[baseline]['auc'])} "
                f"| {summary_text(row['difference'])} | {row['wins']}/{row['seeds']} | {row['verdict']} |"
            )
    return lines


def _conversion_rows(conversion: dict[str, Any]) -> list[str]:
    lines = [
        "| setting | augment stage | query class | copy SSIM | z-diversity SSIM | conversion rate "
        "| probe accuracy |",
        "|---|---|---|---|---|---|---|",
    ]
    empty = {"n": 0}
    for setting, stages in conversion.items():
        for stage, classes in stages.items():
            for cls, f in classes.items():
                cells = [
                    summary_text(f.get("copy_ssim", empty)),
                    summary_text(f.get("z_diversity_ssim", empty)),
                    summary_text(f.get("conversion_rate", empty), percent=True),
                    summary_text(f.get("probe_accuracy", empty)),
                ]
                lines.append(f"| {setting} | {stage} | {cls} | {' | '.join(cells)} |")
    return lines


def markdown(result: dict[str, Any]) -> str:
    """The whole aggregate as a Markdown page."""
    out = [
        f"# Sweep aggregate: {result.get('recipe')}",
        "",
        f"Method: `{result['method']}`. Over seeds: mean ± sample SD [95% Student-t interval of the mean].",
        "Paired: the difference of AUC on the same test images, per seed by DeLong's test (p) and pooled",
        "over seeds; 'seeds won' counts seeds where the model's AUC is above the baseline's.",
        "",
    ]
    settings = result.get("settings") or {}
    if any(settings.values()):
        out += ["## Settings", "", "| setting | overrides |", "|---|---|"]
        out += [
            f"| {name} | {', '.join(f'`{o}`' for o in overrides) or '–'} |"
            for name, overrides in settings.items()
        ]
        out.append("")
    for stage, block in result["evaluate"].items():
        out += [f"## {stage}: AUC over seeds", "", *_auc_rows(block["auc"]), ""]
        out += [f"![{stage}](aggregate-{stage}.png)", ""]
        if any(block["paired"].values()):
            out += [f"### {stage}: paired comparisons", "", *_paired_rows(block["paired"]), ""]
        if block.get("race"):
            out += [
                f"### {stage}: every detector against the best baseline",
                "",
                "The best baseline is the classical baseline (role `baseline`) with the highest mean AUC",
                "over seeds; each detector is paired with it on the same test images (DeLong per seed,",
                "t-interval over seeds). Choosing the best of several by their test AUC flatters the chosen",
                "one, on both sides alike.",
                "",
                *_race_rows(block["race"]),
                "",
            ]
    if result.get("left_out"):
        out += [
            "## Left out",
            "",
            "Runs and evaluate stages the tables above do not use, and why:",
            "",
            "| setting | seed | stage | why |",
            "|---|---|---|---|",
            *(
                f"| {e['setting']} | {e['seed']} | {e['stage'] or '(whole run)'} | {e['why']} |"
                for e in result["left_out"]
            ),
            "",
        ]
    if result.get("conversion"):
        out += [
            "## Conversion diagnostics of the augment stages",
            "",
            *_conversion_rows(result["conversion"]),
            "",
        ]
    return "\n".join(out)


def figure(stage: str, table: dict[str, dict[str, Any]], path: Path) -> Path:
    """AUC per (setting, model): seeds as dots, the mean with its t-interval as an error bar."""
    from matplotlib.figure import Figure

    labels, entries = [], []
    multi = len(table) > 1
    for setting, models in table.items():
        for model, s in models.items():
            labels.append(f"{setting}\n{model}" if multi else model)
            entries.append(s)
    fig = Figure(figsize=(max(5.0, 0.9 * len(labels) + 1.5), 4.5), layout="constrained")
    ax = fig.add_subplot()
    for x, s in enumerate(entries):
        values = s["values"]
        jitter = [x + 0.08 * (i - (len(values) - 1) / 2) for i in range(len(values))]
        ax.scatter(jitter, values, s=16, color="0.45", zorder=3)
        if s["n"] >= 2:
            low, high = s["mean"] - s["low"], s["high"] - s["mean"]
            ax.errorbar([x], [s["mean"]], yerr=[[low], [high]], fmt="o", color="tab:red", capsize=4, zorder=4)
        elif s["n"] == 1:
            ax.plot([x], [s["mean"]], "o", color="tab:red", zorder=4)
    ax.axhline(0.5, color="0.7", linestyle=":", linewidth=1)
    ax.set_xticks(range(len(labels)), labels, rotation=30 if len(labels) > 4 else 0, ha="right", fontsize=8)
    ax.set_ylabel("ROC AUC")
    ax.set_title(f"{stage}: AUC per seed (dots), mean and 95% t-interval (red)")
    return save_figure(fig, path, dpi=100)
