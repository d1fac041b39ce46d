"""Max, average and global average pooling by hand, in NumPy: the course's homework, done twice.

``max_pool2d_loops`` / ``avg_pool2d_loops`` are the readable versions (one loop per output position);
``max_pool2d`` / ``avg_pool2d`` are vectorised with ``sliding_window_view``. Both follow
``torch.nn.functional.max_pool2d`` / ``avg_pool2d`` exactly, including two rules that are easy to miss:

* in ceil mode the output gets one more position when the rest of the input does not fill a whole
  window, but only if that last window *starts* inside the input or the left padding;
* average pooling divides by the part of the window that lies inside the input plus its padding
  (``count_include_pad=True``, torch's default) or inside the input only (``count_include_pad=False``);
  the piece of a ceil-mode window that hangs over the padding never counts.

Arrays are ``(..., H, W)``: pooling acts on the last two axes.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from resnet_viz.errors import InputError

__all__ = ["pool_output_size", "max_pool2d_loops", "avg_pool2d_loops", "max_pool2d", "avg_pool2d",
           "global_avg_pool2d", "pool2d", "POOL_KINDS", "window_cells", "HOMEWORK_FUNCTIONS"]

MAX_POOL_SIZE = 65536
POOL_KINDS = ("max", "avg", "global_avg")  # what pool2d takes


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, (int, np.integer)) else (value[0], value[1])


def pool_output_size(size: int, kernel: int, stride: int, padding: int = 0, *, ceil_mode: bool = False) -> int:
    """Output length along one axis, as torch computes it (may be < 1 for impossible settings)."""
    span = size + 2 * padding - kernel
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    # A ceil-mode window must start inside the input or the left padding, never in the right padding.
    if ceil_mode and out > 0 and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _check(shape: tuple[int, ...], kernel, stride, padding, ceil_mode: bool):
    """Validated (kernel, stride, padding, output size) pairs, or an InputError naming what is wrong."""
    if len(shape) < 2:
        raise InputError("calc.error_pool_shape", ndim=len(shape))
    kernel = _pair(kernel)
    stride = kernel if stride is None else _pair(stride)
    padding = _pair(padding)
    out = []
    for axis, size, k, s, p in zip(("H", "W"), shape[-2:], kernel, stride, padding):
        for name, value, low in (("K", k, 1), ("S", s, 1), ("P", p, 0)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
                raise InputError("calc.error_at_least", name=name, minimum=low, value=value)
            if value > MAX_POOL_SIZE:
                raise InputError("calc.error_too_large", name=name, value=value, maximum=MAX_POOL_SIZE)
        if 2 * p > k:
            raise InputError("calc.error_pool_padding", padding=p, kernel=k)
        n = pool_output_size(size, k, s, p, ceil_mode=ceil_mode)
        if n < 1:
            raise InputError("calc.error_output_empty", axis=axis, out=n, kernel=k, padded=size + 2 * p)
        out.append(n)
    return kernel, stride, padding, tuple(out)


# --- the readable versions -------------------------------------------------------------------------

def max_pool2d_loops(x: np.ndarray, kernel, stride=None, padding=0, *, ceil_mode: bool = False) -> np.ndarray:
    """Max pooling, one output position at a time. Padding never wins: it counts as minus infinity."""
    x = np.asarray(x, dtype=np.float64)
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = _check(x.shape, kernel, stride, padding, ceil_mode)
    height, width = x.shape[-2:]
    out = np.empty(x.shape[:-2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            # The window in input coordinates; the padding around the input is never read.
            top, left = i * sh - ph, j * sw - pw
            rows = slice(max(top, 0), min(top + kh, height))
            cols = slice(max(left, 0), min(left + kw, width))
            out[..., i, j] = x[..., rows, cols].max(axis=(-2, -1))
    return out


def avg_pool2d_loops(x: np.ndarray, kernel, stride=None, padding=0, *, ceil_mode: bool = False,
                     count_include_pad: bool = True) -> np.ndarray:
    """Average pooling, one output position at a time: the sum of the window over the number of cells."""
    x = np.asarray(x, dtype=np.float64)
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = _check(x.shape, kernel, stride, padding, ceil_mode)
    height, width = x.shape[-2:]
    out = np.empty(x.shape[:-2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            top, left = i * sh - ph, j * sw - pw
            # Cells of the window inside input + padding (a ceil-mode window may hang over the padding).
            bottom, right = min(top + kh, height + ph), min(left + kw, width + pw)
            cells_with_padding = (bottom - top) * (right - left)
            rows = slice(max(top, 0), min(bottom, height))
            cols = slice(max(left, 0), min(right, width))
            cells_inside = (rows.stop - rows.start) * (cols.stop - cols.start)
            total = x[..., rows, cols].sum(axis=(-2, -1))
            out[..., i, j] = total / (cells_with_padding if count_include_pad else cells_inside)
    return out


def global_avg_pool2d(x: np.ndarray) -> np.ndarray:
    """Global average pooling (ResNet's last pooling): one number per channel, the mean of its map."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2 or 0 in x.shape[-2:]:
        raise InputError("calc.error_pool_shape", ndim=x.ndim)
    return x.mean(axis=(-2, -1))


# --- the vectorised versions -----------------------------------------------------------------------

def _windows(x: np.ndarray, fill: float, kernel, stride, padding, out) -> np.ndarray:
    """(..., oh, ow, kh, kw) view of every window over ``x`` padded with ``fill``."""
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = kernel, stride, padding, out
    # Pad on the right/bottom as far as the last (ceil-mode) window reaches.
    extra_h = max((oh - 1) * sh + kh - (x.shape[-2] + 2 * ph), 0)
    extra_w = max((ow - 1) * sw + kw - (x.shape[-1] + 2 * pw), 0)
    widths = [(0, 0)] * (x.ndim - 2) + [(ph, ph + extra_h), (pw, pw + extra_w)]
    padded = np.pad(x, widths, constant_values=fill)
    return sliding_window_view(padded, (kh, kw), axis=(-2, -1))[..., ::sh, ::sw, :, :][..., :oh, :ow, :, :]


def _cells(size: int, k: int, s: int, p: int, n: int, *, include_pad: bool) -> np.ndarray:
    """Per output position along one axis: how many cells of its window are counted by the divisor."""
    start = np.arange(n) * s - p
    end = np.minimum(start + k, size + p)
    if include_pad:
        return end - start
    return np.minimum(end, size) - np.maximum(start, 0)


def max_pool2d(x: np.ndarray, kernel, stride=None, padding=0, *, ceil_mode: bool = False) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    geometry = _check(x.shape, kernel, stride, padding, ceil_mode)
    return _windows(x, -np.inf, *geometry).max(axis=(-2, -1))


def avg_pool2d(x: np.ndarray, kernel, stride=None, padding=0, *, ceil_mode: bool = False,
               count_include_pad: bool = True) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    geometry = _check(x.shape, kernel, stride, padding, ceil_mode)
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = geometry
    totals = _windows(x, 0.0, *geometry).sum(axis=(-2, -1))
    rows = _cells(x.shape[-2], kh, sh, ph, oh, include_pad=count_include_pad)
    cols = _cells(x.shape[-1], kw, sw, pw, ow, include_pad=count_include_pad)
    return totals / np.outer(rows, cols)


def pool2d(x: np.ndarray, kind: str, kernel, stride=None, padding=0, *, ceil_mode: bool = False,
           count_include_pad: bool = True) -> np.ndarray:
    """``kind`` is "max", "avg" or "global_avg" (which ignores the other settings)."""
    if kind == "max":
        return max_pool2d(x, kernel, stride, padding, ceil_mode=ceil_mode)
    if kind == "avg":
        return avg_pool2d(x, kernel, stride, padding, ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    if kind == "global_avg":
        return global_avg_pool2d(x)[..., None, None]
    raise InputError("calc.error_pool_kind", kind=kind)


def output_size_latex(axis: str, size: int, kernel: int, stride: int, padding: int = 0, *,
                      ceil_mode: bool = False) -> tuple[str, bool]:
    """The output-size formula with the numbers substituted, and whether ceil mode's start rule removed
    the last window (it would have started in the right padding)."""
    span = size + 2 * padding - kernel
    left, right = (r"\left\lceil", r"\right\rceil") if ceil_mode else (r"\left\lfloor", r"\right\rfloor")
    rounded = -(-span // stride) if ceil_mode else span // stride
    out = pool_output_size(size, kernel, stride, padding, ceil_mode=ceil_mode)
    removed = ceil_mode and out == rounded  # pool_output_size took one away
    general = rf"{left} \frac{{{axis} + 2P - K}}{{S}} {right} + 1"
    numbers = rf"{left} \frac{{{size} + 2\cdot{padding} - {kernel}}}{{{stride}}} {right} + 1"
    result = f"{rounded + 1} - 1 = {out}" if removed else str(out)
    return derivation(f"{axis}_{{out}}", general, f"{numbers} = {result}"), removed


def derivation(lhs: str, *steps: str) -> str:
    """LaTeX of ``lhs = step = step ...``, one step a line, aligned on "=": on a phone the result shows without
    scrolling the formula sideways."""
    body = r" \\ ".join(f"{lhs if i == 0 else ''} &= {step}" for i, step in enumerate(steps))
    return rf"\begin{{aligned}} {body} \end{{aligned}}"


def window_bounds(size: int, kernel: int, stride: int, padding: int, index: int) -> tuple[int, int]:
    """[first, last] input index of output position ``index``'s window, clipped to the input."""
    start = index * stride - padding
    return max(start, 0), min(start + kernel, size) - 1


def window_cells(shape: tuple[int, int], out_width: int, kernel: int, stride: int, padding: int,
                 position: int) -> tuple[tuple[int, int], list[tuple[int, int]]]:
    """Output cell number ``position`` (row by row, from 0) and the input cells of its window, clipped to the
    input of ``shape``: what the page outlines on both grids."""
    row, col = divmod(position, out_width)
    r0, r1 = window_bounds(shape[0], kernel, stride, padding, row)
    c0, c1 = window_bounds(shape[1], kernel, stride, padding, col)
    return (row, col), [(r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)]


# Shown on the page as the homework's answer, in this order.
HOMEWORK_FUNCTIONS = (max_pool2d_loops, avg_pool2d_loops, max_pool2d, avg_pool2d, global_avg_pool2d)


def torch_pool2d(x: np.ndarray, kind: str, kernel, stride=None, padding=0, *, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> np.ndarray:
    """The same pooling by ``torch.nn.functional``: the page's cross-check of the hand-written versions."""
    import torch
    import torch.nn.functional as F

    t = torch.as_tensor(np.asarray(x, dtype=np.float64))[None]
    if kind == "max":
        out = F.max_pool2d(t, kernel, stride, padding, ceil_mode=ceil_mode)
    elif kind == "avg":
        out = F.avg_pool2d(t, kernel, stride, padding, ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    elif kind == "global_avg":
        out = F.adaptive_avg_pool2d(t, 1)
    else:
        raise InputError("calc.error_pool_kind", kind=kind)
    return out[0].numpy()
