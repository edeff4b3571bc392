"""The epoch loop of the trainer skeleton (:mod:`.trainer`): batch counts, the seeded data order
and noise per step, the step bookkeeping, the world-size check on resume, and the NaN checks.

Order and noise come from seeds derived per epoch and per step, never from the global RNG, so a
stage resumed from any checkpoint draws exactly what an uninterrupted one drew.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import torch
from torch import Tensor, nn

from ganaug.api.interfaces import ImageSet
from ganaug.kit.training.checkpoint import (
    Position,
    checked_position,
    latest_checkpoint,
    load_checkpoint,
    restore_checkpoint,
)
from ganaug.kit.training.data_parallel import agree, batch_shard
from ganaug.kit.training.interrupt import DeferredInterrupt
from ganaug.runtime.device import generator_for
from ganaug.runtime.distributed import World
from ganaug.runtime.errors import CheckpointError, DataError, DivergenceError
from ganaug.runtime.seeds import derive_seed


def noise(seed: int, n: int, dim: int, device: torch.device) -> Tensor:
    """Standard normal ``[n, dim]`` drawn on the CPU from ``seed`` (the same on every device)."""
    return torch.randn(n, dim, generator=generator_for(seed)).to(device)


def all_finite(*modules: nn.Module) -> bool:
    """Whether every parameter and buffer of the modules is finite."""
    return all(
        bool(torch.isfinite(t).all())
        for m in modules
        for t in [*m.parameters(), *m.buffers()]
        if t.is_floating_point()
    )


def steps_per_epoch(stage: str, images: int, batch_size: int, world: World, drop_last: bool) -> int:
    """Steps in an epoch of ``images`` at ``batch_size`` per rank; refuses an epoch of none."""
    size = batch_size * world.size  # the global batch
    steps = images // size if drop_last else math.ceil(images / size)
    if steps == 0:
        across = f" x {world.size} ranks" if world.size > 1 else ""
        raise DataError(
            f"stage {stage!r}: {images} images are fewer than batch_size {batch_size}{across} "
            "(lower batch_size or set drop_last = false)"
        )
    return steps


def check_world_size(stage: str, path: Path, meta: dict[str, Any], world: World) -> None:
    """A checkpoint resumes only on as many processes as wrote it (batches and order depend on it)."""
    saved = int(meta.get("world_size", 1))
    if saved != world.size:
        raise CheckpointError(
            f"stage {stage!r}: checkpoint {path} was written by a run on {saved} process(es) but this "
            f"run has {world.size}; resume with the same --nproc-per-node x --nnodes ({saved}), since "
            "batch size per rank and the data order depend on it"
        )


def restore_latest(
    stage: str,
    folder: Path,
    world: World,
    modules: dict[str, Any],
    optimizers: dict[str, Any],
    networks: tuple[nn.Module, ...],
    epochs: int | None = None,
    steps: int | None = None,
) -> tuple[Path, Position] | None:
    """Load the latest checkpoint in ``folder`` into ``modules`` and ``optimizers``: its path and the
    position it saved, or None when there is none. Refuses another world size, NaN/inf weights in
    ``networks`` and a position beyond ``epochs`` x ``steps`` per epoch."""
    last = latest_checkpoint(folder)
    if last is None:
        return None
    checkpoint = load_checkpoint(last)
    check_world_size(stage, last, checkpoint.meta, world)
    restore_checkpoint(checkpoint, modules, optimizers)
    position = checked_position(last, checkpoint.meta, epochs, steps)
    if not all_finite(*networks):
        raise CheckpointError(
            f"stage {stage!r}: checkpoint {last} holds NaN/inf weights; remove it "
            "(and latest.json) to fall back to an earlier one, or start the stage again"
        )
    return last, position


def diverged(stage: str, what: str, epoch: int, step: int, last: Path | None, advice: str) -> DivergenceError:
    """The error for a NaN/inf loss or weight, naming where and the checkpoint to go back to."""
    where = f"last good checkpoint: {last}" if last else "no checkpoint was written yet"
    return DivergenceError(
        f"stage {stage!r} diverged: {what} at epoch {epoch}, step {step}; {where}. {advice}"
    )


@attrs.frozen
class Batch:
    """One step's work for this rank: its images, its rows of the global batch's noise."""

    index: int
    images: Tensor
    z: Tensor
    size: int  # images in the global batch (all ranks)


@attrs.frozen
class Mix:
    """Batches with a fixed share of added images: the first ``real`` images of the stage's set are
    real, the rest were added by earlier stages; every global batch holds ``added_per_batch`` added
    images and the rest real ones, and an epoch is one pass over the real images."""

    real: int
    added_per_batch: int

    @classmethod
    def of(cls, stage: str, real: int, total: int, share: float, global_batch: int) -> Mix:
        """The mix of ``share`` added images per batch; refuses a batch it leaves without either kind."""
        k = round(share * global_batch)
        if total <= real:
            raise DataError(f"stage {stage!r}: added_share is set but data.add brings no images")
        if not 1 <= k < global_batch:
            raise DataError(
                f"stage {stage!r}: added_share {share} of a batch of {global_batch} is {k} images; "
                "a batch needs at least one added and one real image"
            )
        return cls(real, k)

    def steps(self, stage: str, global_batch: int, drop_last: bool) -> int:
        """Steps in one pass over the real images at ``global_batch - added_per_batch`` per step."""
        real_per_batch = global_batch - self.added_per_batch
        return steps_per_epoch(stage, self.real, real_per_batch, World(), drop_last)

    def order(self, total: int, steps: int, global_batch: int, rng: torch.Generator) -> Tensor:
        """The epoch's image indices, global batch after global batch: real images shuffled, added
        ones shuffled and drawn again from the start when they run out."""
        k, m = self.added_per_batch, global_batch - self.added_per_batch
        real = torch.randperm(self.real, generator=rng)
        added_count = total - self.real
        rounds = math.ceil(steps * k / added_count)
        added = torch.cat([torch.randperm(added_count, generator=rng) for _ in range(rounds)]) + self.real
        parts = []
        for i in range(steps):
            parts += [real[i * m : (i + 1) * m], added[i * k : (i + 1) * k]]
        return torch.cat(parts)


@attrs.define
class Epochs:
    """Batches of a stage's images, epoch by epoch, from the stage's own seed."""

    images: ImageSet
    seed: int
    steps: int
    batch_size: int
    latent_dim: int
    world: World
    device: torch.device
    mix: Mix | None = None

    def batches(self, epoch: int, at: Position) -> Iterator[Batch]:
        """This rank's batches of ``epoch`` (0-based), from where ``at`` stands."""
        rng = generator_for(derive_seed(self.seed, "order", epoch))
        if self.mix is None:
            order = torch.randperm(len(self.images), generator=rng)
        else:
            global_batch = self.batch_size * self.world.size
            order = self.mix.order(len(self.images), self.steps, global_batch, rng)
        start = at.batch if epoch == at.epoch else 0
        for batch in range(start, self.steps):
            index, mine = batch_shard(order, batch, self.batch_size, self.world)
            x = self.images.images[index[mine.start : mine.stop]].to(self.device)
            # noise for the whole global batch, then this rank's rows: a function of the seed
            z_seed = derive_seed(self.seed, "noise", at.step)
            z = noise(z_seed, len(index), self.latent_dim, self.device)[mine.start : mine.stop]
            yield Batch(batch, x, z, len(index))

    def step(
        self, at: Position, batch: Batch, run: Any, interrupt: DeferredInterrupt
    ) -> tuple[dict[str, float], bool]:
        """Run one step, average its figures over ranks, count it in ``at``; returns the figures
        and whether any rank asked to stop (a Ctrl-C during this step counts: read after it)."""
        began = time.perf_counter()
        stats = run(batch.images, batch.z)
        stats, stop = agree(self.world, stats, interrupt.requested, self.device)
        at.seconds += time.perf_counter() - began
        at.step += 1
        at.images += batch.size
        return stats, stop
