"""The CIFAR adaptation of Table 1's ResNet-18/34 that most public CIFAR code trains: four stages of basic blocks
with 64/128/256/512 filters after a 3x3 stride-1 stem of 64 filters, global average pooling and a 10-way classifier.

Module names follow kuangliu/pytorch-cifar (conv1, bn1, layer1..4 of blocks with conv1, bn1, conv2, bn2, shortcut,
linear), so that its ``ckpt.pth`` files load without renaming; the blocks are the zoo's CIFAR blocks. torchvision's
``resnet18`` with a 3x3 stem is the same network when its max pool is removed; ``maxpool=True`` keeps it (3x3,
stride 2), as some adaptations do.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from resnet_viz.models.cifar import CifarBlock

WIDTHS = (64, 128, 256, 512)


class Cifar64Net(nn.Module):
    layer1: nn.Sequential  # added by name in __init__
    layer2: nn.Sequential
    layer3: nn.Sequential
    layer4: nn.Sequential

    def __init__(self, blocks: Sequence[int], *, option: str = "B", num_classes: int = 10,
                 maxpool: bool = False) -> None:
        super().__init__()
        self.blocks_per_stage = tuple(blocks)
        self.option = option
        self.conv1 = nn.Conv2d(3, WIDTHS[0], 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(WIDTHS[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool: nn.Module | None = nn.MaxPool2d(3, stride=2, padding=1) if maxpool else None
        in_ch = WIDTHS[0]
        for i, (width, count) in enumerate(zip(WIDTHS, self.blocks_per_stage)):
            layer = []
            for j in range(count):
                layer.append(CifarBlock(in_ch, width, 2 if (i > 0 and j == 0) else 1, option=option))
                in_ch = width
            self.add_module(f"layer{i + 1}", nn.Sequential(*layer))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.linear = nn.Linear(WIDTHS[-1], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        return self.maxpool(x) if self.maxpool is not None else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return self.linear(torch.flatten(self.avgpool(x), 1))
