"""What a residual block adds to F(x): its shortcut, told apart by the module types of the zoo."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from torch import nn

from resnet_viz.models.cifar import CifarBlock, PadShortcut


def _imagenet_block_types() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """(torchvision's residual blocks, the zoo's plain versions of them; these subclass those). Read from the
    modules already imported: a block of a module never imported cannot exist, and a CIFAR-only process keeps
    torchvision out (2 s and 170 MB)."""
    tv = sys.modules.get("torchvision.models.resnet")
    ours = sys.modules.get("resnet_viz.models.imagenet")
    return ((tv.BasicBlock, tv.Bottleneck) if tv else (),
            (ours.PlainBasicBlock, ours.PlainBottleneck) if ours else ())


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
    residual, plain = _imagenet_block_types()
    if isinstance(block, plain) or not isinstance(block, (CifarBlock, *residual)):
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
