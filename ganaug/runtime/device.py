"""Choosing the device and making CPU runs bit-reproducible."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present, else the CPU; other names are taken as written."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        from ganaug.runtime.errors import GanaugError

        raise GanaugError(f"device {name!r} asked for, but this torch has no CUDA device")
    return device


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch; with ``deterministic`` ask torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def generator_for(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A private random stream, so one component's draws never shift another's."""
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen
