"""The train stage's loss record: one row per step, written as ``losses.csv`` and ``losses.png``."""

from __future__ import annotations

import math
from pathlib import Path

import attrs

from ganaug.kit.training.step_log import StepLog
from ganaug.runtime.io import save_figure

#: Columns of ``losses.csv``: 1-based epoch, global step, losses, mean G-loss weight, mean logits,
#: and (conditional generators, last row of each epoch, else nan) the copy/z-diversity monitor.
FIELDS = ("epoch", "step", "d_loss", "g_loss", "weight", "d_real", "d_fake", "copy_ssim", "z_diversity_ssim")
STEP_FIELDS = FIELDS[2:7]
EPOCH_FIELDS = FIELDS[7:]


@attrs.define
class LossLog(StepLog):
    """The train stage's :class:`StepLog`: :data:`FIELDS`, and the ``extras`` (figures of augmenters
    and regularizers, averaged per epoch like the losses)."""

    step_fields: tuple[str, ...] = STEP_FIELDS
    epoch_fields: tuple[str, ...] = EPOCH_FIELDS

    def plot(self, path: Path) -> Path:
        """D and G loss per step (with a per-epoch mean) and the mean G-loss weight."""
        from matplotlib.figure import Figure

        monitored = [r for r in self.rows if not math.isnan(r["copy_ssim"])]
        ratios = (3, 1) + ((1.5,) if monitored else ()) + ((1.5,) if self.extras else ())
        fig = Figure(figsize=(8, sum(ratios) + 2), layout="constrained")
        axes = fig.subplots(len(ratios), 1, sharex=True, height_ratios=ratios)
        losses, weights = axes[0], axes[1]
        steps = [r["step"] for r in self.rows]
        for key, color in (("d_loss", "tab:blue"), ("g_loss", "tab:orange")):
            losses.plot(steps, [r[key] for r in self.rows], color=color, alpha=0.35, lw=0.8)
            ends, means = self.epoch_means(key)
            losses.plot(ends, means, color=color, lw=2, marker="o", ms=3, label=f"{key} (epoch mean)")
        losses.set_ylabel("loss")
        losses.legend(loc="upper right")
        losses.set_title("GAN training losses")
        weights.plot(steps, [r["weight"] for r in self.rows], color="tab:green", lw=0.8)
        weights.set_ylabel("G weight")
        axes[-1].set_xlabel("step")
        if monitored:
            copying = axes[2]
            at = [r["step"] for r in monitored]
            copying.plot(at, [r["copy_ssim"] for r in monitored], marker="o", ms=3, label="SSIM(x, G(z, x))")
            label = "SSIM between G(z_k, x)"
            copying.plot(at, [r["z_diversity_ssim"] for r in monitored], marker="s", ms=3, label=label)
            copying.set_ylabel("SSIM")
            copying.set_ylim(-0.05, 1.05)
            copying.legend(loc="lower right", fontsize="small")
            copying.set_title("copying (near 1: G copies x) and z-diversity (near 1: z does not matter)")
        if self.extras:
            own = axes[-1]
            for key in self.extras:
                own.plot(steps, [r[key] for r in self.rows], lw=0.8, label=key)
            own.set_ylabel("value")
            own.legend(loc="upper right", fontsize="small")
            own.set_title("augmenters' and regularizers' figures")
        return save_figure(fig, path, dpi=100)
