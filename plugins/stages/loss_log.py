"""The train stage's loss record: one row per step, written as ``losses.csv`` and ``losses.png``."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import attrs

from ganaug.runtime.io import save_figure, write_text

#: Columns of ``losses.csv``: 1-based epoch, global step, losses, mean G-loss weight, mean logits,
#: and (conditional generators, last row of each epoch, else nan) the copy/z-diversity monitor.
FIELDS = ("epoch", "step", "d_loss", "g_loss", "weight", "d_real", "d_fake", "copy_ssim", "z_diversity_ssim")
STEP_FIELDS = FIELDS[2:7]
EPOCH_FIELDS = FIELDS[7:]


@attrs.define
class LossLog:
    """Rows of :data:`FIELDS` and the ``extras`` (figures of augmenters and regularizers, averaged per
    epoch like the losses), appended per training step."""

    rows: list[dict[str, float]] = attrs.Factory(list)
    extras: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        return (*FIELDS, *self.extras)

    def add(self, epoch: int, step: int, stats: dict[str, float]) -> None:
        nan = float("nan")
        self.rows.append(
            {
                "epoch": epoch,
                "step": step,
                **{k: stats[k] for k in STEP_FIELDS},
                **dict.fromkeys(EPOCH_FIELDS, nan),
                **{k: stats.get(k, nan) for k in self.extras},
            }
        )

    def annotate(self, values: dict[str, float]) -> None:
        """Per-epoch figures (copy score, z-diversity) on the epoch's last row."""
        if self.rows:
            self.rows[-1].update({k: float(values[k]) for k in EPOCH_FIELDS if k in values})

    def epoch_mean(self, epoch: int) -> dict[str, float]:
        """Mean of each loss column over the rows of one (1-based) epoch (per-epoch figures: their
        value, when the epoch has one)."""
        rows = [r for r in self.rows if r["epoch"] == epoch]
        if not rows:
            return {}
        out = {k: sum(r[k] for r in rows) / len(rows) for k in STEP_FIELDS}
        out.update({k: rows[-1][k] for k in EPOCH_FIELDS if not math.isnan(rows[-1][k])})
        for key in self.extras:
            values = [r[key] for r in rows if not math.isnan(r[key])]
            if values:
                out[key] = sum(values) / len(values)
        return out

    def write_csv(self, path: Path) -> Path:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.fields, lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})
        return write_text(path, buffer.getvalue())

    @classmethod
    def read_csv(cls, path: Path, up_to_step: int, extras: tuple[str, ...] = ()) -> LossLog:
        """The rows of an earlier ``losses.csv`` up to ``up_to_step`` (for a resumed run)."""
        if not path.exists():
            return cls(extras=extras)
        with path.open(newline="") as handle:
            rows = [_parse(row, (*FIELDS, *extras)) for row in csv.DictReader(handle)]
        return cls([r for r in rows if r["step"] <= up_to_step], extras)

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
            ends, means = self._epoch_means(key)
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

    def _epoch_means(self, key: str) -> tuple[list[int], list[float]]:
        ends: list[int] = []
        means: list[float] = []
        for epoch in sorted({int(r["epoch"]) for r in self.rows}):
            rows = [r for r in self.rows if r["epoch"] == epoch]
            ends.append(int(rows[-1]["step"]))
            means.append(sum(r[key] for r in rows) / len(rows))
        return ends, means


def _parse(row: dict[str, Any], fields: tuple[str, ...]) -> dict[str, float]:
    """A row of ``losses.csv``; files from before the copy monitor lack its columns (nan)."""
    return {k: (int(row[k]) if k in ("epoch", "step") else float(row.get(k) or "nan")) for k in fields}
