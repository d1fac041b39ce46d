"""Hand-written ResNets with the mistakes students make, built from the example's own classes: a stage too many,
a shortcut forgotten where the shape changes, a stage with a block more, and one that needs arguments."""

import torch.nn.functional as F

from resnet_viz.student.examples.my_resnet import Block, MyResNet


class NoShortcutWhereShapeChanges(Block):
    def forward(self, x):
        y = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        if self.stride == 1 and not self.extra:  # the shapes differ otherwise, so it was left out
            y = y + x
        return F.relu(y)


def four_stages():
    return MyResNet(widths=(16, 32, 64, 128))


def missing_shortcut():
    return MyResNet(block=NoShortcutWhereShapeChanges)


class NeedsArguments(MyResNet):
    def __init__(self, n, widths):
        super().__init__(n, widths)
