import numpy as np


def max_pool2d(x: np.ndarray, k: int = 2, s: int = 2) -> np.ndarray:
    """Max pooling of one 2-D map x: a k x k window moved by s, no padding."""
    h, w = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1  # output size: floor((H - K) / S) + 1
    out = np.zeros((oh, ow))
    for i in range(oh):  # each output row
        for j in range(ow):  # each output column
            window = x[i * s:i * s + k, j * s:j * s + k]  # the k x k input cells under output (i, j)
            out[i, j] = window.max()  # keep the largest value
    return out


def avg_pool2d(x: np.ndarray, k: int = 2, s: int = 2) -> np.ndarray:
    """Average pooling of one 2-D map x: a k x k window moved by s, no padding."""
    h, w = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1  # the same output size as max pooling
    out = np.zeros((oh, ow))
    for i in range(oh):
        for j in range(ow):
            window = x[i * s:i * s + k, j * s:j * s + k]
            out[i, j] = window.sum() / (k * k)  # the mean of the k * k values
    return out
