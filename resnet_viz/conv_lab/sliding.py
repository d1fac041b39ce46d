"""The sliding-window convolution demo, step by step, and a kernel applied to a real image.

Like ``torch.nn.functional.conv2d`` this is cross-correlation: the kernel is *not* flipped. One step is
one output position: the window on the zero-padded input, the element-wise products, and their sum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from resnet_viz.conv_lab.calc import MAX_KERNEL, whole
from resnet_viz.errors import InputError

MAX_DEMO_SIZE = 16  # input side of the step-by-step demo (a bigger grid is unreadable)
MAX_DEMO_KERNEL = 7
MAX_DEMO_VALUE = 10**6
MAX_IMAGE_SIDE = 512  # the real-image view is resized so its longer side is at most this

KERNELS: dict[str, tuple[tuple[float, ...], ...]] = {
    # name -> 3x3 weights; names are i18n keys conv_lab.kernel_<name>
    "identity": ((0, 0, 0), (0, 1, 0), (0, 0, 0)),
    "sobel_x": ((1, 0, -1), (2, 0, -2), (1, 0, -1)),  # responds to vertical edges
    "sobel_y": ((1, 2, 1), (0, 0, 0), (-1, -2, -1)),  # responds to horizontal edges
    "laplacian": ((0, 1, 0), (1, -4, 1), (0, 1, 0)),
    "box_blur": ((1 / 9,) * 3,) * 3,
    "gaussian_blur": ((1 / 16, 2 / 16, 1 / 16), (2 / 16, 4 / 16, 2 / 16), (1 / 16, 2 / 16, 1 / 16)),
    "sharpen": ((0, -1, 0), (-1, 5, -1), (0, -1, 0)),
}

INPUTS: dict[str, tuple[tuple[int, ...], ...]] = {
    # name -> small integer grids; names are i18n keys conv_lab.input_<name>
    "vertical_edge": ((10, 10, 10, 0, 0, 0),) * 6,
    "horizontal_edge": ((10,) * 6,) * 3 + ((0,) * 6,) * 3,
    "notes_example": ((1, 4, 2, 8), (3, 9, 5, 7), (2, 6, 4, 1), (5, 3, 7, 2)),
    "diagonal": tuple(tuple(9 if i == j else 0 for j in range(7)) for i in range(7)),
    "square": tuple(tuple(8 if 2 <= i <= 4 and 2 <= j <= 4 else 1 for j in range(7)) for i in range(7)),
}


def random_input(height: int = 6, width: int = 6, *, seed: int = 0, high: int = 9) -> np.ndarray:
    """A reproducible grid of integers 0..high."""
    h = whole(height, "H", maximum=MAX_DEMO_SIZE)
    w = whole(width, "W", maximum=MAX_DEMO_SIZE)
    return np.random.default_rng(int(seed)).integers(0, int(high) + 1, size=(h, w))


# (not rectangular, too large, bad cell) for each grid the page lets a user edit
_MATRIX_ERRORS = {
    "input": ("calc.error_input_shape", "calc.error_input_too_large", "calc.error_input_value"),
    "kernel": ("calc.error_kernel_shape", "calc.error_kernel_too_large", "calc.error_kernel_value"),
}


def as_matrix(values: object, name: str, *, max_side: int) -> np.ndarray:
    """A 2-D float array from a nested list / array / DataFrame, or an InputError saying what is wrong.

    ``name`` is "input" or "kernel" (each has its own messages).
    """
    try:
        array = np.asarray(getattr(values, "values", values), dtype=object)
    except Exception:  # ragged lists
        raise InputError(_MATRIX_ERRORS[name][0]) from None
    if array.ndim != 2 or 0 in array.shape:
        raise InputError(_MATRIX_ERRORS[name][0])
    if max(array.shape) > max_side:
        raise InputError(_MATRIX_ERRORS[name][1], rows=array.shape[0], cols=array.shape[1],
                         maximum=max_side)
    out = np.empty(array.shape)
    for (i, j), v in np.ndenumerate(array):
        number = float(v) if isinstance(v, Real) and not isinstance(v, bool) else math.nan
        if not math.isfinite(number) or abs(number) > MAX_DEMO_VALUE:
            raise InputError(_MATRIX_ERRORS[name][2], row=i + 1, col=j + 1, maximum=MAX_DEMO_VALUE)
        out[i, j] = number
    return out


@dataclass(frozen=True)
class Step:
    index: int
    row: int  # output position
    col: int
    rows: tuple[int, ...]  # padded-input rows the kernel taps read (dilation spreads them out)
    cols: tuple[int, ...]
    window: np.ndarray  # the values under the kernel taps
    products: np.ndarray  # window * kernel
    total: float  # their sum = output[row, col]

    @property
    def taps(self) -> list[tuple[int, int]]:
        """Every (row, col) of the padded input the kernel reads at this step."""
        return [(r, c) for r in self.rows for c in self.cols]


@dataclass(frozen=True)
class SlidingConv:
    input: np.ndarray
    kernel: np.ndarray
    stride: int
    padding: int
    dilation: int
    padded: np.ndarray
    output: np.ndarray

    @property
    def steps(self) -> int:
        return self.output.size

    def step(self, index: int) -> Step:
        index = min(max(int(index), 0), self.steps - 1)
        row, col = divmod(index, self.output.shape[1])
        kh, kw = self.kernel.shape
        rows = tuple(row * self.stride + self.dilation * a for a in range(kh))
        cols = tuple(col * self.stride + self.dilation * b for b in range(kw))
        window = self.padded[np.ix_(rows, cols)]
        products = window * self.kernel
        return Step(index, row, col, rows, cols, window, products, float(products.sum()))

    def output_until(self, index: int) -> np.ndarray:
        """The output with positions after step ``index`` not computed yet (NaN)."""
        done = min(max(int(index), 0), self.steps - 1) + 1
        out = np.full(self.output.size, np.nan)
        out[:done] = self.output.reshape(-1)[:done]
        return out.reshape(self.output.shape)


def sliding_conv(x: object, kernel: object, *, stride: int = 1, padding: int = 0, dilation: int = 1) -> SlidingConv:
    """Validate the demo's grid and kernel and compute every step, looping like the textbook."""
    x = as_matrix(x, "input", max_side=MAX_DEMO_SIZE)
    k = as_matrix(kernel, "kernel", max_side=MAX_DEMO_KERNEL)
    s = whole(stride, "S", maximum=MAX_DEMO_SIZE)
    p = whole(padding, "P", minimum=0, maximum=MAX_DEMO_SIZE)
    d = whole(dilation, "D", maximum=MAX_DEMO_SIZE)
    padded = np.pad(x, p)
    span_h, span_w = d * (k.shape[0] - 1) + 1, d * (k.shape[1] - 1) + 1
    oh = (padded.shape[0] - span_h) // s + 1
    ow = (padded.shape[1] - span_w) // s + 1
    if oh < 1 or ow < 1:
        axis, out, span, size = ("H", oh, span_h, padded.shape[0]) if oh < 1 else ("W", ow, span_w, padded.shape[1])
        raise InputError("calc.error_output_empty", axis=axis, out=out, kernel=span, padded=size)
    output = np.empty((oh, ow))
    for i in range(oh):
        for j in range(ow):
            window = padded[i * s: i * s + span_h: d, j * s: j * s + span_w: d]
            output[i, j] = (window * k).sum()
    return SlidingConv(x, k, s, p, d, padded, output)


@dataclass(frozen=True)
class FilteredImage:
    gray: np.ndarray  # the input in [0, 1], H x W
    response: np.ndarray  # the raw convolution output
    display: np.ndarray  # uint8 picture of the response
    signed: bool  # True: the display shows |response| (edge strength); False: the response clipped to [0, 1]


def filter_image(image: Image.Image, kernel: object, *, stride: int = 1, dilation: int = 1,
                 max_side: int = MAX_IMAGE_SIDE) -> FilteredImage:
    """Convolve the grayscale image with ``kernel`` (zero padding that keeps the size at stride 1)."""
    k = as_matrix(kernel, "kernel", max_side=MAX_KERNEL)
    s = whole(stride, "S", maximum=64)
    d = whole(dilation, "D", maximum=64)
    gray_image = image.convert("L")
    scale = max_side / max(gray_image.size)
    if scale < 1:
        gray_image = gray_image.resize((max(1, round(gray_image.width * scale)),
                                        max(1, round(gray_image.height * scale))), Image.Resampling.BILINEAR)
    gray = np.asarray(gray_image, dtype=np.float32) / 255.0
    span_h, span_w = d * (k.shape[0] - 1) + 1, d * (k.shape[1] - 1) + 1
    # (left, right, top, bottom): "same" padding, the odd pixel at the end as torch does.
    pads = ((span_w - 1) // 2, span_w // 2, (span_h - 1) // 2, span_h // 2)
    x = F.pad(torch.from_numpy(gray)[None, None], pads)
    weight = torch.from_numpy(k.astype(np.float32))[None, None]
    with torch.no_grad():
        response = F.conv2d(x, weight, stride=s, dilation=d)[0, 0].numpy()
    signed = float(k.sum()) < 0.5  # edge detectors sum to 0; blur, sharpen and identity to 1
    if signed:
        peak = float(np.abs(response).max()) or 1.0
        shown = np.abs(response) / peak
    else:
        shown = np.clip(response, 0.0, 1.0)
    return FilteredImage(gray, response, (shown * 255).round().astype(np.uint8), signed)
