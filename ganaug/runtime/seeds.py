"""Seed derivation: independent random streams from a base seed and labels.

A stream depends only on the base seed and its labels (``"order", epoch``), never on how many
numbers were drawn elsewhere, so a resumed or re-sharded run draws exactly the same.
"""

from __future__ import annotations

import hashlib

import numpy as np


def derive_seed(base: int, *parts: object) -> int:
    """A 63-bit seed from ``base`` and ``parts`` (BLAKE2b of their text)."""
    text = ":".join(str(p) for p in (base, *parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") >> 1


def numpy_rng(seed: int, *labels: str) -> np.random.Generator:
    """A NumPy generator for ``seed`` and ``labels``, with a 128-bit seed (SHA-256 of their text).

    Kept apart from :func:`derive_seed` because the data splits of every published figure come
    from this stream; new code should use :func:`derive_seed`."""
    text = "\0".join([str(seed), *labels]).encode("utf-8")
    return np.random.default_rng(int.from_bytes(hashlib.sha256(text).digest()[:16], "little"))


def stage_seed(base: int, stage: str) -> int:
    """The global seed a stage starts with: ``base`` plus an offset from the stage's name (not its
    position). Components should draw from :func:`derive_seed` streams; this only fixes what
    still reads the global RNG (e.g. dropout). The formula predates :func:`derive_seed` and is kept
    so that published runs replay exactly."""
    return base + sum((i + 1) * ord(c) for i, c in enumerate(stage)) % 100_003
