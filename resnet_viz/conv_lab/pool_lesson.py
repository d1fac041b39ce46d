"""Pooling as an exercise (the course's homework 2) and why networks pool.

The exercise: a random input of whole numbers, the student types the max- and average-pooling output cell by cell,
and every cell is checked against ``resnet_viz.conv_lab.pooling``. Why pool: the lesson's three reasons with numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from resnet_viz.conv_lab.calc import Layer, receptive_field_chain, whole
from resnet_viz.conv_lab.pooling import avg_pool2d, max_pool2d
from resnet_viz.errors import InputError

EXERCISE_SIZES = (4, 6, 8)
TOLERANCE = 0.005  # an average typed with two decimals is right
RIGHT, WRONG, EMPTY = 1, 0, -1


@dataclass(frozen=True)
class PoolExercise:
    input: np.ndarray  # whole numbers 0..9, size x size
    kernel: int
    stride: int

    @property
    def max_out(self) -> np.ndarray:
        return max_pool2d(self.input, self.kernel, self.stride)

    @property
    def avg_out(self) -> np.ndarray:
        return avg_pool2d(self.input, self.kernel, self.stride)

    def expected(self, kind: str) -> np.ndarray:
        if kind not in ("max", "avg"):
            raise InputError("calc.error_pool_kind", kind=kind)
        return self.max_out if kind == "max" else self.avg_out


def pool_exercise(size: int = 4, seed: int = 0, *, kernel: int = 2, stride: int = 2) -> PoolExercise:
    """A reproducible exercise: a ``size`` x ``size`` grid of digits, pooled by ``kernel`` x ``kernel`` windows."""
    n = whole(size, "H", maximum=max(EXERCISE_SIZES))
    if n < kernel:
        raise InputError("calc.error_output_empty", axis="H", out=(n - kernel) // stride + 1, kernel=kernel,
                         padded=n)
    grid = np.random.default_rng(int(seed)).integers(0, 10, size=(n, n)).astype(float)
    return PoolExercise(grid, kernel, stride)


def check_cells(answers: object, expected: np.ndarray, tolerance: float = TOLERANCE) -> np.ndarray:
    """Per cell: RIGHT, WRONG, or EMPTY (nothing typed, or not a number). ``answers`` is a grid of the same shape
    of numbers or typed text ("", None or NaN for an empty cell)."""
    typed = np.asarray(getattr(answers, "values", answers), dtype=object)
    if typed.shape != expected.shape:
        raise InputError("calc.error_input_shape")
    out = np.full(expected.shape, EMPTY, dtype=np.int8)
    for (i, j), v in np.ndenumerate(typed):
        try:
            number = float(v.strip().replace(",", ".") if isinstance(v, str) else v)  # "6,25" is 6.25
        except (TypeError, ValueError):
            continue
        if math.isfinite(number):
            out[i, j] = RIGHT if abs(number - expected[i, j]) <= tolerance + 1e-9 else WRONG
    return out


@dataclass(frozen=True)
class Score:
    right: int
    wrong: int
    empty: int

    @property
    def total(self) -> int:
        return self.right + self.wrong + self.empty

    @property
    def done(self) -> bool:
        return self.right == self.total


def score(verdicts: np.ndarray) -> Score:
    return Score(int((verdicts == RIGHT).sum()), int((verdicts == WRONG).sum()), int((verdicts == EMPTY).sum()))


# --- why pool ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WhyPool:
    size: int  # H = W of the feature map
    channels: int
    kernel: int  # the pool's window and stride
    values_before: int
    values_after: int
    next_macs_before: int  # multiply-adds of the next 3 x 3 conv (C -> C, "same" padding) without / with the pool
    next_macs_after: int
    rf_without: int  # receptive field of the next conv's unit, in the pooled map's input pixels
    rf_with: int

    @property
    def values_ratio(self) -> float:
        return self.values_before / self.values_after


def why_pool(size: int = 32, channels: int = 64, kernel: int = 2, next_kernel: int = 3) -> WhyPool:
    """A ``kernel`` x ``kernel`` pool with stride ``kernel`` on a size x size x C map, then a ``next_kernel`` conv:
    how many values remain, what the next conv costs, and how far its units see, with and without the pool."""
    n = whole(size, "H", maximum=4096)
    c = whole(channels, "C", maximum=4096)
    k = whole(kernel, "K", maximum=n)
    nk = whole(next_kernel, "K", maximum=15)
    pad = nk // 2
    out = (n - k) // k + 1
    conv = Layer("conv", nk, 1, pad)
    without = receptive_field_chain([conv], n)[-1].rf_out
    with_pool = receptive_field_chain([Layer("maxpool", k, k, 0), conv], n)[-1].rf_out
    macs = nk * nk * c * c  # per output position
    return WhyPool(n, c, k, n * n * c, out * out * c, macs * n * n, macs * out * out, without, with_pool)
