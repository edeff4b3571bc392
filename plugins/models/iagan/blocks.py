"""IAGAN's building blocks: SAGAN self-attention, the inception block, residual and strided blocks."""

from __future__ import annotations

import torch
from torch import Tensor, nn

#: Negative slope of every LeakyReLU in the IAGAN networks.
SLOPE = 0.2


class SelfAttention(nn.Module):
    """SAGAN self-attention: ``out = x + gamma * (h . softmax(f^T g))``, gamma starting at 0.

    ``f`` and ``g`` are 1x1 convolutions to ``C/8`` channels, ``h`` keeps ``C``; the attention map
    says, for every output position, how much each input position contributes.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner = max(channels // 8, 1)
        # f has no bias: it would add a term constant along the softmax axis, which cancels out.
        self.f = nn.Conv2d(channels, inner, 1, bias=False)
        self.g = nn.Conv2d(channels, inner, 1)
        self.h = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        n, c, height, width = x.shape
        f = self.f(x).flatten(2)  # [N, C/8, HW]
        g = self.g(x).flatten(2)  # [N, C/8, HW]
        h = self.h(x).flatten(2)  # [N, C, HW]
        # beta[n, i, j]: weight of input position i for output position j (softmax over i).
        beta = torch.softmax(torch.bmm(f.transpose(1, 2), g), dim=1)
        out = torch.bmm(h, beta).view(n, c, height, width)
        return x + self.gamma * out


class InceptionBlock(nn.Module):
    """Four parallel branches concatenated to ``depth`` channels, then BatchNorm + LeakyReLU.

    Branches: 1x1 (depth/4); 1x1 -> 1x3 -> 3x1 (depth/2); 1x1 -> 1x5 -> 5x1 (depth/8);
    3x3 max-pool (stride 1) -> 1x1 (depth/8). BatchNorm runs over channels.
    """

    def __init__(self, cin: int, depth: int) -> None:
        super().__init__()
        if depth % 8:
            raise ValueError(f"inception depth must be a multiple of 8, got {depth}")
        d4, d2, d8 = depth // 4, depth // 2, depth // 8
        # No biases: every branch is linear up to the BatchNorm, which supplies the shift.
        self.branch1 = nn.Conv2d(cin, d4, 1, bias=False)
        self.branch3 = nn.Sequential(
            nn.Conv2d(cin, d2, 1, bias=False),
            nn.Conv2d(d2, d2, (1, 3), padding=(0, 1), bias=False),
            nn.Conv2d(d2, d2, (3, 1), padding=(1, 0), bias=False),
        )
        self.branch5 = nn.Sequential(
            nn.Conv2d(cin, d8, 1, bias=False),
            nn.Conv2d(d8, d8, (1, 5), padding=(0, 2), bias=False),
            nn.Conv2d(d8, d8, (5, 1), padding=(2, 0), bias=False),
        )
        self.branch_pool = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(cin, d8, 1, bias=False)
        )
        self.norm = nn.BatchNorm2d(depth)
        self.act = nn.LeakyReLU(SLOPE)

    def forward(self, x: Tensor) -> Tensor:
        branches = [self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)]
        return self.act(self.norm(torch.cat(branches, dim=1)))


class ResidualUpBlock(nn.Module):
    """The residual block (conv3x3-BN-LReLU-conv3x3-BN + 1x1 projection shortcut) doubling the
    resolution: its first convolution is a 4x4 stride-2 transposed one and the shortcut's 1x1
    projection runs before a nearest upsampling, so no convolution sees an upsampled copy."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.LeakyReLU(SLOPE),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.shortcut = nn.Sequential(
            nn.Conv2d(cin, cout, 1, bias=False), nn.Upsample(scale_factor=2, mode="nearest")
        )
        self.act = nn.LeakyReLU(SLOPE)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.body(x) + self.shortcut(x))


class DownBlock(nn.Sequential):
    """A stride-2 4x4 convolution halving the resolution, optional BatchNorm, LeakyReLU."""

    def __init__(self, cin: int, cout: int, norm: bool = True) -> None:
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, 4, stride=2, padding=1, bias=not norm)]
        if norm:
            layers.append(nn.BatchNorm2d(cout))
        layers.append(nn.LeakyReLU(SLOPE))
        super().__init__(*layers)
