"""The built-in backbones: a CNN fitted to tell the run's classes apart, and the same CNN untrained."""

from __future__ import annotations

import torch
from torch import Tensor

from ganaug.api.interfaces import ImageSet
from ganaug.runtime.errors import DataError
from ganaug_plugins.backbones.cnn import FeatureCnn, build_cnn, fit_classifier


class ClassifierCnn:
    """Features of a small CNN trained to classify the ``fit`` images by their labels: what tells the
    run's classes apart is what the metrics then compare (needs at least two classes)."""

    def __init__(self, dim: int, width: int, epochs: int, lr: float) -> None:
        self.dim, self.width, self.epochs, self.lr = dim, width, epochs, lr
        self.net: FeatureCnn | None = None
        self.summary = "classifier-cnn (not fitted)"

    def fit(self, images: ImageSet, *, seed: int, device: torch.device) -> None:
        present = sorted({int(i) for i in images.labels})
        if len(present) < 2:
            names = [images.classes[i] for i in present]
            raise DataError(
                f"backbone 'classifier-cnn' needs images of at least two classes to fit, got {names}; "
                "name a selection with both (e.g. fit = {split = \"probe\"}) or use backbone 'random-cnn'"
            )
        remap = torch.full((len(images.classes),), -1, dtype=torch.long)
        remap[present] = torch.arange(len(present))
        x, y = images.images.to(device), remap[images.labels.long()].to(device)
        self.net = build_cnn(x.shape[1], len(present), self.dim, self.width, seed).to(device)
        accuracy = fit_classifier(self.net, x, y, epochs=self.epochs, lr=self.lr, seed=seed)
        classes = ", ".join(images.classes[i] for i in present)
        self.summary = (
            f"classifier-cnn ({self.dim}-d features) fitted on {len(x)} images of {classes} "
            f"for {self.epochs} epochs (training accuracy {accuracy:.3f})"
        )

    def features(self, images: Tensor) -> Tensor:
        if self.net is None:
            raise RuntimeError("the backbone was not fitted")
        with torch.no_grad():
            return self.net.features(images)

    def describe(self) -> str:
        return self.summary


class RandomCnn(ClassifierCnn):
    """The same CNN with its seeded initial weights and no training: features that know nothing of
    the data, a floor to read the fitted backbone's numbers against."""

    def fit(self, images: ImageSet, *, seed: int, device: torch.device) -> None:
        self.net = build_cnn(images.images.shape[1], 1, self.dim, self.width, seed).to(device).eval()
        self.summary = f"random-cnn ({self.dim}-d features, untrained, seeded)"
