"""What the train stage builds and writes: networks and optimisers, sample grids, final files.

Final files: ``generator.safetensors``, ``discriminator.safetensors``, ``train_mean.safetensors``
and ``training.json`` (image shape, metrics, last checkpoint), enough to rebuild the model. With
generator EMA on, ``generator.safetensors`` holds the EMA generator (the one handed on) and
``generator_raw.safetensors`` the trained G itself.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import attrs
import safetensors.torch
import torch
from torch import Tensor, nn
from torch.optim import Adam, Optimizer

from ganaug.api.capabilities import ReportsFigures
from ganaug.api.context import StageContext
from ganaug.api.interfaces import ImageSet, ImageSpec, TrainedModel
from ganaug.api.selection import ImageSelection
from ganaug.kit.imaging import save_grid
from ganaug.kit.training.checkpoint import stateful
from ganaug.kit.training.epochs import noise
from ganaug.runtime.errors import CheckpointError, DataError, PluginError
from ganaug.runtime.io import read_json, write_json, write_tensors
from ganaug.runtime.seeds import derive_seed
from ganaug_plugins.stages.loss_log import FIELDS, LossLog

TRAINING = "training.json"


def build_networks(
    ctx: StageContext, options: Any, image: ImageSpec, seed: int
) -> tuple[nn.Module, nn.Module]:
    """G and D for ``image``, initialised from their own seed (not the global RNG's position)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(derive_seed(seed, "init"))
        try:
            generator, discriminator = ctx.build_networks(options.generator, options.discriminator, image)
        except ValueError as exc:
            raise DataError(
                f"stage {ctx.name!r}: {options.generator.name!r}/{options.discriminator.name!r} "
                f"cannot take {image.channels}x{image.size}x{image.size} images: {exc}"
            ) from None
    return generator.to(ctx.device), discriminator.to(ctx.device)


def ema_copy(generator: nn.Module) -> nn.Module:
    """A frozen copy of G that :func:`update_ema` keeps as G's exponential moving average."""
    ema = copy.deepcopy(generator)
    ema.requires_grad_(False)
    return ema


def update_ema(ema: nn.Module, generator: nn.Module, decay: float, step: int, start: int) -> None:
    """After G's optimiser step ``step`` (1-based): ``ema = decay * ema + (1 - decay) * G`` for
    each parameter, or a plain copy of G while ``step <= start``. Buffers (BatchNorm running
    statistics and counts) are always copied from G, not averaged."""
    with torch.no_grad():
        ema_params, params = list(ema.parameters()), [p.detach() for p in generator.parameters()]
        if step <= start:
            torch._foreach_copy_(ema_params, params)
        else:
            torch._foreach_mul_(ema_params, decay)
            torch._foreach_add_(ema_params, params, alpha=1.0 - decay)
        for mine, theirs in zip(ema.buffers(), generator.buffers(), strict=True):
            mine.copy_(theirs)


@attrs.define
class Networks:
    """The live training objects: G, D, their Adam optimisers, the loss and the weighter, and
    the EMA copy of G when generator EMA is on (``ema_decay`` set)."""

    generator: nn.Module
    discriminator: nn.Module
    opt_g: Optimizer
    opt_d: Optimizer
    loss: Any
    weighter: Any
    generator_ema: nn.Module | None = None
    augmenters: list[Any] = attrs.Factory(list)
    regularizers: list[Any] = attrs.Factory(list)

    @classmethod
    def build(cls, ctx: StageContext, options: Any, image: ImageSpec, seed: int) -> Networks:
        generator, discriminator = build_networks(ctx, options, image, seed)
        generator.train()
        discriminator.train()
        opt_g = Adam(generator.parameters(), lr=options.lr_g, betas=tuple(options.betas_g))
        opt_d = Adam(discriminator.parameters(), lr=options.lr_d, betas=tuple(options.betas_d))
        ema = ema_copy(generator) if options.ema_decay is not None else None
        return cls(
            generator, discriminator, opt_g, opt_d, ctx.build(options.loss), ctx.build(options.weighter), ema,
            [ctx.build(ref) for ref in options.augmenters], [ctx.build(ref) for ref in options.regularizers],
        )  # fmt: skip

    def figure_names(self) -> tuple[str, ...]:
        """The ``losses.csv`` columns the augmenters' and regularizers' own figures add, in order."""
        names: list[str] = []
        for component in (*self.augmenters, *self.regularizers):
            if isinstance(component, ReportsFigures):
                for name in component.figures():
                    if name in names or name in FIELDS:
                        raise PluginError(
                            f"{type(component).__name__} reports a figure {name!r} that another "
                            "component or the losses already write: figure names must be unique"
                        )
                    names.append(name)
        return tuple(names)

    @property
    def final_generator(self) -> nn.Module:
        """The generator the stage hands on and saves as ``generator.safetensors``: the EMA copy
        when EMA is on, else G."""
        return self.generator if self.generator_ema is None else self.generator_ema

    @property
    def latent_dim(self) -> int:
        return int(self.generator.latent_dim)

    @property
    def modules(self) -> dict[str, Any]:
        """What a checkpoint saves besides the optimisers: G, D, G's EMA copy when on, and a loss or
        weighter with state."""
        found = {"generator": self.generator, "discriminator": self.discriminator}
        if self.generator_ema is not None:
            found["generator_ema"] = self.generator_ema
        found.update({k: v for k, v in (("loss", self.loss), ("weighter", self.weighter)) if stateful(v)})
        found.update({f"augmenter_{i}": a for i, a in enumerate(self.augmenters) if stateful(a)})
        found.update({f"regularizer_{i}": r for i, r in enumerate(self.regularizers) if stateful(r)})
        return found

    @property
    def optimizers(self) -> dict[str, Optimizer]:
        return {"optimizer_g": self.opt_g, "optimizer_d": self.opt_d}


@attrs.define
class SampleSheet:
    """Fixed noise and conditioning images, so the grids of successive epochs are comparable."""

    folder: Path
    generator: nn.Module
    z: Tensor
    conditioning: Tensor | None

    @classmethod
    def make(
        cls, folder: Path, images: ImageSet, generator: nn.Module, count: int, seed: int, device: torch.device
    ) -> SampleSheet:
        count = min(count, len(images))
        z = noise(derive_seed(seed, "samples"), count, int(generator.latent_dim), device)
        conditioning = None
        if generator.conditional:
            pick = torch.randperm(
                len(images), generator=torch.Generator().manual_seed(derive_seed(seed, "pick"))
            )
            conditioning = images.images[pick[:count]].to(device)
            save_grid(conditioning, folder / "conditioning.png")
        return cls(folder, generator, z, conditioning)

    def write(self, epoch: int) -> Path:
        was_training = self.generator.training
        self.generator.eval()
        with torch.no_grad():
            out = (
                self.generator(self.z, self.conditioning)
                if self.conditioning is not None
                else self.generator(self.z)
            )
        self.generator.train(was_training)
        return save_grid(out, self.folder / f"epoch-{epoch:04d}.png")

    def files(self) -> list[Path]:
        """Every grid in the folder, including those of an earlier (interrupted) session."""
        return sorted(self.folder.glob("*.png"))


def _save_tensors(tensors: dict[str, Tensor], path: Path) -> Path:
    return write_tensors(path, tensors)


def write_final(
    folder: Path, nets: Networks, images: ImageSet, checkpoint: Path, metrics: dict[str, Any], log: LossLog
) -> tuple[dict[str, Any], list[Path]]:
    """Final weights, the mean training image, the loss table and plot, and ``training.json``.
    With EMA on, ``generator.safetensors`` is the EMA generator and ``generator_raw.safetensors``
    the raw G.

    Returns the ``training.json`` content and the files written.
    """
    raw = []
    if nets.generator_ema is not None:
        raw = [_save_tensors(nets.generator.state_dict(), folder / "generator_raw.safetensors")]
    files = [
        _save_tensors(nets.final_generator.state_dict(), folder / "generator.safetensors"),
        *raw,
        _save_tensors(nets.discriminator.state_dict(), folder / "discriminator.safetensors"),
        _save_tensors({"train_mean": images.images.mean(dim=0)}, folder / "train_mean.safetensors"),
        log.write_csv(folder / "losses.csv"),
        log.plot(folder / "losses.png"),
    ]
    spec = images.spec
    info = {
        "image": {"channels": spec.channels, "size": spec.size},
        "metrics": metrics,
        "checkpoint": str(checkpoint.relative_to(folder)),
        "images": len(images),
    }
    if nets.generator_ema is not None:
        info["generator_ema"] = True  # generator.safetensors is the EMA copy
    files.append(write_json(folder / TRAINING, info))
    return info, files


def _load(path: Path) -> dict[str, Tensor]:
    try:
        return safetensors.torch.load_file(path)
    except (OSError, ValueError, RuntimeError) as exc:  # safetensors raises its own error types too
        raise CheckpointError(f"cannot read {path}: {exc}") from None
    except Exception as exc:
        raise CheckpointError(f"cannot read {path}: {type(exc).__name__}: {exc}") from None


def read_training(folder: Path) -> dict[str, Any]:
    return read_json(folder / TRAINING)


def trained_model(
    ctx: StageContext,
    info: dict[str, Any],
    generator: nn.Module,
    discriminator: nn.Module,
    train_mean: Tensor,
    train_data: ImageSelection | None = None,
) -> TrainedModel:
    """What the stage hands on: both networks in eval mode, the image shape, the checkpoint."""
    return TrainedModel(
        name=ctx.name,
        generator=generator.eval(),
        discriminator=discriminator.eval(),
        image=ImageSpec(**info["image"]),
        checkpoint=ctx.dir / info["checkpoint"],
        train_mean=train_mean,
        train_data=train_data,
    )


def _image_spec(info: dict[str, Any], folder: Path) -> ImageSpec:
    image = info.get("image") if isinstance(info, dict) else None
    if not isinstance(image, dict) or not all(isinstance(image.get(k), int) for k in ("channels", "size")):
        raise CheckpointError(f"{folder / TRAINING} has no valid 'image' entry (channels, size): {image!r}")
    return ImageSpec(channels=image["channels"], size=image["size"])


def restore_model(ctx: StageContext, options: Any) -> tuple[TrainedModel, dict[str, Any]]:
    """Rebuild the :class:`TrainedModel` (and ``training.json``) from a finished stage's files."""
    info = read_training(ctx.dir)
    spec = _image_spec(info, ctx.dir)
    if "checkpoint" not in info or "metrics" not in info:
        raise CheckpointError(f"{ctx.dir / TRAINING} lacks 'checkpoint' or 'metrics'")
    generator, discriminator = build_networks(ctx, options, spec, 0)
    try:
        generator.load_state_dict(_load(ctx.dir / "generator.safetensors"))
        discriminator.load_state_dict(_load(ctx.dir / "discriminator.safetensors"))
    except RuntimeError as exc:
        raise CheckpointError(f"{ctx.dir}: saved weights do not fit this recipe's networks: {exc}") from None
    means = _load(ctx.dir / "train_mean.safetensors")
    if "train_mean" not in means:
        raise CheckpointError(f"{ctx.dir / 'train_mean.safetensors'} holds no 'train_mean' tensor")
    if tuple(means["train_mean"].shape) != spec.shape:
        raise CheckpointError(
            f"{ctx.dir / 'train_mean.safetensors'}: train_mean is {tuple(means['train_mean'].shape)}, "
            f"the stage's images are {spec.shape}"
        )
    return trained_model(ctx, info, generator, discriminator, means["train_mean"], options.data), info
