"""The train stage: trains a generator/discriminator pair on selected images.

Writes under its folder: ``checkpoints/`` (resumable, see :mod:`.checkpoint`), sample grids
``samples/epoch-NNNN.png`` (fixed z and conditioning images), ``losses.csv``/``losses.png``, and
the final ``generator.safetensors``/``discriminator.safetensors`` with ``training.json``.

Generator EMA (``ema_decay``): an exponential moving average of G's parameters, updated after every
G step (BatchNorm buffers copied from G, not averaged), is saved in every checkpoint and is the
generator handed on, drawn in the sample grids and saved as ``generator.safetensors``; the raw G
goes to ``generator_raw.safetensors``.

Data order and noise come from seeds derived per epoch and per step, so a run resumed from any
checkpoint ends with the same weights, bit for bit on the CPU, as one that never stopped.

Under ``torchrun`` (see :mod:`.data_parallel` and docs/distributed.md) ``batch_size`` is per rank:
each step trains on a global batch of ``batch_size x world size`` images of the same permutation.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import attrs

from ganaug.api.context import StageContext
from ganaug.api.interfaces import ImageSet, StageOutput
from ganaug.api.options import ComponentRef, component, components, option
from ganaug.api.selection import ImageSelection
from ganaug.api.validators import finite_positive
from ganaug.runtime.errors import DivergenceError
from ganaug.runtime.seeds import derive_seed
from ganaug_plugins.stages import work
from ganaug_plugins.stages.checkpoint import (
    save_checkpoint,
)
from ganaug_plugins.stages.conversion import CopyMonitor
from ganaug_plugins.stages.data_parallel import replicate, sync_from_main
from ganaug_plugins.stages.gan_step import GanStep, all_finite
from ganaug_plugins.stages.interrupt import DeferredInterrupt
from ganaug_plugins.stages.loop import (
    Epochs,
    Mix,
    diverged,
    fresh_position,
    restore_latest,
    steps_per_epoch,
)
from ganaug_plugins.stages.loss_log import LossLog
from ganaug_plugins.stages.train_files import (
    Networks,
    SampleSheet,
    restore_model,
    trained_model,
    update_ema,
    write_final,
)


def _betas(_: object, attribute: attrs.Attribute, value: tuple[float, float]) -> None:
    if not all(0.0 <= b < 1.0 for b in value):
        raise ValueError(f"both betas must be in [0, 1), got {list(value)}")


def _decay(_: object, attribute: attrs.Attribute, value: float | None) -> None:
    if value is not None and not 0.0 < value < 1.0:
        raise ValueError(f"must be in (0, 1) or unset (EMA off), got {value}")


_GE1 = attrs.validators.ge(1)


@attrs.frozen
class TrainOptions:
    """Options of the train stage; defaults are the IAGAN paper's (Adam, batch 16, 150 epochs)."""

    data: ImageSelection = option(factory=ImageSelection, help="the training images")
    generator: ComponentRef = component("generators", "iagan", help="the generator G and its options")
    discriminator: ComponentRef = component(
        "discriminators", "iagan", help="the discriminator D and its options"
    )
    loss: ComponentRef = component("gan_losses", "least-squares", help="the adversarial loss of D and G")
    weighter: ComponentRef = component(
        "loss_weighters", "ssim", help="per-sample weights on G's loss (none: plain GAN / AnoGAN training)"
    )
    augmenters: list[ComponentRef] = components(
        "augmenters",
        help="differentiable transforms of every batch D sees, real and generated, applied in order "
        "(none: the paper's plain training)",
    )
    regularizers: list[ComponentRef] = components(
        "regularizers", help="terms added to D's loss (R1, LeCam; none: the paper's plain training)"
    )
    epochs: int = option(150, validator=_GE1, help="passes over the training images")
    batch_size: int = option(16, validator=_GE1, help="images per step (per rank under torchrun)")
    lr_d: float = option(4e-4, validator=finite_positive, help="Adam learning rate of D")
    lr_g: float = option(1e-4, validator=finite_positive, help="Adam learning rate of G")
    betas_d: tuple[float, float] = option((0.5, 0.999), validator=_betas, help="Adam betas of D")
    betas_g: tuple[float, float] = option((0.5, 0.999), validator=_betas, help="Adam betas of G")
    checkpoint_every: int = option(
        10, validator=_GE1, help="epochs between checkpoints (the last epoch always writes one)"
    )
    keep_checkpoints: int = option(
        2, validator=_GE1, help="checkpoints kept on disk (older ones are removed)"
    )
    sample_every: int = option(
        5, validator=_GE1, help="epochs between sample grids (the last epoch always writes one)"
    )
    samples: int = option(16, validator=_GE1, help="images per sample grid (fixed z and conditioning images)")
    drop_last: bool = option(True, help="drop the last batch of an epoch when it is not full")
    added_share: float | None = option(
        None,
        validator=attrs.validators.optional([attrs.validators.gt(0.0), attrs.validators.lt(1.0)]),
        help="share of every batch drawn from the images data.add brings, the rest real, an epoch "
        "being one pass over the real images (unset: all images shuffled together)",
    )
    ema_decay: float | None = option(
        None,
        validator=_decay,
        help="generator EMA decay in (0, 1), e.g. 0.999 (unset: off); the EMA generator is handed on and "
        "saved as generator.safetensors, the raw G as generator_raw.safetensors",
    )
    ema_start: int = option(
        0,
        validator=attrs.validators.ge(0),
        help="G steps before EMA averaging starts; until then the EMA copies G",
    )


class TrainStage:
    """Alternating D/G training with Adam; resumable, bit-for-bit on the CPU."""

    produces = frozenset({"model"})

    def __init__(self, options: TrainOptions) -> None:
        self.options = options

    def work(self, ctx: StageContext) -> float:
        """Epochs x training images, for the run's time-left estimate."""
        return work.training(ctx, self.options.data, self.options.epochs)

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
        self.mix = self._mix(ctx, options)
        if self.mix is None:
            self.steps = steps_per_epoch(
                ctx.name, len(self.images), options.batch_size, ctx.world, options.drop_last
            )
        else:
            global_batch = options.batch_size * ctx.world.size
            self.steps = self.mix.steps(ctx.name, global_batch, options.drop_last)
        self.seed = derive_seed(ctx.seed, "train", ctx.name)
        self.nets = Networks.build(ctx, options, self.images.spec, self.seed)
        self.epochs = Epochs(
            self.images,
            self.seed,
            self.steps,
            options.batch_size,
            self.nets.latent_dim,
            ctx.world,
            ctx.device,
            self.mix,
        )
        self.step: GanStep | None = None  # made in run(), after a resume loaded the weights
        self.folder = ctx.dir / "checkpoints"
        self.state: dict[str, Any] = fresh_position()
        self.log = LossLog(extras=self.nets.figure_names())
        self.last: Path | None = None

    def _mix(self, ctx: StageContext, options: TrainOptions) -> Mix | None:
        """The fixed share of added images per batch, when ``added_share`` asks for one."""
        if options.added_share is None:
            return None
        real = len(ctx.select(attrs.evolve(options.data, add=[])))
        global_batch = options.batch_size * ctx.world.size
        return Mix.of(ctx.name, real, len(self.images), options.added_share, global_batch)

    def _start(self) -> GanStep:
        """The training step on DDP replicas of G and D (bare modules in one process)."""
        ctx, o, nets = self.ctx, self.o, self.nets
        g = replicate(nets.generator, ctx.world, ctx.device)
        d = replicate(nets.discriminator, ctx.world, ctx.device)
        ctx.log.info(
            "batch %d per rank x %d rank(s) = effective batch %d, %d steps per epoch; lr_g %g, lr_d %g",
            o.batch_size, ctx.world.size, o.batch_size * ctx.world.size, self.steps, o.lr_g, o.lr_d,
        )  # fmt: skip
        return GanStep(
            g, d, nets.loss, nets.weighter, nets.opt_g, nets.opt_d, nets.augmenters, nets.regularizers,
            seed=self.seed, first_step=self.state["step"], world=ctx.world,
        )  # fmt: skip

    def run(self) -> StageOutput:
        ctx, o = self.ctx, self.o
        if ctx.resume:
            self._resume()
        self.step = self._start()
        if not self.nets.generator.conditional and o.weighter.name != "none":
            ctx.log.info(
                "generator %r is unconditional, yet weighter %r applies", o.generator.name, o.weighter.name
            )
        sheet = SampleSheet.make(
            ctx.dir / "samples", self.images, self.nets.final_generator, o.samples, self.seed, ctx.device
        )
        monitor = (
            CopyMonitor(self.images.images, derive_seed(self.seed, "monitor"))
            if self.nets.generator.conditional
            else None
        )
        with DeferredInterrupt() as interrupt, ctx.progress.task(f"{ctx.name} epochs", total=o.epochs) as bar:
            bar.advance(self.state["epoch"])
            for epoch in range(self.state["epoch"], o.epochs):
                stopping = self._epoch(epoch, interrupt)
                done = epoch + 1
                if monitor is not None:
                    self.log.annotate(monitor.measure(self.nets.generator))
                means = self.log.epoch_mean(done)
                copying = (
                    f"; copy SSIM {means['copy_ssim']:.3f}, z-diversity SSIM {means['z_diversity_ssim']:.3f}"
                    if "copy_ssim" in means
                    else ""
                )
                copying += "".join(f"; {k} {means[k]:.4g}" for k in self.log.extras if k in means)
                ctx.log.info(
                    "epoch %d/%d: d_loss %.4f g_loss %.4f weight %.3f (%.1f images/s)%s",
                    done, o.epochs, means["d_loss"], means["g_loss"], means["weight"], self._rate(), copying,
                )  # fmt: skip
                bar.advance(1, d=means["d_loss"], g=means["g_loss"])
                ctx.track.scalars(ctx.name, done, means)
                self._check_weights(done)
                if done % o.sample_every == 0 or done == o.epochs:
                    ctx.track.image(f"{ctx.name}/samples", done, sheet.write(done))
                if stopping or done % o.checkpoint_every == 0 or done == o.epochs:
                    self._checkpoint(done, 0)
                else:
                    self.log.write_csv(ctx.dir / "losses.csv")
                if stopping:
                    ctx.log.warning("interrupted; checkpoint written: %s", self.last)
                    raise KeyboardInterrupt
        final = self.log.epoch_mean(o.epochs)
        metrics = {
            **{
                k: final[k]
                for k in ("d_loss", "g_loss", "weight", "copy_ssim", "z_diversity_ssim")
                if k in final
            },
            **{k: final[k] for k in self.log.extras if k in final},
            "images_per_s": self._rate(),
            "epochs": o.epochs,
            "steps": self.state["step"],
            "train_seconds": self.state["seconds"],
        }
        last = self.last or self._checkpoint(o.epochs, 0)  # the last epoch has written one
        for module in (self.nets.generator, self.nets.discriminator, self.nets.generator_ema):
            if module is not None:
                sync_from_main(module, ctx.world)  # every rank hands on rank 0's (saved) networks
        info, files = write_final(ctx.dir, self.nets, self.images, last, metrics, self.log)
        mean = self.images.images.mean(dim=0)
        nets = self.nets
        model = trained_model(ctx, info, nets.final_generator, nets.discriminator, mean, self.o.data)
        return StageOutput(model=model, metrics=metrics, files=[*files, *sheet.files(), last])

    def _epoch(self, epoch: int, interrupt: DeferredInterrupt) -> bool:
        """Train one epoch from where the state stands; a Ctrl-C mid-epoch checkpoints and stops
        here, one at its last batch returns True so the epoch's end (monitor, checkpoint) runs first."""
        ctx, state = self.ctx, self.state
        assert self.step is not None
        with ctx.progress.task(f"{ctx.name} epoch {epoch + 1}", total=self.steps) as bar:
            bar.advance(state["batch"] if epoch == state["epoch"] else 0)
            stop = False
            for batch in self.epochs.batches(epoch, state):
                stats, stop = self.epochs.step(state, batch, self.step, interrupt)
                if self.nets.generator_ema is not None and self.o.ema_decay is not None:
                    update_ema(
                        self.nets.generator_ema, self.nets.generator, self.o.ema_decay, state["step"],
                        self.o.ema_start,
                    )  # fmt: skip
                for key in ("d_loss", "g_loss"):
                    if not math.isfinite(stats[key]):
                        raise self._diverged(f"{key} ({stats[key]})", epoch + 1)
                self.log.add(epoch + 1, state["step"], stats)
                bar.advance(1, d=stats["d_loss"], g=stats["g_loss"])
                if stop and batch.index + 1 < self.steps:
                    self._checkpoint(epoch, batch.index + 1)
                    ctx.log.warning("interrupted; checkpoint written: %s", self.last)
                    raise KeyboardInterrupt
        state["epoch"], state["batch"] = epoch + 1, 0
        return stop

    def _resume(self) -> None:
        nets = self.nets
        found = restore_latest(
            self.ctx.name, self.folder, self.ctx.world, nets.modules, nets.optimizers,
            (nets.generator, nets.discriminator), self.o.epochs, self.steps,
        )  # fmt: skip
        if found is None:
            return
        self.last, self.state = found
        self.log = LossLog.read_csv(self.ctx.dir / "losses.csv", self.state["step"], self.nets.figure_names())
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
            world_size=self.ctx.world.size,
        )
        return self.last

    def _check_weights(self, epoch: int) -> None:
        """Raise DivergenceError if a weight of G or D is NaN/inf (``epoch`` 1-based, for the message)."""
        if not all_finite(self.nets.generator, self.nets.discriminator):
            raise self._diverged("a weight (NaN/inf)", epoch)

    def _rate(self) -> float:
        return self.state["images"] / self.state["seconds"] if self.state["seconds"] > 0 else 0.0

    def _diverged(self, what: str, epoch: int) -> DivergenceError:
        advice = "Lower the learning rates or change the loss, then run again."
        return diverged(self.ctx.name, what, epoch, self.state["step"], self.last, advice)
