"""Write the augmentation regime map's recipes: examples/augmentation/map-T-A-N.toml.

Usage: .venv/bin/python scripts/augmentation_map.py [--out examples/augmentation] [--check]

One recipe per digit pair (trained T, anomaly A) and training-set size N. Every setting is the
quickstart's, fixed before any map result was seen; only the sizes change:

- splits: 150 + 150 test images and a 50 + 50 probe split dealt first (the same test images at
  every size for a seed), then N training images of T and round(0.176 N) held-out images of A as
  IAGAN queries (the paper's 575 / 3,265);
- augmentations: none (the real images only), self (AnoGAN search, 100 steps), IAGAN (the
  quickstart's: code_dim 4, random z, queries = the training images and the held-out anomalies) and
  classical (the transform stage: shifts, small rotations and scaling of the training images, as many
  images as IAGAN adds);
- every model trains the quickstart's 40 epochs; the control ``anogan_real_steps`` trains for the
  optimiser steps of the IAGAN-augmented set (and the classical one, which has the same size);
- detectors: the quickstart's AnoGAN search, the f-AnoGAN encoder (izi_f, trained on each model's
  own training images; the control's for as many steps as the augmented models' encoders), and kNN,
  PCA and OC-SVM at their documented defaults, fitted on each model's training images *with* its
  augmentation (the control's: the real images only).

``--check`` exits 1 when a written recipe differs from what this script makes (a test runs it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import tomli_w

PAIRS = (("8", "3"), ("9", "4"), ("7", "1"))
SIZES = (25, 50, 100, 300)
#: what mnist-5k holds per digit; 1,000 training images do not fit beside 150 test and 50 probe
PER_CLASS = 500
HOLDOUT_SHARE = 575 / 3265
EPOCHS, BATCH = 40, 16
TEST, PROBE = 150, 50

DCGAN = {
    "generator": {"name": "dcgan", "latent_dim": 100, "width": 32},
    "discriminator": {"name": "dcgan", "width": 32},
    "loss": {"name": "bce"},
    "weighter": {"name": "none"},
    "batch_size": BATCH,
    "lr_d": 2e-4,
    "lr_g": 2e-4,
}
SEARCH = {"name": "backprop", "steps": 100, "feature_weight": 0.2, "channels_last": True}
BASELINES = [{"name": name, "augmented": True} for name in ("knn", "pca", "ocsvm")]


def holdout(n: int) -> int:
    """Held-out anomalies used as IAGAN queries: the paper's share of the training set."""
    return round(HOLDOUT_SHARE * n)


def matched_epochs(n: int) -> int:
    """Epochs of the real images that give the optimiser steps of the IAGAN-augmented set."""
    augmented = 2 * n + holdout(n)
    return round(EPOCHS * (augmented // BATCH) / (n // BATCH))


def _train(name: str, data: dict[str, Any], epochs: int) -> dict[str, Any]:
    every = max(1, epochs // 10)
    return {
        "kind": "train",
        "name": name,
        "data": data,
        **DCGAN,
        "epochs": epochs,
        "sample_every": every,
        "checkpoint_every": every,
    }


def _encoder(model: str, data: dict[str, Any], epochs: int) -> dict[str, Any]:
    return {
        "kind": "encoder",
        "name": f"{model}_encoder",
        "model": model,
        "data": data,
        "encoder": {"name": "dcgan", "width": 32},
        "loss": "izi_f",
        "feature_weight": 1.0,
        "epochs": epochs,
        "batch_size": BATCH,
        "lr": 2e-4,
        "checkpoint_every": max(1, epochs // 4),
        "sample_every": max(1, epochs // 4),
    }


def recipe(trained: str, anomaly: str, n: int) -> dict[str, Any]:
    """The map's recipe for one pair and training-set size."""
    if n + TEST + PROBE > PER_CLASS:
        raise ValueError(f"{n} training images of {trained} do not fit in {PER_CLASS}")
    h, steps_epochs = holdout(n), matched_epochs(n)
    real = {"split": "train", "classes": [trained]}
    probe = {"split": "probe"}
    added = {
        "self": ["aug_anogan"],
        "iagan": [f"aug_iagan_{trained}", f"aug_iagan_{anomaly}"],
        "classical": ["aug_classical"],
    }
    models = {"none": "anogan_real_steps"} | {aug: f"anogan_{aug}" for aug in added}
    stages: list[dict[str, Any]] = [
        {
            "kind": "train",
            "name": "iagan",
            "data": real,
            "generator": {"name": "iagan", "latent_dim": 125, "width": 32, "code_dim": 4},
            "discriminator": {"name": "iagan", "width": 32},
            "loss": {"name": "least-squares"},
            "weighter": {"name": "ssim", "mode": "detached"},
            "epochs": EPOCHS,
            "batch_size": BATCH,
            "lr_d": 4e-4,
            "lr_g": 1e-4,
            "sample_every": 4,
            "checkpoint_every": 10,
        },
        _train("anogan_real", real, EPOCHS),
        _train("anogan_real_steps", real, steps_epochs),
        {
            "kind": "augment",
            "name": "aug_anogan",
            "model": "anogan_real",
            "queries": [real],
            "label": trained,
            "probe": probe,
            "searcher": {**SEARCH, "feature_weight": 0.7},
        },
        {
            "kind": "augment",
            "name": f"aug_iagan_{trained}",
            "model": "iagan",
            "queries": [real],
            "label": trained,
            "probe": probe,
            "searcher": {"name": "backprop", "steps": 0},
        },
        {
            "kind": "augment",
            "name": f"aug_iagan_{anomaly}",
            "model": "iagan",
            "queries": [{"split": "holdout", "classes": [anomaly]}],
            "label": trained,
            "probe": probe,
            "searcher": {"name": "backprop", "steps": 0},
        },
        {"kind": "transform", "name": "aug_classical", "queries": [real], "label": trained, "count": n + h},
    ]
    stages += [_train(f"anogan_{aug}", {**real, "add": adds}, EPOCHS) for aug, adds in added.items()]
    stages.append(_encoder("anogan_real_steps", real, steps_epochs))
    stages += [_encoder(f"anogan_{aug}", {**real, "add": adds}, EPOCHS) for aug, adds in added.items()]
    test = {"split": "test"}
    stages.append(
        {
            "kind": "evaluate",
            "name": "evaluate",
            "models": list(models.values()),
            "test": test,
            "positive": anomaly,
            "evaluators": [{"name": "anogan", "searcher": SEARCH}, *BASELINES, {"name": "roc"}],
        }
    )
    stages.append(
        {
            "kind": "evaluate",
            "name": "evaluate_encoder",
            "models": [f"{m}_encoder" for m in models.values()],
            "test": test,
            "positive": anomaly,
            "evaluators": [
                {
                    "name": "anogan",
                    "method": "encoder",
                    "title": "Encoder",
                    "control": False,
                    "searcher": {
                        "name": "encoder",
                        "search": {**SEARCH, "steps": 0, "chunk_size": 512},
                    },
                },
                {"name": "roc"},
            ],
        }
    )
    return {
        "run": {
            "name": f"map-{trained}-{anomaly}-{n}",
            "seed": 0,
            "device": "auto",
            "output_dir": "runs",
            "threads": 1,
        },
        "data": {
            "source": "mnist-5k",
            "classes": [trained, anomaly],
            "image_size": 32,
            "split": {
                "test": {trained: TEST, anomaly: TEST},
                "probe": {trained: PROBE, anomaly: PROBE},
                "train": {trained: n},
                "holdout": {anomaly: h},
            },
        },
        "stages": stages,
    }


#: the levers of IAGAN augmentation measured on one size (docs/augmentation.md): model -> (copies, share)
LEVERS = {"anogan_iagan": (1, None), "anogan_iagan_copies2": (2, None), "anogan_iagan_mix25": (1, 0.25),
          "anogan_iagan_mix50": (1, 0.5)}  # fmt: skip


def levers(trained: str, anomaly: str, n: int) -> dict[str, Any]:
    """The levers recipe for one pair and size: the map's control and IAGAN augmentation, then
    IAGAN with two outputs per query (``copies = 2``) and with a fixed share of IAGAN images in every
    batch (``added_share`` 0.25 and 0.5; an epoch is then one pass over the real images)."""
    base = recipe(trained, anomaly, n)
    keep = {"iagan", "anogan_real_steps", f"aug_iagan_{trained}", f"aug_iagan_{anomaly}"}
    stages = [s for s in base["stages"] if s["name"] in keep]
    real = {"split": "train", "classes": [trained]}
    for copy in (2,):
        for stage in [s for s in stages if s["name"].startswith("aug_iagan_") and "copies" not in s]:
            stages.append({**stage, "name": f"{stage['name']}_x{copy}", "copies": copy})
    for model, (copies, share) in LEVERS.items():
        suffix = "" if copies == 1 else f"_x{copies}"
        adds = [f"aug_iagan_{trained}{suffix}", f"aug_iagan_{anomaly}{suffix}"]
        stage = _train(model, {**real, "add": adds}, EPOCHS)
        if share is not None:
            stage["added_share"] = share
        stages.append(stage)
    steps_epochs = matched_epochs(n)
    stages.append(_encoder("anogan_real_steps", real, steps_epochs))
    for model, (copies, _) in LEVERS.items():
        suffix = "" if copies == 1 else f"_x{copies}"
        adds = [f"aug_iagan_{trained}{suffix}", f"aug_iagan_{anomaly}{suffix}"]
        stages.append(_encoder(model, {**real, "add": adds}, EPOCHS))
    models = ["anogan_real_steps", *LEVERS]
    for stage in [s for s in base["stages"] if s["kind"] == "evaluate"]:
        suffix = "_encoder" if stage["name"] == "evaluate_encoder" else ""
        stages.append({**stage, "models": [m + suffix for m in models]})
    return {**base, "run": {**base["run"], "name": f"levers-{trained}-{anomaly}-{n}"}, "stages": stages}


def text(trained: str, anomaly: str, n: int) -> str:
    head = (
        f"# The augmentation regime map (docs/augmentation.md): {trained} vs {anomaly}, "
        f"{n} training images.\n"
        "# Written by scripts/augmentation_map.py (its docstring says what every setting is and why);\n"
        "# run all of them with scripts/augmentation-map. Do not edit by hand.\n\n"
    )
    return head + tomli_w.dumps(recipe(trained, anomaly, n))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("examples/augmentation"))
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument(
        "--levers", type=int, metavar="N", help="also write levers-T-A-N.toml for every pair at size N"
    )
    args = parser.parse_args(argv)
    if args.levers is not None:
        for trained, anomaly in PAIRS:
            head = (
                f"# IAGAN augmentation's levers (docs/augmentation.md): {trained} vs {anomaly}, "
                f"{args.levers} training images.\n# Written by scripts/augmentation_map.py --levers "
                f"{args.levers}; the size was chosen after the map (post hoc). Do not edit by hand.\n\n"
            )
            path = args.out / f"levers-{trained}-{anomaly}-{args.levers}.toml"
            path.write_text(head + tomli_w.dumps(levers(trained, anomaly, args.levers)), encoding="utf-8")
    stale = []
    for trained, anomaly in PAIRS:
        for n in SIZES:
            path = args.out / f"map-{trained}-{anomaly}-{n}.toml"
            wanted = text(trained, anomaly, n)
            if args.check:
                if not path.exists() or path.read_text(encoding="utf-8") != wanted:
                    stale.append(str(path))
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(wanted, encoding="utf-8")
    if stale:
        print("out of date (run scripts/augmentation_map.py):", *stale, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
