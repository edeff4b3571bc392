"""Registers the built-in tracker: ``tensorboard`` (optional extra)."""

from __future__ import annotations

import attrs

from ganaug.api.hookspecs import Register, hookimpl
from ganaug.api.options import option
from ganaug_plugins.trackers.tensorboard import TensorBoardTracker


@attrs.frozen
class TensorBoardOptions:
    """Options of the TensorBoard tracker."""

    folder: str = option("tensorboard", help="folder for the event files, inside the run folder")


def build_tensorboard(options: TensorBoardOptions) -> TensorBoardTracker:
    """The TensorBoard tracker (raises a PluginError naming the extra when it is not installed)."""
    return TensorBoardTracker(options.folder)


@hookimpl
def register_trackers(register: Register) -> None:
    register(
        "tensorboard",
        build_tensorboard,
        options=TensorBoardOptions,
        description="TensorBoard event files: losses, copy figures, samples, search loss, metrics, hparams",
    )
