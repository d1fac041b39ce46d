"""Network definitions: the paper's CIFAR-10 nets and the ImageNet plain / shortcut variants."""

from resnet_viz.models.cifar import CifarBlock, CifarNet, PadShortcut, cifar_net
from resnet_viz.models.imagenet import imagenet_plain, imagenet_resnet

__all__ = ["CifarBlock", "CifarNet", "PadShortcut", "cifar_net", "imagenet_plain", "imagenet_resnet"]
