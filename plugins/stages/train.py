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

from typing import Any

import attrs
from torch import nn

from ganaug.api.context import StageContext
from ganaug.api.interfaces import ImageSet, StageOutput
from ganaug.api.options import ComponentRef, component, components, option
from ganaug.api.selection import ImageSelection
from ganaug.api.validators import at_least_one, betas, finite_positive
from ganaug.kit.training.data_parallel import replicate, sync_from_main
from ganaug.kit.training.epochs import Mix
from ganaug.kit.training.trainer import Trainer
from ganaug.runtime.seeds import derive_seed
from ganaug_plugins.stages import work
from ganaug_plugins.stages.conversion import CopyMonitor
from ganaug_plugins.stages.gan_step import GanStep
from ganaug_plugins.stages.loss_log import LossLog
from ganaug_plugins.stages.train_files import (
    Networks,
    SampleSheet,
    restore_model,
    trained_model,
    update_ema,
    write_final,
)


def _decay(_: object, attribute: attrs.Attribute, value: float | None) -> None:
    if value is not None and not 0.0 < value < 1.0:
        raise ValueError(f"must be in (0, 1) or unset (EMA off), got {value}")


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
    epochs: int = option(150, validator=at_least_one, help="passes over the training images")
    batch_size: int = option(16, validator=at_least_one, help="images per step (per rank under torchrun)")
    lr_d: float = option(4e-4, validator=finite_positive, help="Adam learning rate of D")
    lr_g: float = option(1e-4, validator=finite_positive, help="Adam learning rate of G")
    betas_d: tuple[float, float] = option((0.5, 0.999), validator=betas, help="Adam betas of D")
    betas_g: tuple[float, float] = option((0.5, 0.999), validator=betas, help="Adam betas of G")
    checkpoint_every: int = option(
        10, validator=at_least_one, help="epochs between checkpoints (the last epoch always writes one)"
    )
    keep_checkpoints: int = option(
        2, validator=at_least_one, help="checkpoints kept on disk (older ones are removed)"
    )
    sample_every: int = option(
        5, validator=at_least_one, help="epochs between sample grids (the last epoch always writes one)"
    )
    samples: int = option(
        16, validator=at_least_one, help="images per sample grid (fixed z and conditioning images)"
    )
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


class _Training(Trainer):
    """One session of the train stage on the trainer skeleton: G, D, their losses and optimisers,
    the EMA, sample grids and the copy monitor."""

    finite = ("d_loss", "g_loss")
    advice = "Lower the learning rates or change the loss, then run again."

    def __init__(self, ctx: StageContext, options: TrainOptions) -> None:
        self.o = options
        images = ctx.select(options.data)
        seed = derive_seed(ctx.seed, "train", ctx.name)
        self.nets = Networks.build(ctx, options, images.spec, seed)
        super().__init__(
            ctx, images, seed=seed, epochs=options.epochs, batch_size=options.batch_size,
            latent_dim=self.nets.latent_dim, drop_last=options.drop_last,
            checkpoint_every=options.checkpoint_every, keep_checkpoints=options.keep_checkpoints,
            mix=self._mix(ctx, options, images),
        )  # fmt: skip
        self.sheet: SampleSheet | None = None
        self.monitor: CopyMonitor | None = None

    @staticmethod
    def _mix(ctx: StageContext, options: TrainOptions, images: ImageSet) -> Mix | None:
        """The fixed share of added images per batch, when ``added_share`` asks for one."""
        if options.added_share is None:
            return None
        real = len(ctx.select(attrs.evolve(options.data, add=[])))
        global_batch = options.batch_size * ctx.world.size
        return Mix.of(ctx.name, real, len(images), options.added_share, global_batch)

    def modules(self) -> dict[str, Any]:
        return self.nets.modules

    def optimizers(self) -> dict[str, Any]:
        return self.nets.optimizers

    def watched(self) -> tuple[nn.Module, ...]:
        return (self.nets.generator, self.nets.discriminator)

    def new_log(self) -> LossLog:
        return LossLog(extras=self.nets.figure_names())

    def make_step(self) -> GanStep:
        """The training step on DDP replicas of G and D (bare modules in one process), and what the
        epochs' ends show: sample grids and, for a conditional G, the copy monitor."""
        ctx, o, nets = self.ctx, self.o, self.nets
        g = replicate(nets.generator, ctx.world, ctx.device)
        d = replicate(nets.discriminator, ctx.world, ctx.device)
        ctx.log.info(
            "batch %d per rank x %d rank(s) = effective batch %d, %d steps per epoch; lr_g %g, lr_d %g",
            o.batch_size, ctx.world.size, o.batch_size * ctx.world.size, self.steps, o.lr_g, o.lr_d,
        )  # fmt: skip
        step = GanStep(
            g, d, nets.loss, nets.weighter, nets.opt_g, nets.opt_d, nets.augmenters, nets.regularizers,
            seed=self.seed, first_step=self.at.step, world=ctx.world,
        )  # fmt: skip
        if not nets.generator.conditional and o.weighter.name != "none":
            ctx.log.info(
                "generator %r is unconditional, yet weighter %r applies", o.generator.name, o.weighter.name
            )
        self.sheet = SampleSheet.make(
            ctx.dir / "samples", self.images, nets.final_generator, o.samples, self.seed, ctx.device
        )
        if nets.generator.conditional:
            self.monitor = CopyMonitor(self.images.images, derive_seed(self.seed, "monitor"))
        return step

    def after_step(self) -> None:
        if self.nets.generator_ema is not None and self.o.ema_decay is not None:
            update_ema(
                self.nets.generator_ema, self.nets.generator, self.o.ema_decay, self.at.step, self.o.ema_start
            )

    def epoch_figures(self, done: int) -> dict[str, float]:
        if self.monitor is not None:
            self.log.annotate(self.monitor.measure(self.nets.generator))
        return self.log.epoch_mean(done)

    def bar(self, stats: dict[str, float]) -> dict[str, float]:
        return {"d": stats["d_loss"], "g": stats["g_loss"]}

    def end_epoch(self, done: int, means: dict[str, float]) -> None:
        ctx, o = self.ctx, self.o
        copying = (
            f"; copy SSIM {means['copy_ssim']:.3f}, z-diversity SSIM {means['z_diversity_ssim']:.3f}"
            if "copy_ssim" in means
            else ""
        )
        copying += "".join(f"; {k} {means[k]:.4g}" for k in self.log.extras if k in means)
        ctx.log.info(
            "epoch %d/%d: d_loss %.4f g_loss %.4f weight %.3f (%.1f images/s)%s",
            done, o.epochs, means["d_loss"], means["g_loss"], means["weight"], self.rate(), copying,
        )  # fmt: skip
        if self.sheet is not None and (done % o.sample_every == 0 or done == o.epochs):
            ctx.track.image(f"{ctx.name}/samples", done, self.sheet.write(done))

    def run(self) -> StageOutput:
        ctx, o = self.ctx, self.o
        last = self.train()
        final = self.log.epoch_mean(o.epochs)
        metrics = {
            **{
                k: final[k]
                for k in ("d_loss", "g_loss", "weight", "copy_ssim", "z_diversity_ssim")
                if k in final
            },
            **{k: final[k] for k in self.log.extras if k in final},
            **self.summary(),
        }
        for module in (self.nets.generator, self.nets.discriminator, self.nets.generator_ema):
            if module is not None:
                sync_from_main(module, ctx.world)  # every rank hands on rank 0's (saved) networks
        assert isinstance(self.log, LossLog) and self.sheet is not None
        info, files = write_final(ctx.dir, self.nets, self.images, last, metrics, self.log)
        mean = self.images.images.mean(dim=0)
        nets = self.nets
        model = trained_model(ctx, info, nets.final_generator, nets.discriminator, mean, self.o.data)
        return StageOutput(model=model, metrics=metrics, files=[*files, *self.sheet.files(), last])
