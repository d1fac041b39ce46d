"""Pooling by hand (homework 2) as students write it: right ones with padding, and the usual mistakes."""

import numpy as np


def max_pool(x, k, s, p=0):
    """Max pooling with padding: the padded cells are -inf, so they never win."""
    x = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(p, p), (p, p)], constant_values=-np.inf)
    h, w = x.shape[-2:]
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    out = np.zeros(x.shape[:-2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[..., i, j] = x[..., i * s:i * s + k, j * s:j * s + k].max(axis=(-2, -1))
    return out


def avg_pool(x, k, s, p=0):
    """Average pooling with zero padding, divided by k * k (PyTorch's count_include_pad=True)."""
    x = np.pad(x, [(0, 0)] * (x.ndim - 2) + [(p, p), (p, p)])
    h, w = x.shape[-2:]
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    out = np.zeros(x.shape[:-2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[..., i, j] = x[..., i * s:i * s + k, j * s:j * s + k].mean(axis=(-2, -1))
    return out


def max_from_zero(x, k, s):
    """Wrong: the maximum starts at 0, so a window of negative values gives 0."""
    h, w = x.shape
    out = np.zeros(((h - k) // s + 1, (w - k) // s + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            best = 0
            for a in range(k):
                for b in range(k):
                    best = max(best, x[i * s + a, j * s + b])
            out[i, j] = best
    return out


def avg_ceil(x, k, s):
    """Wrong: the output size rounds up, so odd sizes get a row and a column too many."""
    h, w = x.shape
    out = np.zeros((-(-(h - k) // s) + 1, -(-(w - k) // s) + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = x[i * s:i * s + k, j * s:j * s + k].mean()
    return out


def max_forever(x, k, s):
    """Wrong: the loop's index never moves on."""
    i = 0
    while i < x.shape[0]:
        pass
    return x


def two_parameters(x, k):
    return x
