import numpy as np

from resnet_viz.errors import InputError
from resnet_viz.lab.pooling import _cells, _check, _windows


def max_pool2d_loops(x: np.ndarray, kernel, stride=None, padding=0, *, ceil_mode: bool = False) -> np.ndarray:
    """最大池化，一次算一个输出位置。填充永远不会胜出：它相当于负无穷。"""
    x = np.asarray(x, dtype=np.float64)
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = _check(x.shape, kernel, stride, padding, ceil_mode)
    height, width = x.shape[-2:]
    out = np.empty(x.shape[:-2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            # 窗口在输入坐标中的位置；输入周围的填充从不被读取。
            top, left = i * sh - ph, j * sw - pw
            rows = slice(max(top, 0), min(top + kh, height))
            cols = slice(max(left, 0), min(left + kw, width))
            out[..., i, j] = x[..., rows, cols].max(axis=(-2, -1))
    return out


def avg_pool2d_loops(x: np.ndarray, kernel, stride=None, padding=0, *, ceil_mode: bool = False,
                     count_include_pad: bool = True) -> np.ndarray:
    """平均池化，一次算一个输出位置：窗口内数值之和除以格子数。"""
    x = np.asarray(x, dtype=np.float64)
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = _check(x.shape, kernel, stride, padding, ceil_mode)
    height, width = x.shape[-2:]
    out = np.empty(x.shape[:-2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            top, left = i * sh - ph, j * sw - pw
            # 窗口落在“输入 + 填充”内的格子（向上取整模式下窗口可能伸出填充之外）。
            bottom, right = min(top + kh, height + ph), min(left + kw, width + pw)
            cells_with_padding = (bottom - top) * (right - left)
            rows = slice(max(top, 0), min(bottom, height))
            cols = slice(max(left, 0), min(right, width))
            cells_inside = (rows.stop - rows.start) * (cols.stop - cols.start)
            total = x[..., rows, cols].sum(axis=(-2, -1))
            out[..., i, j] = total / (cells_with_padding if count_include_pad else cells_inside)
    return out


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


def global_avg_pool2d(x: np.ndarray) -> np.ndarray:
    """全局平均池化（ResNet 最后的池化）：每个通道一个数，即它整张特征图的平均值。"""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2 or 0 in x.shape[-2:]:
        raise InputError("calc.error_pool_shape", ndim=x.ndim)
    return x.mean(axis=(-2, -1))
