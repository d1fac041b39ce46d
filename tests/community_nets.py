"""The community CIFAR networks written again from their repositories' public code, for the tests only: the class
and attribute names are the originals', so ``state_dict()`` has the keys of the files found in the wild, and the
forward passes are the originals' (functional ReLUs, ``F.avg_pool2d``, akamaster's lambda shortcut). Each comes
with its repository's own test-time transform (its mean/std, copied from its training script here, not read from
the project), and with the file its training script writes, byte for byte in the same layout.

Nothing here is imported by the app: ``resnet_viz.checkpoints.community`` must reach the same outputs on its own.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

# ---------------------------------------------------------------- chenyaofo/pytorch-cifar-models, resnet.py

def conv3x3(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class ChenyaofoBlock(nn.Module):  # resnet.BasicBlock
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class CifarResNet(nn.Module):
    def __init__(self, block, layers, num_classes=10):
        super().__init__()
        self.inplanes = 16
        self.conv1 = conv3x3(3, 16)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(block, 16, layers[0])
        self.layer2 = self._make_layer(block, 32, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 64, layers[2], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64 * block.expansion, num_classes)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = self.avgpool(x)
        x = x.view(x.size(0), -1)
        return self.fc(x)


# ---------------------------------------------------------------- kuangliu/pytorch-cifar, models/resnet.py


class KuangliuBlock(nn.Module):  # models.resnet.BasicBlock
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != self.expansion * planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, self.expansion * planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(self.expansion * planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return F.relu(out)


class ResNet(nn.Module):  # models.resnet.ResNet
    def __init__(self, block, num_blocks, num_classes=10):
        super().__init__()
        self.in_planes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.layer1 = self._make_layer(block, 64, num_blocks[0], stride=1)
        self.layer2 = self._make_layer(block, 128, num_blocks[1], stride=2)
        self.layer3 = self._make_layer(block, 256, num_blocks[2], stride=2)
        self.layer4 = self._make_layer(block, 512, num_blocks[3], stride=2)
        self.linear = nn.Linear(512 * block.expansion, num_classes)

    def _make_layer(self, block, planes, num_blocks, stride):
        strides = [stride] + [1] * (num_blocks - 1)
        layers = []
        for stride in strides:
            layers.append(block(self.in_planes, planes, stride))
            self.in_planes = planes * block.expansion
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = F.avg_pool2d(out, 4)
        out = out.view(out.size(0), -1)
        return self.linear(out)


# ---------------------------------------------------------------- akamaster/pytorch_resnet_cifar10, resnet.py
# Written after kuangliu's: the same block but for its option-A shortcut, the same _make_layer, three stages.


class LambdaLayer(nn.Module):
    def __init__(self, lambd):
        super().__init__()
        self.lambd = lambd

    def forward(self, x):
        return self.lambd(x)


class AkamasterBlock(KuangliuBlock):  # resnet.BasicBlock, option A (its released files')
    def __init__(self, in_planes, planes, stride=1, option="A"):
        super().__init__(in_planes, planes, stride)
        if stride != 1 or in_planes != planes:
            self.shortcut = LambdaLayer(lambda x: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4),
                                                        "constant", 0))


class AkamasterResNet(ResNet):  # resnet.ResNet
    def __init__(self, block, num_blocks, num_classes=10):
        nn.Module.__init__(self)
        self.in_planes = 16
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._make_layer(block, 16, num_blocks[0], stride=1)
        self.layer2 = self._make_layer(block, 32, num_blocks[1], stride=2)
        self.layer3 = self._make_layer(block, 64, num_blocks[2], stride=2)
        self.linear = nn.Linear(64, num_classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, out.size()[3])
        out = out.view(out.size(0), -1)
        return self.linear(out)


# ---------------------------------------------------------------- torchvision's resnet18 adapted to CIFAR

def torchvision_cifar(depth: int = 18, *, maxpool: bool = False) -> nn.Module:
    """The common adaptation: torchvision's resnet with 10 outputs, conv1 replaced by a 3x3 stride-1 convolution,
    the max pool replaced by nn.Identity() (``maxpool``: kept)."""
    from torchvision.models import resnet18, resnet34

    model = {18: resnet18, 34: resnet34}[depth](num_classes=10)
    model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    if not maxpool:
        model.maxpool = nn.Identity()
    return model


class Wrapped(nn.Module):
    """The adaptation as many write it: the torchvision net held as ``self.model`` (keys ``model.conv1...``)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)


# ---------------------------------------------------------------- each repository's files and transforms

def trained_like(net: nn.Module, seed: int = 0) -> nn.Module:
    """``net`` in eval mode with every BatchNorm's statistics and affine parameters away from their defaults, so
    a wrong key mapping, a missing layer or a wrong normalisation changes the outputs."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.running_mean.copy_(torch.rand(n, generator=gen) - 0.5)
                m.running_var.copy_(0.5 + 1.5 * torch.rand(n, generator=gen))
                m.weight.copy_(0.5 + torch.rand(n, generator=gen))
                m.bias.copy_(0.2 * torch.randn(n, generator=gen))
                m.num_batches_tracked.fill_(7800)
    return net.eval()


def torch_bytes(obj, *, legacy: bool = False) -> bytes:
    """``torch.save`` as the files were written: the zip format (PyTorch >= 1.6) or, with ``legacy``, the older
    pickle format of the files of 2019-2020."""
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=not legacy)
    return buf.getvalue()


def kuangliu_ckpt(net: nn.Module, *, acc: float, epoch: int, legacy: bool = False) -> bytes:
    """main.py's checkpoint/ckpt.pth, trained on a GPU: nn.DataParallel's ``module.`` keys."""
    state = {"net": nn.DataParallel(net).state_dict(), "acc": acc, "epoch": epoch}
    return torch_bytes(state, legacy=legacy)


# The repositories' own test-time normalisation, copied from their training code.
AKAMASTER_NORMALIZE = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))  # trainer.py
CHENYAOFO_NORMALIZE = ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))  # the logs' data.mean / data.std
KUANGLIU_NORMALIZE = ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))  # main.py, transform_test
CIFAR10_TRAIN_STATS = ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))  # what the project assumes otherwise


def original_transform(normalize: tuple[tuple[float, ...], tuple[float, ...]]) -> Callable[[Image.Image], torch.Tensor]:
    """torchvision's ``Compose([ToTensor(), Normalize(mean, std)])``, the originals' transform_test."""
    from torchvision import transforms

    return transforms.Compose([transforms.ToTensor(), transforms.Normalize(*normalize)])


def original_probabilities(net: nn.Module, images: torch.Tensor, normalize) -> torch.Tensor:
    """Softmax of ``net`` over uint8 N x 3 x H x W images fed as the original code feeds its test set."""
    transform = original_transform(normalize)
    x = torch.stack([transform(Image.fromarray(np.ascontiguousarray(img.permute(1, 2, 0).numpy())))
                     for img in images])
    with torch.no_grad():
        return torch.softmax(net(x), dim=1)


@dataclass(frozen=True)
class WildFile:
    """A network as its repository defines it, and the file its code writes for it."""

    name: str  # the file as found
    net: nn.Module
    data: bytes
    normalize: tuple[tuple[float, ...], tuple[float, ...]]
    model: str  # the zoo model it must load as
    fmt: str  # resnet_viz's name of the format
