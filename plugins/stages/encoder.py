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

import contextlib
from typing import Any

import attrs
import torch
from torch.optim import Adam

from ganaug.api.context import StageContext
from ganaug.api.interfaces import StageOutput, TrainedModel
from ganaug.api.networks import frozen
from ganaug.api.options import ComponentRef, component, option, stage_ref
from ganaug.api.selection import ImageSelection
from ganaug.api.validators import at_least_one, betas, finite_positive
from ganaug.kit.training.data_parallel import replicate, sync_from_main
from ganaug.kit.training.trainer import Trainer
from ganaug.runtime.device import generator_for
from ganaug.runtime.errors import CheckpointError, DataError
from ganaug.runtime.seeds import derive_seed
from ganaug_plugins.stages import work
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
    epochs: int = option(50, validator=at_least_one, help="passes over the images")
    batch_size: int = option(32, validator=at_least_one, help="images per step (per rank under torchrun)")
    lr: float = option(2e-4, validator=finite_positive, help="Adam learning rate of E")
    betas: tuple[float, float] = option((0.5, 0.999), validator=betas, help="Adam betas of E")
    checkpoint_every: int = option(
        10, validator=at_least_one, help="epochs between checkpoints (the last epoch always writes one)"
    )
    keep_checkpoints: int = option(
        2, validator=at_least_one, help="checkpoints kept on disk (older ones are removed)"
    )
    sample_every: int = option(
        10,
        validator=at_least_one,
        help="epochs between reconstruction grids (the last epoch always writes one)",
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


class _EncoderTraining(Trainer):
    """One session of the encoder stage on the trainer skeleton: E and its optimiser on a frozen
    G and D, reconstruction grids at the epochs' ends."""

    finite = ("loss",)
    advice = "Lower lr, then run again."

    def __init__(self, ctx: StageContext, options: EncoderStageOptions, base: TrainedModel) -> None:
        self.o, self.base = options, base
        images = ctx.select(options.data)
        if images.spec != base.image:
            raise DataError(
                f"stage {ctx.name!r}: its images are {images.spec.shape}, model {options.model!r} "
                f"makes {base.image.shape}"
            )
        seed = derive_seed(ctx.seed, "encoder", ctx.name)
        self.latent_dim = int(base.generator.latent_dim)
        super().__init__(
            ctx, images, seed=seed, epochs=options.epochs, batch_size=options.batch_size,
            latent_dim=self.latent_dim, drop_last=options.drop_last,
            checkpoint_every=options.checkpoint_every, keep_checkpoints=options.keep_checkpoints,
        )  # fmt: skip
        base.generator.to(ctx.device)
        base.discriminator.to(ctx.device)
        self.encoder = build_encoder(ctx, options.encoder, base.image, self.latent_dim, seed)
        self.encoder.train()
        self.optimizer = Adam(self.encoder.parameters(), lr=options.lr, betas=tuple(options.betas))
        self.shown: Reconstructions | None = None

    def modules(self) -> dict[str, Any]:
        return {"encoder": self.encoder}

    def optimizers(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer}

    def new_log(self) -> EncoderLog:
        return EncoderLog()

    def during(self) -> contextlib.AbstractContextManager[Any]:
        return frozen(self.base.generator, self.base.discriminator)

    def make_step(self) -> EncoderStep:
        ctx, o, base = self.ctx, self.o, self.base
        encoder = replicate(self.encoder, ctx.world, ctx.device)
        step = EncoderStep(
            encoder, base.generator, base.discriminator, self.optimizer, o.loss, o.feature_weight
        )
        pick = torch.randperm(len(self.images), generator=generator_for(derive_seed(self.seed, "pick")))
        shown = self.images.images[pick[: o.samples]].to(ctx.device)
        self.shown = Reconstructions(ctx.dir / "samples", shown)
        ctx.log.info(
            "encoder for %s: %s loss, %d images, batch %d per rank x %d rank(s), %d steps per epoch",
            o.model, o.loss, len(self.images), o.batch_size, ctx.world.size, self.steps,
        )  # fmt: skip
        return step

    def end_epoch(self, done: int, means: dict[str, float]) -> None:
        ctx, o = self.ctx, self.o
        ctx.log.info(
            "epoch %d/%d: loss %.5f (residual %.5f, feature %.5f)",
            done, o.epochs, means["loss"], means["residual"], means["feature"],
        )  # fmt: skip
        if self.shown is not None and o.samples and (done % o.sample_every == 0 or done == o.epochs):
            grid = self.shown.write(done, self.encoder, self.base.generator)
            ctx.track.image(f"{ctx.name}/reconstructions", done, grid)

    def run(self) -> StageOutput:
        ctx, o, base = self.ctx, self.o, self.base
        last = self.train()
        sync_from_main(self.encoder, ctx.world)
        metrics = {**self.log.epoch_mean(o.epochs), **self.summary()}
        info = {
            "image": {"channels": base.image.channels, "size": base.image.size},
            "latent_dim": self.latent_dim,
            "model": o.model,
            "loss": o.loss,
            "metrics": metrics,
            "checkpoint": str(last.relative_to(ctx.dir)),
            "images": len(self.images),
        }
        assert isinstance(self.log, EncoderLog) and self.shown is not None
        files = write_final(ctx.dir, self.encoder, info, self.log)
        model = encoded_model(ctx, base, self.encoder, last)
        return StageOutput(model=model, metrics=metrics, files=[*files, *self.shown.files(), last])
