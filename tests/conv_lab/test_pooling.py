"""The hand-written NumPy pooling equals torch.nn.functional, padding, stride != kernel and ceil mode included."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from resnet_viz.conv_lab import pooling
from resnet_viz.errors import InputError

NOTES_INPUT = np.array([[1, 4, 2, 8], [3, 9, 5, 7], [2, 6, 4, 1], [5, 3, 7, 2]])


def test_notes_example_max_pool():
    expected = np.array([[9, 8], [6, 7]])
    np.testing.assert_array_equal(pooling.max_pool2d_loops(NOTES_INPUT, 2, 2), expected)
    np.testing.assert_array_equal(pooling.max_pool2d(NOTES_INPUT, 2, 2), expected)


def test_notes_example_avg_and_global():
    np.testing.assert_allclose(pooling.avg_pool2d(NOTES_INPUT, 2), [[4.25, 5.5], [4.0, 3.5]])
    assert pooling.global_avg_pool2d(NOTES_INPUT) == pytest.approx(NOTES_INPUT.mean())


@st.composite
def pool_configs(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    ceil = draw(st.booleans())
    h = draw(st.integers(max(kh - 2 * ph, 1), 9))
    w = draw(st.integers(max(kw - 2 * pw, 1), 9))
    return (h, w), (kh, kw), (sh, sw), (ph, pw), ceil


@settings(max_examples=120, deadline=None)
@given(config=pool_configs(), seed=st.integers(0, 2**16), include_pad=st.booleans())
def test_matches_torch(config, seed, include_pad):
    (h, w), kernel, stride, padding, ceil = config
    x = np.random.default_rng(seed).normal(size=(2, h, w))
    xt = torch.from_numpy(x)[None]
    want_max = F.max_pool2d(xt, kernel, stride, padding, ceil_mode=ceil)[0].numpy()
    want_avg = F.avg_pool2d(xt, kernel, stride, padding, ceil_mode=ceil, count_include_pad=include_pad)[0].numpy()
    for fn in (pooling.max_pool2d_loops, pooling.max_pool2d):
        np.testing.assert_allclose(fn(x, kernel, stride, padding, ceil_mode=ceil), want_max)
    for fn in (pooling.avg_pool2d_loops, pooling.avg_pool2d):
        got = fn(x, kernel, stride, padding, ceil_mode=ceil, count_include_pad=include_pad)
        np.testing.assert_allclose(got, want_avg, rtol=1e-12, atol=1e-12)
    for axis in (0, 1):
        assert pooling.pool_output_size((h, w)[axis], kernel[axis], stride[axis], padding[axis],
                                        ceil_mode=ceil) == want_max.shape[-2 + axis]


def test_ceil_mode_window_must_start_inside():
    # 5 wide, k=2, s=2, p=1: floor gives 3, plain ceil would give 4, but the 4th window would start at
    # index 5 of the padded row (the right padding), so torch keeps 3.
    assert pooling.pool_output_size(5, 2, 2, 1, ceil_mode=True) == 3
    assert F.max_pool2d(torch.zeros(1, 1, 5, 5), 2, 2, 1, ceil_mode=True).shape[-1] == 3
    # Without padding the extra window starts inside the input and is kept.
    assert pooling.pool_output_size(5, 2, 2, 0, ceil_mode=True) == 3
    assert pooling.pool_output_size(5, 2, 2, 0, ceil_mode=False) == 2


def test_formula_shows_the_ceil_rule():
    latex, removed = pooling.output_size_latex("W", 5, 2, 2, 1, ceil_mode=True)
    assert removed and latex.endswith(r"\right\rceil + 1 = 4 - 1 = 3 \end{aligned}")
    latex, removed = pooling.output_size_latex("H", 4, 2, 2)
    assert not removed and r"\frac{4 + 2\cdot0 - 2}{2}" in latex and latex.endswith(r"= 2 \end{aligned}")


def test_global_average_equals_adaptive_pool():
    x = np.random.default_rng(0).normal(size=(3, 7, 5))
    want = F.adaptive_avg_pool2d(torch.from_numpy(x), 1).numpy()
    np.testing.assert_allclose(pooling.pool2d(x, "global_avg", 1), want)


@pytest.mark.parametrize("kwargs, key", [
    (dict(kernel=3, padding=2), "calc.error_pool_padding"),
    (dict(kernel=5), "calc.error_output_empty"),
    (dict(kernel=0), "calc.error_at_least"),
    (dict(kernel=2, stride=-1), "calc.error_at_least"),
    (dict(kernel=10**9), "calc.error_too_large"),
])
def test_impossible_settings_raise_input_error(kwargs, key):
    with pytest.raises(InputError) as info:
        pooling.max_pool2d(np.zeros((4, 4)), **kwargs)
    assert info.value.key == key
    with pytest.raises(InputError):
        pooling.avg_pool2d_loops(np.zeros((4, 4)), **kwargs)


def test_unknown_kind():
    with pytest.raises(InputError):
        pooling.pool2d(np.zeros((2, 2)), "median", 2)
