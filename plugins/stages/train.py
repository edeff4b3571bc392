"""The train stage: trains a generator/discriminator pair on selected images.

Writes under its folder: ``checkpoints/`` (resumable, see :mod:`.checkpoint`), sample grids
``samples/epoch-NNNN.png`` (fixed z and conditioning images), ``losses.csv``/``losses.png``, and
the final ``generator.safetensors``/``discriminator.safetensors`` with ``training.json``.

Data order and noise come from seeds derived per epoch and per step, so a run resumed from any
checkpoint ends with the same weights, bit for bit on the CPU, as one that never stopped.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import attrs
import torch

from ganaug.context import StageContext
from ganaug.device import generator_for
from ganaug.errors import DataError, DivergenceError
from ganaug.interfaces import ImageSet, StageOutput
from ganaug.recipe.schema import ComponentRef, component
from ganaug.selection import ImageSelection
from ganaug_plugins.stages.checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    restore_checkpoint,
    save_checkpoint,
)
from ganaug_plugins.stages.gan_step import GanStep, all_finite, derive_seed, noise
from ganaug_plugins.stages.interrupt import DeferredInterrupt
from ganaug_plugins.stages.loss_log import LossLog
from ganaug_plugins.stages.train_files import Networks, SampleSheet, restore_model, trained_model, write_final


def _betas(_: object, attribute: attrs.Attribute, value: tuple[float, float]) -> None:
    if not all(0.0 <= b < 1.0 for b in value):
        raise ValueError(f"both betas must be in [0, 1), got {list(value)}")


def _positive(_: object, attribute: attrs.Attribute, value: float) -> None:
    if not value > 0:
        raise ValueError(f"must be > 0, got {value}")


_GE1 = attrs.validators.ge(1)


@attrs.frozen
class TrainOptions:
    """Options of the train stage; defaults are the IAGAN paper's (Adam, batch 16, 150 epochs).

    ``weighter = "none"`` turns the SSIM weighting off (plain GAN / AnoGAN training).
    ``checkpoint_every`` and ``sample_every`` count epochs; the last epoch always writes both.
    """

    data: ImageSelection = attrs.Factory(ImageSelection)
    generator: ComponentRef = component("generators", "iagan")
    discriminator: ComponentRef = component("discriminators", "iagan")
    loss: ComponentRef = component("gan_losses", "least-squares")
    weighter: ComponentRef = component("loss_weighters", "ssim")
    epochs: int = attrs.field(default=150, validator=_GE1)
    batch_size: int = attrs.field(default=16, validator=_GE1)
    lr_d: float = attrs.field(default=4e-4, validator=_positive)
    lr_g: float = attrs.field(default=1e-4, validator=_positive)
    betas_d: tuple[float, float] = attrs.field(default=(0.5, 0.999), validator=_betas)
    betas_g: tuple[float, float] = attrs.field(default=(0.5, 0.999), validator=_betas)
    checkpoint_every: int = attrs.field(default=10, validator=_GE1)
    keep_checkpoints: int = attrs.field(default=2, validator=_GE1)
    sample_every: int = attrs.field(default=5, validator=_GE1)
    samples: int = attrs.field(default=16, validator=_GE1)
    drop_last: bool = True


class TrainStage:
    """Alternating D/G training with Adam; resumable, bit-for-bit on the CPU."""

    produces = frozenset({"model"})

    def __init__(self, options: TrainOptions) -> None:
        self.options = options

    def run(self, ctx: StageContext) -> StageOutput:
        return _Training(ctx, self.options).run()

    def restore(self, ctx: StageContext) -> StageOutput:
        """Rebuild the trained model from the final files of a finished stage."""
        model, info = restore_model(ctx, self.options)
        return StageOutput(model=model, metrics=info["metrics"])


class _Training:
    """One session of the train stage: fresh, or continuing from the latest checkpoint."""

    def __init__(self, ctx: StageContext, options: TrainOptions) -> None:
        self.ctx, self.o = ctx, options
        self.images: ImageSet = ctx.select(options.data)
        self.steps = self._steps_per_epoch()
        self.seed = derive_seed(ctx.seed, "train", ctx.name)
        self.nets = Networks.build(ctx, options, self.images.spec, self.seed)
        nets = self.nets
        self.step = GanStep(
            nets.generator, nets.discriminator, nets.loss, nets.weighter, nets.opt_g, nets.opt_d
        )
        self.folder = ctx.dir / "checkpoints"
        self.state: dict[str, Any] = {"epoch": 0, "batch": 0, "step": 0, "images": 0, "seconds": 0.0}
        self.log = LossLog()
        self.last: Path | None = None

    def _steps_per_epoch(self) -> int:
        n, size, name = len(self.images), self.o.batch_size, self.ctx.name
        steps = n // size if self.o.drop_last else math.ceil(n / size)
        if steps == 0:
            raise DataError(
                f"stage {name!r}: {n} images are fewer than batch_size {size} "
                "(lower batch_size or set drop_last = false)"
            )
        return steps

    def run(self) -> StageOutput:
        ctx, o = self.ctx, self.o
        if ctx.resume:
            self._resume()
        if not self.nets.generator.conditional and o.weighter.name != "none":
            ctx.log.info(
                "generator %r is unconditional, yet weighter %r applies", o.generator.name, o.weighter.name
            )
        sheet = SampleSheet.make(
            ctx.dir / "samples", self.images, self.nets.generator, o.samples, self.seed, ctx.device
        )
        with DeferredInterrupt() as interrupt, ctx.progress.task(f"{ctx.name} epochs", total=o.epochs) as bar:
            bar.advance(self.state["epoch"])
            for epoch in range(self.state["epoch"], o.epochs):
                self._epoch(epoch, interrupt)
                done = epoch + 1
                means = self.log.epoch_mean(done)
                ctx.log.info(
                    "epoch %d/%d: d_loss %.4f g_loss %.4f weight %.3f (%.1f images/s)",
                    done, o.epochs, means["d_loss"], means["g_loss"], means["weight"], self._rate(),
                )  # fmt: skip
                bar.advance(1, d=means["d_loss"], g=means["g_loss"])
                self._check_weights(done)
                if done % o.sample_every == 0 or done == o.epochs:
                    sheet.write(done)
                if done % o.checkpoint_every == 0 or done == o.epochs:
                    self._checkpoint(done, 0)
                else:
                    self.log.write_csv(ctx.dir / "losses.csv")
        final = self.log.epoch_mean(o.epochs)
        metrics = {
            **{k: final[k] for k in ("d_loss", "g_loss", "weight") if k in final},
            "images_per_s": self._rate(),
            "epochs": o.epochs,
            "steps": self.state["step"],
            "train_seconds": self.state["seconds"],
        }
        last = self.last or self._checkpoint(o.epochs, 0)  # the last epoch has written one
        info, files = write_final(ctx.dir, self.nets, self.images, last, metrics, self.log)
        mean = self.images.images.mean(dim=0)
        model = trained_model(ctx, info, self.nets.generator, self.nets.discriminator, mean)
        return StageOutput(model=model, metrics=metrics, files=[*files, *sheet.files(), last])

    def _epoch(self, epoch: int, interrupt: DeferredInterrupt) -> None:
        ctx, o, state = self.ctx, self.o, self.state
        order = torch.randperm(
            len(self.images), generator=generator_for(derive_seed(self.seed, "order", epoch))
        )
        start = state["batch"] if epoch == state["epoch"] else 0
        with ctx.progress.task(f"{ctx.name} epoch {epoch + 1}", total=self.steps) as bar:
            bar.advance(start)
            for batch in range(start, self.steps):
                index = order[batch * o.batch_size : (batch + 1) * o.batch_size]
                real = self.images.images[index].to(ctx.device)
                z_seed = derive_seed(self.seed, "noise", state["step"])
                z = noise(z_seed, len(real), self.nets.latent_dim, ctx.device)
                began = time.perf_counter()
                stats = self.step(real, z)
                state["seconds"] += time.perf_counter() - began
                state["step"] += 1
                state["images"] += len(real)
                for key in ("d_loss", "g_loss"):
                    if not math.isfinite(stats[key]):
                        raise self._diverged(f"{key} ({stats[key]})", epoch + 1)
                self.log.add(epoch + 1, state["step"], stats)
                bar.advance(1, d=stats["d_loss"], g=stats["g_loss"])
                if interrupt.requested:
                    self._checkpoint(epoch, batch + 1)
                    ctx.log.warning("interrupted; checkpoint written: %s", self.last)
                    raise KeyboardInterrupt
        state["epoch"], state["batch"] = epoch + 1, 0

    def _resume(self) -> None:
        self.last = latest_checkpoint(self.folder)
        if self.last is None:
            return
        checkpoint = load_checkpoint(self.last)
        restore_checkpoint(checkpoint, self.nets.modules, self.nets.optimizers)
        self.state = dict(checkpoint.meta["position"])
        self.log = LossLog.read_csv(self.ctx.dir / "losses.csv", self.state["step"])
        self.ctx.log.info(
            "resuming from %s (epoch %d, batch %d)", self.last, self.state["epoch"] + 1, self.state["batch"]
        )

    def _checkpoint(self, epoch: int, batch: int) -> Path:
        """Checkpoint the state before batch ``batch`` of (0-based) ``epoch``; return its path."""
        self._check_weights(epoch + 1 if batch else epoch)
        position = {**self.state, "epoch": epoch, "batch": batch}
        self.log.write_csv(self.ctx.dir / "losses.csv")
        self.last = save_checkpoint(
            self.folder,
            self.state["step"],
            self.nets.modules,
            self.nets.optimizers,
            position,
            self.o.keep_checkpoints,
        )
        return self.last

    def _check_weights(self, epoch: int) -> None:
        """Raise DivergenceError if a weight of G or D is NaN/inf (``epoch`` 1-based, for the message)."""
        if not all_finite(self.nets.generator, self.nets.discriminator):
            raise self._diverged("a weight (NaN/inf)", epoch)

    def _rate(self) -> float:
        return self.state["images"] / self.state["seconds"] if self.state["seconds"] > 0 else 0.0

    def _diverged(self, what: str, epoch: int) -> DivergenceError:
        where = f"last good checkpoint: {self.last}" if self.last else "no checkpoint was written yet"
        return DivergenceError(
            f"stage {self.ctx.name!r} diverged: {what} at epoch {epoch}, step {self.state['step']}; "
            f"{where}. Lower the learning rates or change the loss, then run again."
        )
