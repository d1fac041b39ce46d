"""Convolution over several input channels: one K x K x C_in filter on an RGB input, the lesson's formula in the
notes' letters (one filter: one output channel c, left out)

    O[y, x] = sum over i, j = 0..K-1 and d = 0..C_in-1 of W[i, j, d] * I[y*s + i, x*s + j, d] + b

with every channel's products and sum, checked against ``torch.nn.functional.conv2d``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from resnet_viz.conv_lab.calc import whole
from resnet_viz.conv_lab.parse import format_number as fmt
from resnet_viz.conv_lab.parse import sum_terms
from resnet_viz.errors import InputError

CHANNELS = ("R", "G", "B")
MAX_SIDE = 8
SOBEL_X = ((1, 0, -1), (2, 0, -2), (1, 0, -1))
FILTERS: dict[str, tuple] = {
    # name -> C_in x K x K weights; names are i18n keys conv_lab.mc_filter_<name>
    "edge_all": (SOBEL_X,) * 3,  # the same vertical-edge detector on every channel: the channels add up
    "red_only": (SOBEL_X, ((0,) * 3,) * 3, ((0,) * 3,) * 3),  # sees edges in red only
    "red_minus_blue": (((0, 0, 0), (0, 1, 0), (0, 0, 0)), ((0,) * 3,) * 3, ((0, 0, 0), (0, -1, 0), (0, 0, 0))),
}


@dataclass(frozen=True)
class ChannelStep:
    window: np.ndarray  # K x K values under the filter on this channel
    products: np.ndarray  # window * weights
    total: float


@dataclass(frozen=True)
class MultiConv:
    input: np.ndarray  # C x H x W
    weight: np.ndarray  # C x K x K
    bias: float
    stride: int
    padding: int
    output: np.ndarray  # OH x OW
    per_channel: np.ndarray  # C x OH x OW: each channel's sum of products

    def step(self, row: int, col: int) -> list[ChannelStep]:
        """Every channel's window, products and sum at output position (row, col)."""
        k, s = self.weight.shape[-1], self.stride
        padded = np.pad(self.input, ((0, 0), (self.padding,) * 2, (self.padding,) * 2))
        steps = []
        for c in range(self.input.shape[0]):
            window = padded[c, row * s: row * s + k, col * s: col * s + k]
            products = window * self.weight[c]
            steps.append(ChannelStep(window, products, float(products.sum())))
        return steps

    def latex(self, row: int, col: int) -> tuple[str, list[str]]:
        """The formula in the notes' letters (O, I, W; input channel d) with C_in, then one line per channel and
        the total, with this position's numbers."""
        c_in, k = self.weight.shape[0], self.weight.shape[-1]
        general = (rf"O_{{{row},{col}}} = \sum_{{i=0}}^{{{k - 1}}} \sum_{{j=0}}^{{{k - 1}}}"
                   rf"\sum_{{d=0}}^{{C_{{in}}-1={c_in - 1}}} W_{{i,j,d}}\;"
                   rf"I_{{{row}\cdot {self.stride}+i,\,{col}\cdot {self.stride}+j,\,d}} + b")
        steps = self.step(row, col)
        lines = [f"{CHANNELS[c] if c < len(CHANNELS) else c + 1}: {sum_terms(s.products.reshape(-1))} = "
                 f"{fmt(s.total)}" for c, s in enumerate(steps)]
        parts = " + ".join(f"({fmt(s.total)})" for s in steps)
        lines.append(f"O = {parts} + ({fmt(self.bias)}) = {fmt(float(self.output[row, col]))}")
        return general, lines


def _array(values: object, ndim: int, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != ndim or 0 in array.shape or not np.isfinite(array).all():
        raise InputError(f"calc.error_{name}_shape")
    return array


def multichannel_conv(x: object, weight: object, bias: float = 0.0, *, stride: int = 1,
                      padding: int = 0) -> MultiConv:
    """Cross-correlation of a C x H x W input with one C x K x K filter (square), plus bias, looping like the
    textbook: per output position, per channel, the sum of products; then the channels' sums and the bias."""
    inp = _array(x, 3, "input")
    w = _array(weight, 3, "kernel")
    if w.shape[0] != inp.shape[0] or w.shape[1] != w.shape[2] or max(inp.shape[1:]) > MAX_SIDE:
        raise InputError("calc.error_kernel_shape")
    s = whole(stride, "S", maximum=MAX_SIDE)
    p = whole(padding, "P", minimum=0, maximum=MAX_SIDE)
    k = w.shape[-1]
    oh, ow = (inp.shape[1] + 2 * p - k) // s + 1, (inp.shape[2] + 2 * p - k) // s + 1
    if oh < 1 or ow < 1:
        raise InputError("calc.error_output_empty", axis="H" if oh < 1 else "W", out=min(oh, ow), kernel=k,
                         padded=min(inp.shape[1:]) + 2 * p)
    padded = np.pad(inp, ((0, 0), (p, p), (p, p)))
    per_channel = np.empty((inp.shape[0], oh, ow))
    for c in range(inp.shape[0]):
        for i in range(oh):
            for j in range(ow):
                per_channel[c, i, j] = (padded[c, i * s: i * s + k, j * s: j * s + k] * w[c]).sum()
    return MultiConv(inp, w, float(bias), s, p, per_channel.sum(axis=0) + float(bias), per_channel)


def torch_multichannel(demo: MultiConv) -> np.ndarray:
    """The same output by ``torch.nn.functional.conv2d`` (float64): the page's cross-check."""
    import torch
    import torch.nn.functional as F

    x = torch.as_tensor(demo.input)[None]
    w = torch.as_tensor(demo.weight)[None]
    b = torch.tensor([demo.bias], dtype=torch.float64)
    return F.conv2d(x, w, b, stride=demo.stride, padding=demo.padding)[0, 0].numpy()


def random_rgb(size: int = 5, seed: int = 0, high: int = 4) -> np.ndarray:
    """A reproducible 3 x size x size input of whole numbers 0..high."""
    n = whole(size, "H", maximum=MAX_SIDE)
    return np.random.default_rng(int(seed)).integers(0, int(high) + 1, size=(3, n, n)).astype(float)


def random_filter(kernel: int = 3, seed: int = 0) -> np.ndarray:
    """A reproducible 3 x K x K filter of whole numbers -1..1."""
    k = whole(kernel, "K", maximum=5)
    return np.random.default_rng(int(seed) + 1).integers(-1, 2, size=(3, k, k)).astype(float)


def image_crop(rgb: np.ndarray, size: int = 5, top: int = 0, left: int = 0) -> np.ndarray:
    """A size x size crop of an H x W x 3 uint8 picture, as 3 x size x size values in [0, 1] with two decimals."""
    n = whole(size, "H", maximum=MAX_SIDE)
    h, w = rgb.shape[:2]
    top, left = min(max(int(top), 0), h - n), min(max(int(left), 0), w - n)
    crop = rgb[top: top + n, left: left + n, :3].astype(float) / 255.0
    return np.round(crop.transpose(2, 0, 1), 2)
