"""Figures any stage or evaluator may draw: latent-search loss curves and reconstruction grids.

Built with ``matplotlib.figure.Figure`` (no pyplot state, Agg rendering) and written atomically
through :func:`ganaug.runtime.io.save_figure`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from ganaug.kit.imaging import save_grid
from ganaug.runtime.io import save_figure

COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink")


def color(i: int) -> str:
    """The ``i``-th colour of the palette every figure shares (cycling)."""
    return COLORS[i % len(COLORS)]


def plot_search_loss(
    steps: Sequence[int],
    history: Tensor,
    labels: Sequence[str],
    pick: Sequence[int],
    path: Path,
    title: str = "latent search",
) -> Path:
    """Loss curves of the picked images (thin, coloured by class) and each class's mean (thick)."""
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    data = history.detach().float().cpu().numpy()
    xs = np.asarray(steps[: data.shape[0]]) if len(steps) >= data.shape[0] else np.arange(data.shape[0])
    classes = sorted(set(labels))
    for j, cls in enumerate(classes):
        members = [i for i, label in enumerate(labels) if label == cls]
        for i in (i for i in pick if labels[i] == cls):
            ax.plot(xs, data[:, i], color=color(j), alpha=0.35, linewidth=0.8)
        if members:
            ax.plot(xs, data[:, members].mean(1), color=color(j), linewidth=2.2, label=f"{cls} (mean)")
    ax.set(xlabel="search step", ylabel="loss (1-λ)R + λD", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)


def save_reconstructions(originals: Tensor, generated: Tensor, path: Path) -> Path:
    """A two-row grid: originals on top, the generator's images for them below."""
    batch = torch.cat([originals.detach().cpu(), generated.detach().cpu().to(originals.dtype)])
    return save_grid(batch, path, nrow=max(1, len(originals)))
