"""CIFAR-10 networks of the paper's section 4.2: depth 6n+2, 16/32/64 filters.

Module names follow akamaster/pytorch_resnet_cifar10 (conv1, bn1, layer1..3, linear; blocks with
conv1, bn1, conv2, bn2, shortcut) so that its widely shared checkpoints load without renaming.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def pad_sides(in_channels: int, out_channels: int) -> tuple[int, int]:
    """Option A's zero channels before and after x's own ones: the padding split evenly on both sides of the
    channel axis, as in akamaster's files."""
    extra = out_channels - in_channels
    return extra // 2, extra - extra // 2


def padded_channels(in_channels: int, out_channels: int) -> tuple[int, ...]:
    """The channels of option A's shortcut that are zero whatever x is (they carry none of x's channels)."""
    before, after = pad_sides(in_channels, out_channels)
    return (*range(before), *range(out_channels - after, out_channels))


class PadShortcut(nn.Module):
    """Option A: subsample x by the stride and zero-pad the new channels (no parameters, ``pad_sides``)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        before, after = pad_sides(self.in_channels, self.out_channels)
        if before or after:
            x = F.pad(x, (0, 0, 0, 0, before, after))
        return x

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, stride={self.stride}"


def projection(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    """Option B/C: a 1x1 convolution and BN on the shortcut."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
        nn.BatchNorm2d(out_channels),
    )


class CifarBlock(nn.Module):
    """Two 3x3 convolutions (separate weights), with or without a shortcut.

    ``shortcut`` is ``None`` in a plain net; otherwise y = ReLU(F(x) + shortcut(x)) where F(x)
    ends with ``bn2``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, *, residual: bool = True,
                 option: str = "A") -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu2 = nn.ReLU(inplace=True)
        self.shortcut: nn.Module | None
        if not residual:
            self.shortcut = None
        elif stride == 1 and in_channels == out_channels and option != "C":
            self.shortcut = nn.Identity()
        elif option == "A":
            self.shortcut = PadShortcut(in_channels, out_channels, stride)
        elif option in ("B", "C"):
            self.shortcut = projection(in_channels, out_channels, stride)
        else:
            raise ValueError(f"unknown shortcut option {option!r} (expected A, B or C)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return self.relu2(out)


class CifarNet(nn.Module):
    layer1: nn.Sequential  # added by name in __init__
    layer2: nn.Sequential
    layer3: nn.Sequential

    def __init__(self, n: int, *, residual: bool = True, option: str = "A", num_classes: int = 10) -> None:
        super().__init__()
        self.n = n
        self.residual = residual
        self.option = option if residual else None
        self.conv1 = nn.Conv2d(3, 16, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        widths = (16, 32, 64)
        in_ch = 16
        for i, width in enumerate(widths):
            blocks = []
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(CifarBlock(in_ch, width, stride, residual=residual, option=option))
                in_ch = width
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.linear = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out" if isinstance(m, nn.Conv2d) else "fan_in",
                                        nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.linear(torch.flatten(self.avgpool(x), 1))


def cifar_net(depth: int, *, residual: bool = True, option: str = "A", num_classes: int = 10) -> CifarNet:
    """ResNet-``depth`` or plain-``depth`` for 32x32 inputs; ``depth`` must be 6n+2."""
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"CIFAR depth must be 6n+2 (20, 32, 44, 56, 110, ...), got {depth}")
    return CifarNet((depth - 2) // 6, residual=residual, option=option, num_classes=num_classes)
