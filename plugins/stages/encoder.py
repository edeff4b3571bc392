"""The encoder stage: trains an encoder E(x) -> z on a trained, frozen G/D pair (f-AnoGAN's izi_f).

Its model is the named model stage's G and D with the encoder added (``TrainedModel.encoder``), so a
later evaluate or augment stage that names it can search from ``z = E(x)`` (the ``encoder``
searcher). Writes ``checkpoints/`` (resumable, as the train stage's), ``samples/epoch-NNNN.png``
(fixed images over their reconstructions G(E(x))), ``losses.csv``/``losses.png``, and the final
``encoder.safetensors`` with ``encoder.json``.

Data order and noise come from seeds derived per epoch and per step, so a run resumed from any
checkpoint ends with the same encoder, bit for bit on the CPU, as one that never stopped. Under
``torchrun`` ``batch_size`` is per rank, as in the train stage.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import attrs
import torch
from torch.optim import Adam

from ganaug.api.context import StageContext
from ganaug.api.interfaces import ImageSet, StageOutput, TrainedModel
from ganaug.api.networks import frozen
from ganaug.api.options import ComponentRef, component, option, stage_ref
from ganaug.api.selection import ImageSelection
from ganaug.api.validators import finite_positive
from ganaug.runtime.device import generator_for
from ganaug.runtime.errors import CheckpointError, DataError, DivergenceError
from ganaug.runtime.seeds import derive_seed
from ganaug_plugins.stages import work
from ganaug_plugins.stages.checkpoint import (
    save_checkpoint,
)
from ganaug_plugins.stages.data_parallel import replicate, sync_from_main
from ganaug_plugins.stages.encoder_files import (
    EncoderLog,
    Reconstructions,
    build_encoder,
    encoded_model,
    load_weights,
    read_info,
    write_final,
)
from ganaug_plugins.stages.encoder_step import EncoderLoss, EncoderStep
from ganaug_plugins.stages.gan_step import all_finite
from ganaug_plugins.stages.interrupt import DeferredInterrupt
from ganaug_plugins.stages.loop import (
    Epochs,
    diverged,
    fresh_position,
    restore_latest,
    steps_per_epoch,
)

_GE1 = attrs.validators.ge(1)


def _betas(_: object, attribute: attrs.Attribute, value: tuple[float, float]) -> None:
    if not all(0.0 <= b < 1.0 for b in value):
        raise ValueError(f"both betas must be in [0, 1), got {list(value)}")


@attrs.frozen
class EncoderStageOptions:
    """Options of the encoder stage; defaults follow f-AnoGAN (izi_f, k = 1, Adam)."""

    model: str = stage_ref("model", help="the train stage whose frozen G and D the encoder learns to invert")
    data: ImageSelection = option(
        factory=ImageSelection, help="the images E learns to encode (the model's training images)"
    )
    encoder: ComponentRef = component("encoders", "dcgan", help="the encoder network E and its options")
    loss: EncoderLoss = option(
        "izi_f",
        help="izi_f: mean (x - G(E(x)))^2 + k * mean (f(x) - f(G(E(x))))^2 (f-AnoGAN); izi: the first "
        "term; ziz: mean (z - E(G(z)))^2 on generated images",
    )
    feature_weight: float = option(
        1.0, validator=attrs.validators.ge(0.0), help="k, the weight of izi_f's discriminator-feature term"
    )
    epochs: int = option(50, validator=_GE1, help="passes over the images")
    batch_size: int = option(32, validator=_GE1, help="images per step (per rank under torchrun)")
    lr: float = option(2e-4, validator=finite_positive, help="Adam learning rate of E")
    betas: tuple[float, float] = option((0.5, 0.999), validator=_betas, help="Adam betas of E")
    checkpoint_every: int = option(
        10, validator=_GE1, help="epochs between checkpoints (the last epoch always writes one)"
    )
    keep_checkpoints: int = option(
        2, validator=_GE1, help="checkpoints kept on disk (older ones are removed)"
    )
    sample_every: int = option(
        10, validator=_GE1, help="epochs between reconstruction grids (the last epoch always writes one)"
    )
    samples: int = option(
        16, validator=attrs.validators.ge(0), help="images shown over their reconstructions G(E(x)) (0: none)"
    )
    drop_last: bool = option(True, help="drop the last batch of an epoch when it is not full")


class EncoderStage:
    """Trains E with G and D frozen; resumable, bit for bit on the CPU; hands on G, D and E."""

    produces = frozenset({"model"})

    def __init__(self, options: EncoderStageOptions) -> None:
        self.options = options

    def work(self, ctx: StageContext) -> float:
        """Epochs x training images, for the run's time-left estimate."""
        return work.training(ctx, self.options.data, self.options.epochs)

    def run(self, ctx: StageContext) -> StageOutput:
        return _EncoderTraining(ctx, self.options, _base(ctx, self.options.model)).run()

    def restore(self, ctx: StageContext) -> StageOutput:
        """Rebuild the model from the encoder's final files and the named model stage's output."""
        base = _base(ctx, self.options.model)
        info = read_info(ctx.dir)
        latent_dim = int(info["latent_dim"])
        if latent_dim != int(base.generator.latent_dim):
            raise CheckpointError(
                f"{ctx.dir}: the encoder was trained for codes of {latent_dim} numbers, the generator of "
                f"{self.options.model!r} takes {int(base.generator.latent_dim)}"
            )
        encoder = build_encoder(ctx, self.options.encoder, base.image, latent_dim, 0)
        load_weights(encoder, ctx.dir)
        checkpoint = ctx.dir / info["checkpoint"] if isinstance(info.get("checkpoint"), str) else None
        return StageOutput(model=encoded_model(ctx, base, encoder, checkpoint), metrics=info["metrics"])


def _base(ctx: StageContext, name: str) -> TrainedModel:
    model = ctx.outputs[name].model if name in ctx.outputs else None
    if model is None:
        raise DataError(f"stage {ctx.name!r}: stage {name!r} produced no model (or was not loaded)")
    return model


class _EncoderTraining:
    """One session of the encoder stage: fresh, or continuing from the latest checkpoint."""

    def __init__(self, ctx: StageContext, options: EncoderStageOptions, base: TrainedModel) -> None:
        self.ctx, self.o, self.base = ctx, options, base
        self.images: ImageSet = ctx.select(options.data)
        if self.images.spec != base.image:
            raise DataError(
                f"stage {ctx.name!r}: its images are {self.images.spec.shape}, model {options.model!r} "
                f"makes {base.image.shape}"
            )
        self.steps = steps_per_epoch(
            ctx.name, len(self.images), options.batch_size, ctx.world, options.drop_last
        )
        self.seed = derive_seed(ctx.seed, "encoder", ctx.name)
        self.latent_dim = int(base.generator.latent_dim)
        self.epochs = Epochs(
            self.images, self.seed, self.steps, options.batch_size, self.latent_dim, ctx.world, ctx.device
        )
        base.generator.to(ctx.device)
        base.discriminator.to(ctx.device)
        self.encoder = build_encoder(ctx, options.encoder, base.image, self.latent_dim, self.seed)
        self.encoder.train()
        self.optimizer = Adam(self.encoder.parameters(), lr=options.lr, betas=tuple(options.betas))
        self.folder = ctx.dir / "checkpoints"
        self.state: dict[str, Any] = fresh_position()
        self.log = EncoderLog()
        self.last: Path | None = None

    def run(self) -> StageOutput:
        ctx, o, base = self.ctx, self.o, self.base
        if ctx.resume:
            self._resume()
        encoder = replicate(self.encoder, ctx.world, ctx.device)
        step = EncoderStep(
            encoder, base.generator, base.discriminator, self.optimizer, o.loss, o.feature_weight
        )
        pick = torch.randperm(len(self.images), generator=generator_for(derive_seed(self.seed, "pick")))
        shown = Reconstructions(ctx.dir / "samples", self.images.images[pick[: o.samples]].to(ctx.device))
        ctx.log.info(
            "encoder for %s: %s loss, %d images, batch %d per rank x %d rank(s), %d steps per epoch",
            o.model, o.loss, len(self.images), o.batch_size, ctx.world.size, self.steps,
        )  # fmt: skip
        with (
            frozen(base.generator, base.discriminator),
            DeferredInterrupt() as interrupt,
            ctx.progress.task(f"{ctx.name} epochs", total=o.epochs) as bar,
        ):
            bar.advance(self.state["epoch"])
            for epoch in range(self.state["epoch"], o.epochs):
                stopping = self._epoch(step, epoch, interrupt)
                done = epoch + 1
                means = self.log.epoch_mean(done)
                ctx.log.info(
                    "epoch %d/%d: loss %.5f (residual %.5f, feature %.5f)",
                    done, o.epochs, means["loss"], means["residual"], means["feature"],
                )  # fmt: skip
                bar.advance(1, loss=means["loss"])
                ctx.track.scalars(ctx.name, done, means)
                if o.samples and (done % o.sample_every == 0 or done == o.epochs):
                    ctx.track.image(
                        f"{ctx.name}/reconstructions", done, shown.write(done, self.encoder, base.generator)
                    )
                if stopping or done % o.checkpoint_every == 0 or done == o.epochs:
                    self._checkpoint(done, 0)
                else:
                    self.log.write_csv(ctx.dir / "losses.csv")
                if stopping:
                    ctx.log.warning("interrupted; checkpoint written: %s", self.last)
                    raise KeyboardInterrupt
        last = self.last or self._checkpoint(o.epochs, 0)
        sync_from_main(self.encoder, ctx.world)
        final = self.log.epoch_mean(o.epochs)
        metrics = {
            **final,
            "images_per_s": self.state["images"] / self.state["seconds"] if self.state["seconds"] else 0.0,
            "epochs": o.epochs,
            "steps": self.state["step"],
            "train_seconds": self.state["seconds"],
        }
        info = {
            "image": {"channels": base.image.channels, "size": base.image.size},
            "latent_dim": self.latent_dim,
            "model": o.model,
            "loss": o.loss,
            "metrics": metrics,
            "checkpoint": str(last.relative_to(ctx.dir)),
            "images": len(self.images),
        }
        files = write_final(ctx.dir, self.encoder, info, self.log)
        model = encoded_model(ctx, base, self.encoder, last)
        return StageOutput(model=model, metrics=metrics, files=[*files, *shown.files(), last])

    def _epoch(self, step: EncoderStep, epoch: int, interrupt: DeferredInterrupt) -> bool:
        """Train one epoch from where the state stands; a Ctrl-C mid-epoch checkpoints and stops
        here, one at its last batch returns True so the epoch's end (reconstructions, checkpoint)
        runs first."""
        ctx, state = self.ctx, self.state
        with ctx.progress.task(f"{ctx.name} epoch {epoch + 1}", total=self.steps) as bar:
            bar.advance(state["batch"] if epoch == state["epoch"] else 0)
            stop = False
            for batch in self.epochs.batches(epoch, state):
                stats, stop = self.epochs.step(state, batch, step, interrupt)
                if not math.isfinite(stats["loss"]):
                    raise self._diverged(f"the loss ({stats['loss']})", epoch + 1)
                self.log.add(epoch + 1, state["step"], stats)
                bar.advance(1, loss=stats["loss"])
                if stop and batch.index + 1 < self.steps:
                    self._checkpoint(epoch, batch.index + 1)
                    ctx.log.warning("interrupted; checkpoint written: %s", self.last)
                    raise KeyboardInterrupt
        state["epoch"], state["batch"] = epoch + 1, 0
        return stop

    def _resume(self) -> None:
        found = restore_latest(
            self.ctx.name, self.folder, self.ctx.world, {"encoder": self.encoder},
            {"optimizer": self.optimizer}, (self.encoder,), self.o.epochs, self.steps,
        )  # fmt: skip
        if found is None:
            return
        self.last, self.state = found
        self.log = EncoderLog.read_csv(self.ctx.dir / "losses.csv", self.state["step"])
        self.ctx.log.info(
            "resuming from %s (epoch %d, batch %d)", self.last, self.state["epoch"] + 1, self.state["batch"]
        )

    def _checkpoint(self, epoch: int, batch: int) -> Path:
        """Checkpoint the state before batch ``batch`` of (0-based) ``epoch``; return its path."""
        if not all_finite(self.encoder):
            raise self._diverged("a weight (NaN/inf)", epoch + 1 if batch else epoch)
        position = {**self.state, "epoch": epoch, "batch": batch}
        self.log.write_csv(self.ctx.dir / "losses.csv")
        self.last = save_checkpoint(
            self.folder,
            self.state["step"],
            {"encoder": self.encoder},
            {"optimizer": self.optimizer},
            position,
            self.o.keep_checkpoints,
            world_size=self.ctx.world.size,
        )
        return self.last

    def _diverged(self, what: str, epoch: int) -> DivergenceError:
        return diverged(
            self.ctx.name, what, epoch, self.state["step"], self.last, "Lower lr, then run again."
        )
