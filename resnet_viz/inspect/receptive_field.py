"""Theoretical receptive fields: one recurrence for the feature maps, the architecture summary and the lab.

A layer with kernel k, stride s, padding p and dilation d (square, the same on both axes), applied to a map
whose units each see ``size`` input pixels, ``jump`` pixels apart, the first one centred at ``start``, gives

    size_out  = size + (k - 1) * d * jump
    jump_out  = jump * s
    start_out = start + ((k_eff - 1) / 2 - p) * jump,    k_eff = d * (k - 1) + 1 (the window's span)

starting from one input pixel (size = jump = 1, start = 0). A residual block adds two paths that leave
from the same input: the sum sees the union of their concentric fields (``merge``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from torch import nn

WINDOW_TYPES = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)


@dataclass(frozen=True)
class ReceptiveField:
    """Theoretical receptive field of a layer's units on the input (square kernels, per axis)."""

    size: int = 1  # side in input pixels
    jump: int = 1  # input pixels between neighbouring units (the product of strides)
    start: float = 0.0  # centre of unit 0, in input pixel coordinates (may lie outside the image)

    def centre(self, index: int) -> float:
        return self.start + index * self.jump

    def box(self, row: int, col: int, height: int, width: int) -> tuple[int, int, int, int]:
        """(top, left, bottom, right), inclusive, clipped to the input image."""
        half = (self.size - 1) / 2
        cy, cx = self.centre(row), self.centre(col)
        return (max(0, int(np.floor(cy - half))), max(0, int(np.floor(cx - half))),
                min(height - 1, int(np.ceil(cy + half))), min(width - 1, int(np.ceil(cx + half))))


def step(field: ReceptiveField, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> ReceptiveField:
    """The field after one sliding-window layer (convolution or pool)."""
    span = dilation * (kernel - 1) + 1
    return ReceptiveField(field.size + (span - 1) * field.jump, field.jump * stride,
                          field.start + ((span - 1) / 2 - padding) * field.jump)


def merge(main: ReceptiveField, shortcut: ReceptiveField) -> ReceptiveField:
    """The sum of a block's two paths: the larger field, with the main path's jump and centre."""
    return replace(main, size=max(main.size, shortcut.size))


def _first(value: int | tuple[int, ...]) -> int:
    return int(value[0] if isinstance(value, (tuple, list)) else value)


def window(module: nn.Module) -> tuple[int, int, int, int]:
    """(kernel, stride, padding, dilation) of a Conv2d, MaxPool2d or AvgPool2d, along its first axis."""
    return (_first(module.kernel_size), _first(module.stride), _first(module.padding),  # type: ignore[arg-type]
            _first(getattr(module, "dilation", 1)))


def main_path(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The convolutions and pools outside every shortcut, in registration order (forward order for every
    zoo net). A shortcut (identity, zero padding or 1x1 projection) never sees more than the path beside it."""
    from resnet_viz.models.blocks import shortcut_modules  # imports torchvision, which the lab's chains never need

    skip = shortcut_modules(model)
    return [(path, m) for path, m in model.named_modules() if isinstance(m, WINDOW_TYPES) and m not in skip]


def walk(model: nn.Module) -> list[tuple[str, ReceptiveField]]:
    """(module path, field after it) for every layer of ``main_path(model)``."""
    field, out = ReceptiveField(), []
    for path, module in main_path(model):
        field = step(field, *window(module))
        out.append((path, field))
    return out
