"""The trainer skeleton the train and encoder stages build on, and a third-party stage may too:
seeded epochs, checkpoints and resume, data parallel, Ctrl-C, NaN checks, the loss log."""

from ganaug.kit.training.checkpoint import Position
from ganaug.kit.training.epochs import Mix
from ganaug.kit.training.step_log import StepLog
from ganaug.kit.training.trainer import Step, Trainer

__all__ = ["Mix", "Position", "Step", "StepLog", "Trainer"]
