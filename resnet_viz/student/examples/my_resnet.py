"""My ResNet-20 for CIFAR-10 (homework 3), written from the paper, section 4.2: a 3x3 stem with 16 filters, three
stages of n basic blocks with 16, 32 and 64 filters, global average pooling and a 10-way fully connected layer.
Where the shape changes, the shortcut takes every second pixel and adds zero channels (option A)."""

import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.stride = stride
        self.extra = cout - cin  # channels the shortcut fills with zeros

    def shortcut(self, x):
        if self.stride > 1:
            x = x[:, :, ::self.stride, ::self.stride]
        if self.extra:
            x = F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))
        return x

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return F.relu(y + self.shortcut(x))


class MyResNet(nn.Module):
    def __init__(self, n=3, widths=(16, 32, 64), block=Block, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU())
        blocks, cin = [], widths[0]
        for s, cout in enumerate(widths):
            for i in range(n):
                blocks.append(block(cin, cout, 2 if s > 0 and i == 0 else 1))
                cin = cout
        self.body = nn.Sequential(*blocks)
        self.head = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.body(self.stem(x))
        x = x.mean(dim=(2, 3))  # global average pooling
        return self.head(x)


def resnet20():
    return MyResNet(n=3)
