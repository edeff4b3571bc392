"""IAGAN's discriminator: a 4-layer CNN mapping an image to one realness logit (paper Figure 3)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ganaug.api.interfaces import ImageSpec
from ganaug.api.networks import apply_spectral_norm
from ganaug_plugins.models.iagan.blocks import DownBlock
from ganaug_plugins.models.iagan.generator import check_size

#: Number of strided convolution layers (the paper's 4-layer CNN).
LAYERS = 4


class IaganDiscriminator(nn.Module):
    """Four stride-2 convolutions (width, 2w, 4w, 8w) and a linear head.

    ``forward(x)`` returns ``(logits[N], features)``; ``features`` is the last convolution
    block's output ``[N, 8*width, S/16, S/16]``, the layer used for feature matching.
    ``spectral_norm`` wraps every convolution and the head with spectral normalisation.
    """

    def __init__(self, image: ImageSpec, width: int = 64, spectral_norm: bool = False) -> None:
        super().__init__()
        check_size(image)
        layers: list[nn.Module] = []
        cin = image.channels
        for i in range(LAYERS):
            cout = width * 2**i
            layers.append(DownBlock(cin, cout, norm=i > 0))
            cin = cout
        self.features = nn.Sequential(*layers)
        side = image.size // 2**LAYERS
        self.head = nn.Linear(cin * side * side, 1)
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        features = self.features(x)
        return self.head(features.flatten(1)).view(-1), features


class IaganPairDiscriminator(IaganDiscriminator):
    """The same CNN judging an image beside its conditioning image (DAGAN's pair discriminator):
    the two are stacked along the channels, so D sees whether the image merely repeats x.
    ``forward(x)`` alone judges (x, x), the pair a copy would make."""

    judges_pairs = True

    def __init__(self, image: ImageSpec, width: int = 64, spectral_norm: bool = False) -> None:
        paired = ImageSpec(channels=2 * image.channels, size=image.size)
        super().__init__(paired, width=width, spectral_norm=spectral_norm)
        self.image = image

    def forward(self, x: Tensor, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return super().forward(torch.cat([x, x if cond is None else cond], dim=1))
