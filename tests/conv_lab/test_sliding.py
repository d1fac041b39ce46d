"""The step-by-step convolution demo equals F.conv2d, one step at a time, and filters real images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from resnet_viz.conv_lab import sliding
from resnet_viz.errors import InputError
from resnet_viz.i18n import has_key
from tests.conftest import ROOT


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 8), w=st.integers(1, 8), kh=st.integers(1, 4), kw=st.integers(1, 4),
       stride=st.integers(1, 3), padding=st.integers(0, 3), dilation=st.integers(1, 2), seed=st.integers(0, 999))
def test_steps_match_conv2d(h, w, kh, kw, stride, padding, dilation, seed):
    rng = np.random.default_rng(seed)
    x, k = rng.integers(-5, 10, size=(h, w)), rng.integers(-3, 4, size=(kh, kw))
    t_x = torch.tensor(x, dtype=torch.float64)[None, None]
    t_k = torch.tensor(k, dtype=torch.float64)[None, None]
    try:
        want = F.conv2d(t_x, t_k, stride=stride, padding=padding, dilation=dilation)[0, 0].numpy()
    except RuntimeError:
        with pytest.raises(InputError):
            sliding.sliding_conv(x, k, stride=stride, padding=padding, dilation=dilation)
        return
    demo = sliding.sliding_conv(x, k, stride=stride, padding=padding, dilation=dilation)
    np.testing.assert_allclose(demo.output, want)
    assert demo.padded.shape == (h + 2 * padding, w + 2 * padding)
    for index in range(demo.steps):
        step = demo.step(index)
        assert step.total == pytest.approx(want[step.row, step.col])
        np.testing.assert_array_equal(step.products, step.window * k)
        np.testing.assert_array_equal(step.window, demo.padded[np.ix_(step.rows, step.cols)])
        partial = demo.output_until(index)
        assert np.isfinite(partial).sum() == index + 1
        assert partial[step.row, step.col] == pytest.approx(step.total)


def test_notes_vertical_edge():
    demo = sliding.sliding_conv(sliding.INPUTS["vertical_edge"], sliding.KERNELS["sobel_x"])
    assert demo.output.shape == (4, 4)
    np.testing.assert_array_equal(demo.output, [[0, 40, 40, 0]] * 4)  # the edge lights up in the middle
    first = demo.step(0)
    assert (first.row, first.col, first.rows, first.cols) == (0, 0, (0, 1, 2), (0, 1, 2))
    assert demo.step(10**6).index == demo.steps - 1  # out-of-range steps are clamped, never an error


def test_presets_are_valid():
    for name, kernel in sliding.KERNELS.items():
        assert has_key(f"conv_lab.kernel_{name}"), name
        assert np.asarray(kernel).shape == (3, 3)
    for name in sliding.INPUTS:
        assert has_key(f"conv_lab.input_{name}"), name
    assert sliding.random_input(5, 7, seed=3).shape == (5, 7)
    np.testing.assert_array_equal(sliding.random_input(4, 4, seed=1), sliding.random_input(4, 4, seed=1))


@pytest.mark.parametrize("x, kernel, kwargs, key", [
    ([[1, 2], [3]], [[1]], {}, "calc.error_input_shape"),
    ([[1, None], [3, 4]], [[1]], {}, "calc.error_input_value"),
    ([[1, float("nan")]], [[1]], {}, "calc.error_input_value"),
    ([[1, 2]], [["a"]], {}, "calc.error_kernel_value"),
    (np.zeros((17, 3)), [[1]], {}, "calc.error_input_too_large"),
    (np.zeros((3, 3)), np.ones((8, 8)), {}, "calc.error_kernel_too_large"),
    (np.zeros((3, 3)), np.ones((5, 5)), {}, "calc.error_output_empty"),
    (np.zeros((3, 3)), np.ones((2, 2)), dict(stride=0), "calc.error_at_least"),
    (np.zeros((3, 3)), np.ones((2, 2)), dict(padding=-1), "calc.error_at_least"),
    (np.zeros((3, 3)), np.ones((2, 2)), dict(dilation=10**9), "calc.error_too_large"),
    (np.zeros((0, 3)), np.ones((2, 2)), {}, "calc.error_input_shape"),
])
def test_bad_grids(x, kernel, kwargs, key):
    with pytest.raises(InputError) as info:
        sliding.sliding_conv(x, kernel, **kwargs)
    assert info.value.key == key and has_key(key)


def test_filter_real_image():
    image = Image.open(ROOT / "assets" / "samples" / "photos" / "chelsea.jpg")
    result = sliding.filter_image(image, sliding.KERNELS["identity"], max_side=64)
    assert max(result.gray.shape) == 64 and result.display.dtype == np.uint8
    np.testing.assert_allclose(result.response, result.gray, atol=1e-6)  # identity changes nothing
    edges = sliding.filter_image(image, sliding.KERNELS["sobel_x"], max_side=64)
    assert edges.signed and edges.display.max() == 255
    # Stride 2 halves the size; the response equals F.conv2d on the same gray image.
    strided = sliding.filter_image(image, sliding.KERNELS["gaussian_blur"], stride=2, max_side=64)
    want = F.conv2d(torch.from_numpy(strided.gray)[None, None],
                    torch.tensor(sliding.KERNELS["gaussian_blur"], dtype=torch.float32)[None, None],
                    stride=2, padding=1)[0, 0].numpy()
    np.testing.assert_allclose(strided.response, want, atol=1e-6)
    assert not strided.signed
