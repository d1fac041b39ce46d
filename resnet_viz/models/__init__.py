"""Network definitions: the paper's CIFAR-10 nets and (``models.imagenet``, which imports torchvision) the ImageNet
plain / shortcut variants."""

from resnet_viz.models.cifar import CifarBlock, CifarNet, PadShortcut, cifar_net

__all__ = ["CifarBlock", "CifarNet", "PadShortcut", "cifar_net"]
