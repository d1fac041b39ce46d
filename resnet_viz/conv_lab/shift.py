"""Shift the input by one pixel: convolution's output shifts with it (equivariance), max pooling's output often
stays the same (a little invariance), global average pooling's never changes.

The shift is circular (the column that leaves on one side comes back on the other) and so is the convolution's
padding: then equivariance holds exactly, at the border too. With zero padding and a plain shift, the border
cells would differ (the values that leave the picture are lost and zeros come in).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from resnet_viz.conv_lab.calc import whole
from resnet_viz.conv_lab.pooling import max_pool2d
from resnet_viz.conv_lab.sliding import MAX_DEMO_KERNEL, MAX_DEMO_SIZE, as_matrix
from resnet_viz.errors import InputError

POOL = 2  # max pooling 2 x 2, stride 2, as after ResNet's first conv... and in most CNNs
INPUTS: dict[str, tuple[tuple[int, ...], ...]] = {
    # name -> 8 x 8 grids; names are i18n keys conv_lab.input_<name>
    "blob": tuple(tuple(9 if 2 <= i <= 3 and 2 <= j <= 4 else 1 for j in range(8)) for i in range(8)),
    "bar": tuple(tuple(8 if j == 3 else 0 for j in range(8)) for i in range(8)),
}


def circular_conv(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Cross-correlation with circular padding: the output has the input's size."""
    kh, kw = kernel.shape
    top, left = (kh - 1) // 2, (kw - 1) // 2
    padded = np.pad(x, ((top, kh - 1 - top), (left, kw - 1 - left)), mode="wrap")
    out = np.empty(x.shape)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[i, j] = (padded[i: i + kh, j: j + kw] * kernel).sum()
    return out


@dataclass(frozen=True)
class ShiftDemo:
    input: np.ndarray
    shifted: np.ndarray  # the input rolled by (dy, dx)
    dy: int
    dx: int
    conv: np.ndarray  # ReLU(conv) of the input, and of the shifted input
    conv_shifted: np.ndarray
    pooled: np.ndarray  # 2 x 2 max pooling of each ReLU(conv) output
    pooled_shifted: np.ndarray
    gap: float  # global average of each conv output
    gap_shifted: float

    @property
    def equivariant(self) -> bool:
        """conv(shift(x)) == shift(conv(x)), every cell."""
        return bool(np.allclose(self.conv_shifted, np.roll(self.conv, (self.dy, self.dx), axis=(0, 1))))

    @property
    def conv_changed(self) -> int:
        """Cells of the conv output whose value changed (it moved, it did not stay)."""
        return int((~np.isclose(self.conv, self.conv_shifted)).sum())

    @property
    def pool_unchanged(self) -> int:
        return int(np.isclose(self.pooled, self.pooled_shifted).sum())

    @property
    def gap_unchanged(self) -> bool:
        return bool(np.isclose(self.gap, self.gap_shifted))


def shift_demo(x: object, kernel: object, dy: int = 0, dx: int = 1) -> ShiftDemo:
    """Convolve (circularly), ReLU, then max pool 2 x 2 and global-average pool, ``x`` and ``x`` rolled by (dy, dx)."""
    grid = as_matrix(x, "input", max_side=MAX_DEMO_SIZE)
    k = as_matrix(kernel, "kernel", max_side=MAX_DEMO_KERNEL)
    if min(grid.shape) < POOL:
        raise InputError("calc.error_output_empty", axis="H" if grid.shape[0] < POOL else "W",
                         out=0, kernel=POOL, padded=min(grid.shape))
    dy = whole(dy, "dy", minimum=-MAX_DEMO_SIZE, maximum=MAX_DEMO_SIZE)
    dx = whole(dx, "dx", minimum=-MAX_DEMO_SIZE, maximum=MAX_DEMO_SIZE)
    shifted = np.roll(grid, (dy, dx), axis=(0, 1))
    # conv -> ReLU -> pool, as in a network (ReLU acts cell by cell, so it keeps equivariance)
    conv, conv_shifted = np.maximum(circular_conv(grid, k), 0.0), np.maximum(circular_conv(shifted, k), 0.0)
    return ShiftDemo(grid, shifted, dy, dx, conv, conv_shifted, max_pool2d(conv, POOL), max_pool2d(conv_shifted, POOL),
                     float(conv.mean()), float(conv_shifted.mean()))


def torch_circular_conv(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The same circular convolution by ``torch.nn.functional`` (the tests' cross-check)."""
    import torch
    import torch.nn.functional as F

    kh, kw = kernel.shape
    top, left = (kh - 1) // 2, (kw - 1) // 2
    t = F.pad(torch.as_tensor(x, dtype=torch.float64)[None, None], (left, kw - 1 - left, top, kh - 1 - top),
              mode="circular")
    return F.conv2d(t, torch.as_tensor(kernel, dtype=torch.float64)[None, None])[0, 0].numpy()
