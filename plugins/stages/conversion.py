"""Does a conditional generator convert its input or copy it? Measures shared by train and augment.

- copy score: SSIM(x, G(z, x)) of a query and its output (1 = a copy);
- z-diversity: mean pairwise SSIM and L1 of G(z_k, x) over K random z for one x (SSIM near 1 and
  L1 near 0 mean z no longer matters);
- conversion rate: the share of outputs an independent probe classifier, fitted on real images that
  are neither queries nor test images, assigns to the target class; the probe's own cross-validated
  accuracy is reported beside it so that a weak probe is visible.
"""

from __future__ import annotations

import itertools
from typing import Any

import attrs
import numpy as np
import torch
from torch import Tensor, nn

from ganaug.api.interfaces import ImageSet
from ganaug.api.networks import frozen, generate
from ganaug.numeric.ssim import ssim, to_unit
from ganaug.runtime.device import generator_for


def copy_scores(queries: Tensor, outputs: Tensor) -> Tensor:
    """SSIM of each query and its output ``[N]`` (images in [-1, 1])."""
    return ssim(to_unit(queries.float()), to_unit(outputs.float()))


@attrs.frozen
class Diversity:
    """``outputs [K, N, C, H, W]``: K samples per query; ``ssim``/``l1`` ``[N]``: mean over pairs."""

    queries: Tensor
    outputs: Tensor
    ssim: Tensor
    l1: Tensor


def z_diversity(generator: nn.Module, queries: Tensor, k: int, seed: int, chunk: int = 128) -> Diversity:
    """G(z_k, x) for ``k`` random z per query (eval mode, no gradients, a private random stream)."""
    device = next(generator.parameters()).device
    z = torch.randn(k, len(queries), generator.latent_dim, generator=generator_for(seed))
    outs = []
    with frozen(generator), torch.no_grad():
        for j in range(k):
            parts = [
                generate(generator, z[j, s : s + chunk].to(device), queries[s : s + chunk].to(device)).cpu()
                for s in range(0, len(queries), chunk)
            ]
            outs.append(torch.cat(parts))
    outputs = torch.stack(outs)
    pairs = list(itertools.combinations(range(k), 2))
    if not pairs:
        nan = torch.full((len(queries),), float("nan"))
        return Diversity(queries, outputs, nan, nan)
    sims = torch.stack([copy_scores(outputs[a], outputs[b]) for a, b in pairs]).mean(0)
    l1 = torch.stack([(outputs[a] - outputs[b]).abs().flatten(1).mean(1) for a, b in pairs]).mean(0)
    return Diversity(queries, outputs, sims, l1)


@attrs.frozen
class Probe:
    """A logistic regression on pixels over the classes of its training images."""

    model: Any
    classes: tuple[str, ...]
    accuracy: float
    images: int

    def predict(self, images: Tensor) -> list[str]:
        labels = self.model.predict(images.flatten(1).numpy().astype(np.float64))
        return [self.classes[int(i)] for i in labels]


def fit_probe(images: ImageSet, seed: int) -> Probe:
    """Fit the probe on ``images``; its accuracy is 5-fold cross-validated (fewer folds for small sets)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    x = images.images.flatten(1).numpy().astype(np.float64)
    y = images.labels.numpy()
    present = sorted(set(y.tolist()))
    if len(present) < 2:
        names = [images.classes[i] for i in present]
        raise ValueError(f"the probe needs images of at least two classes, got {names or 'none'}")
    # labels re-indexed to the classes present, in the data's class order
    remap = {c: i for i, c in enumerate(present)}
    y = np.array([remap[int(c)] for c in y])
    model = LogisticRegression(max_iter=2000, C=0.1)
    folds = min(5, int(np.bincount(y).min()))
    accuracy = float("nan")
    if folds >= 2:
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed % 2**32)
        accuracy = float(cross_val_score(model, x, y, cv=splitter).mean())
    model.fit(x, y)
    return Probe(model, tuple(images.classes[c] for c in present), accuracy, len(y))


def summarise(
    query_classes: list[str],
    copy: Tensor,
    diversity: dict[str, Diversity],
    predicted: list[str] | None,
    label: str,
    probe: Probe | None,
) -> dict[str, Any]:
    """The metrics.json block: per query class copy score, z-diversity and conversion rate."""
    per_class: dict[str, dict[str, Any]] = {}
    for cls in dict.fromkeys(query_classes):
        rows = [i for i, c in enumerate(query_classes) if c == cls]
        entry: dict[str, Any] = {"images": len(rows), "copy_ssim": float(copy[rows].mean())}
        if cls in diversity:
            entry["z_diversity_ssim"] = float(diversity[cls].ssim.mean())
            entry["z_diversity_l1"] = float(diversity[cls].l1.mean())
        if predicted is not None:
            entry["conversion_rate"] = sum(predicted[i] == label for i in rows) / len(rows)
        per_class[cls] = entry
    out: dict[str, Any] = {"per_query_class": per_class}
    if probe is not None:
        out["probe"] = {"accuracy": probe.accuracy, "images": probe.images, "classes": list(probe.classes)}
    return out


class CopyMonitor:
    """Copy score and z-diversity of a conditional generator on a fixed batch of training images,
    measured after each epoch (eval mode, a private random stream: training is not disturbed)."""

    def __init__(self, images: Tensor, seed: int, k: int = 4, batch: int = 32) -> None:
        pick = torch.randperm(len(images), generator=generator_for(seed))[:batch]
        self.images, self.k, self.seed = images[pick], k, seed

    def measure(self, generator: nn.Module) -> dict[str, float]:
        diversity = z_diversity(generator, self.images, self.k, self.seed)
        return {
            "copy_ssim": float(copy_scores(self.images, diversity.outputs[0]).mean()),
            "z_diversity_ssim": float(diversity.ssim.mean()),
        }


def report_markdown(stage: str, label: str, block: dict[str, Any], figures: list[str]) -> str:
    """The augment stage's ``report.md``: the diagnostics per query class and the figures."""
    rows = [
        f"Outputs labelled **{label}**. Copy SSIM: SSIM(query, output), 1 = a copy. z-diversity: SSIM "
        "and L1 between outputs for different z (SSIM near 1 = z does not matter). Conversion rate: "
        f"share of outputs a pixel probe classifier calls {label}.",
        "",
        "| query class | images | copy SSIM | z-diversity SSIM | z-diversity L1 | conversion rate |",
        "|---|---|---|---|---|---|",
    ]

    def cell(value: Any, percent: bool = False) -> str:
        if value is None:
            return "–"
        return f"{value:.1%}" if percent else f"{value:.3f}"

    for cls, e in block["per_query_class"].items():
        rows.append(
            f"| {cls} | {e['images']} | {cell(e['copy_ssim'])} | {cell(e.get('z_diversity_ssim'))} | "
            f"{cell(e.get('z_diversity_l1'))} | {cell(e.get('conversion_rate'), percent=True)} |"
        )
    probe = block.get("probe")
    rows.append("")
    if probe:
        rows.append(
            f"Probe: logistic regression on pixels, {probe['images']} real images of "
            f"{', '.join(probe['classes'])}; cross-validated accuracy {cell(probe['accuracy'])}."
        )
    else:
        rows.append("No probe split named (`probe = {split = ...}`): no conversion rate.")
    rows += ["", *[f"![{name}]({name})" for name in figures]]
    return f"### Augmentation: {stage}\n\n" + "\n".join(rows) + "\n"
