"""ImageNet ResNets from torchvision's builders, with the paper's shortcut options and plain nets.

A plain net is the same backbone with every shortcut removed, so the module names (conv1, layer1.0.conv1,
fc, ...) match torchvision's and the paper's stage map applies to both.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torchvision.models import resnet as tv_resnet

from resnet_viz.models.cifar import PadShortcut
from resnet_viz.models.stages import STAGE_BLOCKS


class PlainBasicBlock(tv_resnet.BasicBlock):
    """torchvision's basic block without its shortcut: y = ReLU(BN(conv(ReLU(BN(conv(x))))))."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.downsample = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)))


class PlainBottleneck(tv_resnet.Bottleneck):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.downsample = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)))


def _blocks(model: nn.Module):
    for layer_name in ("layer1", "layer2", "layer3", "layer4"):
        yield from getattr(model, layer_name)


def _set_shortcuts(model: tv_resnet.ResNet, option: str) -> None:
    """torchvision builds option B (projection only where dimensions change); switch to A or C."""
    if option == "B":
        return
    for block in _blocks(model):
        in_ch = block.conv1.in_channels
        out_ch = block.bn3.num_features if hasattr(block, "bn3") else block.bn2.num_features
        stride = max(block.conv1.stride[0], block.conv2.stride[0])
        if option == "A":
            if block.downsample is not None:
                block.downsample = PadShortcut(in_ch, out_ch, stride)
        elif option == "C":
            if block.downsample is None:
                block.downsample = nn.Sequential(
                    nn.Conv2d(in_ch, out_ch, kernel_size=1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))
        else:
            raise ValueError(f"unknown shortcut option {option!r} (expected A, B or C)")


def imagenet_resnet(depth: int, *, option: str = "B", num_classes: int = 1000) -> tv_resnet.ResNet:
    builder = getattr(tv_resnet, f"resnet{depth}")
    model = builder(weights=None, num_classes=num_classes)
    _set_shortcuts(model, option)
    return model


def imagenet_plain(depth: int, *, num_classes: int = 1000) -> tv_resnet.ResNet:
    block = PlainBasicBlock if depth < 50 else PlainBottleneck
    return tv_resnet.ResNet(block, list(STAGE_BLOCKS[depth]), num_classes=num_classes)
