"""The trainer skeleton: what every training stage does the same way, so a stage (built-in or
third-party) writes only its networks, its step and what it shows at an epoch's end.

The skeleton owns the seeded epochs (order and noise from seeds derived per epoch and per step),
resume from the latest checkpoint (same world size, finite weights, a position within the stage),
checkpoints every ``checkpoint_every`` epochs and at the last, Ctrl-C (finish the batch, checkpoint,
stop), the NaN checks on losses and weights, and the step log (``losses.csv``).

A subclass implements :meth:`Trainer.modules`, :meth:`Trainer.optimizers`, :meth:`Trainer.make_step`
and :meth:`Trainer.end_epoch`, and calls :meth:`Trainer.train`; the other methods are hooks with
defaults. docs/plugins.md ("Writing a training stage") walks through one.
"""

from __future__ import annotations

import abc
import contextlib
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import Tensor, nn
from torch.optim import Optimizer

from ganaug.api.context import StageContext
from ganaug.api.records import ImageSet
from ganaug.kit.training.checkpoint import Position, save_checkpoint
from ganaug.kit.training.epochs import Epochs, Mix, all_finite, diverged, restore_latest, steps_per_epoch
from ganaug.kit.training.interrupt import DeferredInterrupt
from ganaug.kit.training.step_log import StepLog
from ganaug.runtime.errors import DivergenceError

#: one training step: this rank's images and noise in, the step's figures (floats) out
Step = Callable[[Tensor, Tensor], dict[str, float]]


class Trainer(abc.ABC):
    """One session of a training stage: fresh, or continuing from its latest checkpoint."""

    #: figures of every step that must be finite (a NaN/inf one stops the stage as diverged)
    finite: tuple[str, ...] = ("loss",)
    #: what a diverged stage's message advises
    advice: str = "Lower the learning rate, then run again."

    def __init__(
        self,
        ctx: StageContext,
        images: ImageSet,
        *,
        seed: int,
        epochs: int,
        batch_size: int,
        latent_dim: int,
        drop_last: bool = True,
        checkpoint_every: int = 10,
        keep_checkpoints: int = 2,
        mix: Mix | None = None,
    ) -> None:
        self.ctx, self.images, self.seed = ctx, images, seed
        self.total_epochs = epochs
        self.checkpoint_every, self.keep_checkpoints = checkpoint_every, keep_checkpoints
        if mix is None:
            self.steps = steps_per_epoch(ctx.name, len(images), batch_size, ctx.world, drop_last)
        else:
            self.steps = mix.steps(ctx.name, batch_size * ctx.world.size, drop_last)
        self.epochs = Epochs(
            images, seed, self.steps, batch_size, latent_dim, ctx.world, ctx.device, mix
        )  # fmt: skip
        self.folder = ctx.dir / "checkpoints"
        self.at = Position()
        self.last: Path | None = None
        self.log: StepLog = self.new_log()

    # -- what a stage provides ---------------------------------------------------------------

    @abc.abstractmethod
    def modules(self) -> dict[str, nn.Module]:
        """The modules a checkpoint saves and resume loads, by name."""

    @abc.abstractmethod
    def optimizers(self) -> dict[str, Optimizer]:
        """The optimisers a checkpoint saves and resume loads, by name."""

    def watched(self) -> tuple[nn.Module, ...]:
        """The networks whose weights must stay finite (default: every saved module)."""
        return tuple(self.modules().values())

    @abc.abstractmethod
    def make_step(self) -> Step:
        """The training step, made after a resume has loaded the weights (wrap DDP replicas here)."""

    def new_log(self) -> StepLog:
        """An empty step log with the stage's columns."""
        return StepLog(step_fields=self.finite)

    def after_step(self) -> None:  # noqa: B027 (a hook: by default nothing happens after a step)
        """Called after every step (e.g. a generator EMA update)."""

    @abc.abstractmethod
    def end_epoch(self, done: int, means: dict[str, float]) -> None:
        """Called at the end of (1-based) epoch ``done`` with the epoch's mean figures, before its
        checkpoint: log a line, feed the trackers, write sample grids."""

    def epoch_figures(self, done: int) -> dict[str, float]:
        """The epoch's mean figures (a stage may annotate the log first, e.g. a copy monitor)."""
        return self.log.epoch_mean(done)

    def bar(self, stats: dict[str, float]) -> dict[str, float]:
        """The figures shown beside the progress bar."""
        return {k: stats[k] for k in self.finite}

    def during(self) -> contextlib.AbstractContextManager[Any]:
        """A context the whole training runs in (e.g. frozen networks); default: none."""
        return contextlib.nullcontext()

    # -- the skeleton ------------------------------------------------------------------------

    def train(self) -> Path:
        """Resume if asked, run the remaining epochs, and return the last checkpoint's path (the
        last epoch always writes one). A Ctrl-C checkpoints and raises KeyboardInterrupt."""
        ctx = self.ctx
        if ctx.resume:
            self.resume()
        step = self.make_step()
        with (
            self.during(),
            DeferredInterrupt() as interrupt,
            ctx.progress.task(f"{ctx.name} epochs", total=self.total_epochs) as bar,
        ):
            bar.advance(self.at.epoch)
            for epoch in range(self.at.epoch, self.total_epochs):
                stopping = self._epoch(step, epoch, interrupt)
                done = epoch + 1
                means = self.epoch_figures(done)
                bar.advance(1, **self.bar(means))
                ctx.track.scalars(ctx.name, done, means)
                self.check_weights(done)
                self.end_epoch(done, means)
                if stopping or done % self.checkpoint_every == 0 or done == self.total_epochs:
                    self.checkpoint(done, 0)
                else:
                    self.log.write_csv(ctx.dir / "losses.csv")
                if stopping:
                    ctx.log.warning("interrupted; checkpoint written: %s", self.last)
                    raise KeyboardInterrupt
        return self.last or self.checkpoint(self.total_epochs, 0)

    def _epoch(self, step: Step, epoch: int, interrupt: DeferredInterrupt) -> bool:
        """Train one epoch from where the position stands; a Ctrl-C mid-epoch checkpoints and
        stops here, one at its last batch returns True so the epoch's end runs first."""
        ctx, at = self.ctx, self.at
        with ctx.progress.task(f"{ctx.name} epoch {epoch + 1}", total=self.steps) as bar:
            bar.advance(at.batch if epoch == at.epoch else 0)
            stop = False
            for batch in self.epochs.batches(epoch, at):
                stats, stop = self.epochs.step(at, batch, step, interrupt)
                self.after_step()
                for key in self.finite:
                    if not math.isfinite(stats[key]):
                        raise self.diverged(f"{key} ({stats[key]})", epoch + 1)
                self.log.add(epoch + 1, at.step, stats)
                bar.advance(1, **self.bar(stats))
                if stop and batch.index + 1 < self.steps:
                    self.checkpoint(epoch, batch.index + 1)
                    ctx.log.warning("interrupted; checkpoint written: %s", self.last)
                    raise KeyboardInterrupt
        at.epoch, at.batch = epoch + 1, 0
        return stop

    def resume(self) -> None:
        """Load the latest checkpoint, if any, and the step log up to its step."""
        found = restore_latest(
            self.ctx.name, self.folder, self.ctx.world, self.modules(), self.optimizers(),
            self.watched(), self.total_epochs, self.steps,
        )  # fmt: skip
        if found is None:
            return
        self.last, self.at = found
        self.log = self.new_log().resumed(self.ctx.dir / "losses.csv", self.at.step)
        self.ctx.log.info(
            "resuming from %s (epoch %d, batch %d)", self.last, self.at.epoch + 1, self.at.batch
        )

    def checkpoint(self, epoch: int, batch: int) -> Path:
        """Checkpoint the position before batch ``batch`` of (0-based) ``epoch``; return its path."""
        self.check_weights(epoch + 1 if batch else epoch)
        self.log.write_csv(self.ctx.dir / "losses.csv")
        self.last = save_checkpoint(
            self.folder,
            self.at.step,
            self.modules(),
            self.optimizers(),
            self.at.at(epoch, batch),
            self.keep_checkpoints,
            world_size=self.ctx.world.size,
        )
        return self.last

    def check_weights(self, epoch: int) -> None:
        """Raise DivergenceError if a watched weight is NaN/inf (``epoch`` 1-based, for the message)."""
        if not all_finite(*self.watched()):
            raise self.diverged("a weight (NaN/inf)", epoch)

    def diverged(self, what: str, epoch: int) -> DivergenceError:
        return diverged(self.ctx.name, what, epoch, self.at.step, self.last, self.advice)

    def rate(self) -> float:
        """Images per second of training so far."""
        return self.at.images / self.at.seconds if self.at.seconds > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        """Epochs, steps, speed and time of the whole stage, for its metrics."""
        return {
            "images_per_s": self.rate(),
            "epochs": self.total_epochs,
            "steps": self.at.step,
            "train_seconds": self.at.seconds,
        }
