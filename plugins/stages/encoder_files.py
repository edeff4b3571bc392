"""What the encoder stage writes and reads back: its loss log, reconstruction grids, final files.

Final files: ``encoder.safetensors`` and ``encoder.json`` (image shape, latent size, the model stage
it encodes for, metrics, last checkpoint), with ``losses.csv``/``losses.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import safetensors.torch
import torch
from torch import Tensor, nn

from ganaug.api.context import StageContext
from ganaug.api.interfaces import ImageSpec, TrainedModel
from ganaug.api.networks import generate
from ganaug.api.options import ComponentRef
from ganaug.kit.imaging import save_grid
from ganaug.kit.training.step_log import StepLog
from ganaug.runtime.errors import CheckpointError, DataError
from ganaug.runtime.io import read_json, save_figure, write_json, write_tensors
from ganaug.runtime.seeds import derive_seed
from ganaug_plugins.stages.encoder_step import STATS

INFO, WEIGHTS = "encoder.json", "encoder.safetensors"
FIELDS = ("epoch", "step", *STATS)


def build_encoder(
    ctx: StageContext, ref: ComponentRef, image: ImageSpec, latent_dim: int, seed: int
) -> nn.Module:
    """E for ``image`` and ``latent_dim``, initialised from its own seed, checked on one batch."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, "init"))
        try:
            encoder = ctx.build(ref, image=image, latent_dim=latent_dim)
        except ValueError as exc:
            raise DataError(
                f"stage {ctx.name!r}: encoder {ref.name!r} cannot take {image.channels}x{image.size}x"
                f"{image.size} images: {exc}"
            ) from None
        was_training = encoder.training
        encoder.eval()
        with torch.no_grad():
            out = encoder(torch.zeros(2, *image.shape))
        encoder.train(was_training)
    if tuple(out.shape) != (2, latent_dim):
        raise DataError(
            f"stage {ctx.name!r}: encoder {ref.name!r} gives codes of shape {tuple(out.shape)} for 2 "
            f"images, expected (2, {latent_dim})"
        )
    return encoder.to(ctx.device)


@attrs.define
class EncoderLog(StepLog):
    """The encoder stage's :class:`StepLog`: :data:`FIELDS`, one row per training step."""

    step_fields: tuple[str, ...] = STATS

    def plot(self, path: Path) -> Path:
        """The loss and its two terms per step."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(8, 4), layout="constrained")
        ax = fig.subplots()
        steps = [r["step"] for r in self.rows]
        for key, color in (("loss", "tab:blue"), ("residual", "tab:orange"), ("feature", "tab:green")):
            ax.plot(steps, [r[key] for r in self.rows], color=color, lw=0.8, label=key)
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title("encoder training")
        ax.legend(loc="upper right")
        return save_figure(fig, path, dpi=100)


@attrs.define
class Reconstructions:
    """Fixed images and their reconstructions G(E(x)) per epoch, so successive grids compare."""

    folder: Path
    images: Tensor

    def write(self, epoch: int, encoder: nn.Module, generator: nn.Module) -> Path:
        was_training = encoder.training
        encoder.eval()
        with torch.no_grad():
            out = generate(generator, encoder(self.images), self.images)
        encoder.train(was_training)
        return save_grid(
            torch.cat([self.images, out]), self.folder / f"epoch-{epoch:04d}.png", len(self.images)
        )

    def files(self) -> list[Path]:
        return sorted(self.folder.glob("*.png"))


def write_final(folder: Path, encoder: nn.Module, info: dict[str, Any], log: EncoderLog) -> list[Path]:
    """The encoder's weights, its loss table and plot, and ``encoder.json``."""
    files = [write_tensors(folder / WEIGHTS, encoder.state_dict()), log.write_csv(folder / "losses.csv")]
    if log.rows:
        files.append(log.plot(folder / "losses.png"))
    files.append(write_json(folder / INFO, info))
    return files


def read_info(folder: Path) -> dict[str, Any]:
    info = read_json(folder / INFO)
    if not all(k in info for k in ("image", "latent_dim", "metrics")):
        raise CheckpointError(f"{folder / INFO} lacks 'image', 'latent_dim' or 'metrics'")
    return info


def load_weights(encoder: nn.Module, folder: Path) -> None:
    try:
        encoder.load_state_dict(safetensors.torch.load_file(folder / WEIGHTS))
    except Exception as exc:  # missing, damaged, or not this recipe's encoder
        raise CheckpointError(f"cannot load {folder / WEIGHTS} into this recipe's encoder: {exc}") from None


def encoded_model(
    ctx: StageContext, base: TrainedModel, encoder: nn.Module, checkpoint: Path | None
) -> TrainedModel:
    """The model this stage hands on: the base model's G and D (shared, eval mode) with the encoder."""
    return TrainedModel(
        name=ctx.name,
        generator=base.generator.eval(),
        discriminator=base.discriminator.eval(),
        image=base.image,
        checkpoint=checkpoint,
        train_mean=base.train_mean,
        encoder=encoder.eval(),
        train_data=base.train_data,
    )
