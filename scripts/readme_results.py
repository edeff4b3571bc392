"""Copy a finished quickstart sweep's tables and figures into docs/results/quickstart/ and README.md.

Usage: .venv/bin/python scripts/readme_results.py SWEEP_DIR [ABLATION_SWEEP SETTING]
(run by scripts/refresh-readme-results)

The README block between the ``quickstart-results`` markers is regenerated from the sweep's own
files: its aggregate over seeds (when it ran several), and its first seed's run (exactly what
``scripts/quickstart`` produces) for the single-run tables and the figures. With an ablation sweep
and the name of the ablation setting the quickstart uses, the over-seeds tables come from that
sweep's rows for the same settings (said so in the block). Never edited by hand.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEST = ROOT / "docs" / "results" / "quickstart"
START, END = "<!-- quickstart-results:start -->", "<!-- quickstart-results:end -->"
#: Set SHARED=1 when the runs shared the machine with other work (their minutes are then no speed figure).
SHARED = os.environ.get("SHARED", "") == "1"
SHARED_TEXT = "with the machine shared with other runs, so not a speed figure"

#: (file in the run, name in docs/results/quickstart, caption)
FIGURES = [
    ("iagan/samples/conditioning.png", "iagan-conditioning.png", "IAGAN's fixed conditioning images"),
    ("iagan/samples/{last}", "iagan-samples.png", "IAGAN samples after the last epoch"),
    ("iagan/losses.png", "iagan-losses.png", "IAGAN training: losses, SSIM weight, copy SSIM, z-diversity"),
    (
        "aug_iagan_8/pairs-8.png",
        "augment-8.png",
        "IAGAN augmentation of training 8s: queries above, generated below (cf. paper Fig. 4)",
    ),
    (
        "aug_iagan_3/pairs-3.png",
        "augment-3-to-8.png",
        "IAGAN augmentation from held-out 3s, labelled 8: queries above, generated below (cf. Fig. 5)",
    ),
    (
        "aug_iagan_3/z-samples-3.png",
        "z-samples-3.png",
        "Held-out 3s (top row) and IAGAN outputs for 8 random z each: does z matter?",
    ),
    ("evaluate/roc.png", "roc.png", "ROC of the AnoGANs, seed 0 (cf. Fig. 6)"),
    (
        "evaluate/scores-by-class.png",
        "scores-by-class.png",
        "Mean anomaly score per class, seed 0 (cf. Fig. 7)",
    ),
    (
        "conversion/roc.png",
        "conversion-roc.png",
        "Held-out 3s vs their IAGAN conversions, seed 0 (cf. Fig. 8)",
    ),
]


def first_table(report: str) -> str:
    """The first Markdown table of a stage report (the comparison table)."""
    lines, table = report.splitlines(), []
    for line in lines:
        if line.startswith("|"):
            table.append(line)
        elif table:
            break
    return "\n".join(table)


def section_tables(markdown: str, heading: str) -> str:
    """The tables under the first heading that starts with ``heading`` in the aggregate page."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    out = []
    for line in lines[start + 1 :]:
        if line.startswith("## ") or line.startswith("### "):
            break
        if line.startswith("|"):
            out.append(line)
    return "\n".join(out)


def ablation_tables(ablation: Path, setting: str) -> list[str]:
    """The quickstart's models over seeds, from the ablation sweep's rows for the same settings."""
    from ganaug.apps.aggregate_report import summary_text

    result = json.loads((ablation / "aggregate.json").read_text())
    seeds = sorted({r["seed"] for r in result["runs"]})
    block = result["evaluate"]["evaluate"]
    aucs, paired = block["auc"]["default"], block["paired"]["default"]
    names = {
        "anogan_real": "anogan_real",
        "anogan_real_steps": "anogan_real_steps",
        "anogan_self": "anogan_self",
        f"anogan_iagan_{setting}": "anogan_iagan (this quickstart's IAGAN)",
        "anogan_iagan_paper": "anogan_iagan with the paper's IAGAN setting",
    }
    lines = [
        f"**Over {len(seeds)} training seeds** (seeds {', '.join(map(str, seeds))}; each also redraws "
        "the data split), from `ganaug sweep examples/ablation/ablation.toml`, whose "
        f"`{setting}` rows are this quickstart's settings (`docs/ablation.md` has every setting): "
        "ROC AUC, mean ± SD [95% t-interval of the mean], and each seed.",
        "",
        "| model | AUC over seeds | per seed |",
        "|---|---|---|",
    ]
    for key, label in names.items():
        if key in aucs:
            s = aucs[key]
            per_seed = ", ".join(f"{v:.3f}" for v in s["values"])
            lines.append(f"| {label} | {summary_text(s)} | {per_seed} |")
    lines += [
        "",
        "Paired on the same test images (ΔAUC = model − baseline; t-interval over seeds; seeds won):",
        "",
        "| comparison | ΔAUC over seeds | seeds won |",
        "|---|---|---|",
    ]
    for row in paired:
        if row["model"] in (f"anogan_iagan_{setting}", "anogan_self"):
            won = f"{row['wins']}/{row['seeds']}"
            lines.append(
                f"| {row['model']} − {row['baseline']} | {summary_text(row['difference'])} | {won} |"
            )
    conv = result["conversion"]["default"].get(f"aug_{setting}_3", {}).get("3", {})
    conv_auc = result["evaluate"].get(f"conversion_{setting}", {}).get("auc", {}).get("default", {})
    if conv:
        lines += [
            "",
            "Held-out 3s turned into 8s, over seeds: copy SSIM "
            f"{summary_text(conv['copy_ssim'])}, z-diversity SSIM {summary_text(conv['z_diversity_ssim'])}, "
            f"conversion rate {summary_text(conv['conversion_rate'], percent=True)} (probe accuracy "
            f"{summary_text(conv['probe_accuracy'])}); conversion AUC "
            f"{summary_text(conv_auc.get('anogan_real', {'n': 0}))}.",
        ]
    return lines


def minutes(manifest: dict) -> float:
    start = dt.datetime.fromisoformat(manifest["started"])
    end = dt.datetime.fromisoformat(manifest["finished"])
    return (end - start).total_seconds() / 60


def block(sweep: Path, ablation: Path | None = None, setting: str = "") -> str:
    runs = json.loads((sweep / "sweep.json").read_text())["runs"]
    seeds = sorted(r["seed"] for r in runs)
    run = sweep / next(r["dir"] for r in runs if r["seed"] == seeds[0])
    manifests = [json.loads((sweep / r["dir"] / "manifest.json").read_text()) for r in runs]
    manifest = manifests[0]
    samples = sorted((run / "iagan" / "samples").glob("epoch-*.png"))
    DEST.mkdir(parents=True, exist_ok=True)
    shown = []
    for source, name, caption in FIGURES:
        path = run / source.format(last=samples[-1].name if samples else "")
        if path.is_file():
            shutil.copyfile(path, DEST / name)
            shown.append(f"| ![{caption}](docs/results/quickstart/{name}) | {caption} |")
    aggregate = (sweep / "aggregate.md").read_text()
    evaluate = first_table((run / "evaluate" / "report.md").read_text())
    conversion = first_table((run / "conversion" / "report.md").read_text())
    against = section_tables(
        (run / "evaluate" / "report.md").read_text(), "## Against the strongest baseline"
    )
    diagnostics = section_tables(aggregate, "## Conversion diagnostics")
    if len(seeds) > 1:
        shutil.copyfile(sweep / "aggregate-evaluate.png", DEST / "aggregate-evaluate.png")
        over_seeds = [
            f"**Over {len(seeds)} training seeds** (each seed also redraws the data split): ROC AUC of "
            "AnoGAN on test 8s vs 3s, mean ± SD [95% t-interval of the mean], and each seed:",
            "",
            section_tables(aggregate, "## evaluate: AUC over seeds"),
            "",
            "Paired on the same test images (per seed DeLong's test; pooled: mean difference over seeds "
            "with its t-interval, and how many seeds the model wins):",
            "",
            section_tables(aggregate, "### evaluate: paired comparisons"),
            "",
            "Every detector against the best classical baseline over seeds (the baseline with the highest "
            "mean AUC; paired per seed by DeLong, t-interval over seeds):",
            "",
            section_tables(aggregate, "### evaluate: every detector against the best baseline"),
            "",
            "![AUC per seed and mean with t-interval](docs/results/quickstart/aggregate-evaluate.png)",
        ]
    elif ablation is not None:
        over_seeds = ablation_tables(ablation, setting)
    else:
        over_seeds = ["(one seed only: run `ganaug sweep` with several seeds for the spread over seeds)"]
    over = f"over seeds {', '.join(map(str, seeds))}" if len(seeds) > 1 else f"seed {seeds[0]}"
    versions = manifest["versions"]
    alone = f"{SHARED_TEXT}" if SHARED else "alone on the machine"
    return "\n".join(
        [
            START,
            f"Produced by `scripts/refresh-readme-results` from `examples/quickstart.toml` (recipe hash "
            f"`{manifest['recipe_hash']}`; a test fails when the recipe no longer has it), seeds "
            f"{', '.join(map(str, seeds))}: device {manifest['device']}, "
            f"{manifest.get('threads', '?')} torch thread(s) (`run.threads`), torch {versions['torch']}, "
            f"{versions['platform']}. Seed {seeds[0]}, exactly what `scripts/quickstart` runs and prints, "
            f"took **{minutes(manifest):.1f} minutes** of wall time {alone}"
            + (", the other seeds two at a time" if len(seeds) > 1 else "")
            + ". The numbers need the same torch version and CPU instruction set (x86-64 here) and the same "
            "thread setting, not the same core count.",
            "",
            *over_seeds,
            "",
            f"Conversion diagnostics of the augment stages ({over}; copy SSIM of query and output, "
            "SSIM between outputs for different z, share of outputs a pixel probe calls 8, the probe's "
            "cross-validated accuracy):",
            "",
            diagnostics,
            "",
            f"Seed {seeds[0]} in full: the four AnoGANs with the no-search control and the classical "
            "baselines (docs/detectors.md), each fitted on the model's real training images,",
            "",
            evaluate,
            "",
            against,
            "",
            "and held-out 3s against their IAGAN conversions, scored by the AnoGAN trained on real 8s:",
            "",
            conversion,
            "",
            "| figure | what it shows |",
            "|---|---|",
            *shown,
            END,
        ]
    )


def main(sweep: Path, ablation: Path | None = None, setting: str = "") -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    new = block(sweep, ablation, setting)
    if START in text:
        text = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: new, text, flags=re.DOTALL)
    else:
        text = text.rstrip() + "\n\n## Quickstart results\n\n" + new + "\n"
    readme.write_text(text)
    shutil.copyfile(sweep / "aggregate.md", DEST / "aggregate.md")
    print(f"README.md and {DEST.relative_to(ROOT)} updated from {sweep}")


if __name__ == "__main__":
    extra = sys.argv[2:4]
    main(Path(sys.argv[1]), Path(extra[0]) if extra else None, extra[1] if len(extra) > 1 else "")
