"""Files that go wrong in the ways a student's file does, for the check and convert commands."""

import os

import torch
from torch import nn

from resnet_viz.student.examples.my_resnet import MyResNet


class NotAModule:
    """A class, but not a torch.nn.Module."""


def returns_a_dict():
    return {"conv": nn.Conv2d(3, 16, 3)}


class TupleOutput(MyResNet):
    def forward(self, x):
        return super().forward(x), x


class CrashesInForward(MyResNet):
    def forward(self, x):
        return self.head(x)  # forgot the body: 32 x 32 images into a 64-wide linear layer


def ends_the_process():
    os._exit(3)


def builds_forever():
    while True:
        torch.zeros(1)


class WithBiases(MyResNet):
    """Every convolution with a bias (nn.Conv2d's default): folded into the batch norm after it."""

    def __init__(self):
        super().__init__()
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                module.bias = nn.Parameter(torch.randn(module.out_channels) * 0.1)


class ReluBeforeAdd(MyResNet):
    """The same layers, but F(x) goes through a ReLU before the addition: another computation."""

    def __init__(self):
        super().__init__()
        for block in self.body:
            block.forward = self._forward(block)

    @staticmethod
    def _forward(block):
        def forward(x):
            y = torch.relu(block.b2(block.c2(torch.relu(block.b1(block.c1(x))))))
            return torch.relu(y + block.shortcut(x))
        return forward
