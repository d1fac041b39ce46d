"""What a residual block adds to F(x): its shortcut, told apart by the module types of the zoo."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn
from torchvision.models import resnet as tv_resnet

from resnet_viz.models.cifar import CifarBlock, PadShortcut
from resnet_viz.models.imagenet import PlainBasicBlock, PlainBottleneck

BLOCK_TYPES = (CifarBlock, tv_resnet.BasicBlock, tv_resnet.Bottleneck)  # plain blocks subclass torchvision's


@dataclass(frozen=True)
class Shortcut:
    """A block's shortcut. ``kind`` is "identity", "pad" (option A), "projection" (options B/C, a 1x1 conv
    and BN) or None: a plain block (or no block at all), which adds nothing."""

    kind: str | None
    attr: str | None  # the block's attribute that holds it: "shortcut" (CIFAR) or "downsample" (torchvision)
    module: nn.Module | None  # None where torchvision adds x itself; an ``nn.Identity`` in a CIFAR block

    @property
    def transform(self) -> nn.Module | None:
        """The module that changes x on its way (zero padding or projection); None when x is added as it is."""
        return self.module if self.kind in ("pad", "projection") else None


_NONE = Shortcut(None, None, None)


def shortcut_of(block: nn.Module) -> Shortcut:
    """The shortcut of a zoo block (CIFAR, torchvision basic/bottleneck, or their plain versions)."""
    if isinstance(block, (PlainBasicBlock, PlainBottleneck)) or not isinstance(block, BLOCK_TYPES):
        return _NONE
    attr = "shortcut" if isinstance(block, CifarBlock) else "downsample"
    module = getattr(block, attr)
    if module is None:  # torchvision adds x itself; a CIFAR block without a shortcut is plain
        return Shortcut("identity", attr, None) if attr == "downsample" else _NONE
    if isinstance(module, nn.Identity):
        return Shortcut("identity", attr, module)
    return Shortcut("pad" if isinstance(module, PadShortcut) else "projection", attr, module)


def shortcut_modules(model: nn.Module) -> set[nn.Module]:
    """Every module inside some block's shortcut (the shortcut itself included)."""
    inside: set[nn.Module] = set()
    for module in model.modules():
        carried = shortcut_of(module).module
        if carried is not None:
            inside.update(carried.modules())
    return inside
