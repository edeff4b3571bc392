"""Freezing networks for a latent search: eval mode, no parameter gradients, state restored after."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import nn


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Put ``modules`` in eval mode with ``requires_grad=False`` and restore both on exit.

    Eval mode matters: BatchNorm in train mode would normalise with the search batch's own
    statistics (coupling the images of a batch) and update its running statistics.
    """
    modes = [(m, m.training) for module in modules for m in module.modules()]
    params = {id(p): (p, p.requires_grad) for module in modules for p in module.parameters()}
    try:
        for module in modules:
            module.eval()
        for param, _ in params.values():
            param.requires_grad_(False)
        yield
    finally:
        for module, mode in modes:
            module.training = mode
        for param, flag in params.values():
            param.requires_grad_(flag)
