"""The conv lab's lessons: pooling as an exercise (checker and the shown code), why pool, multi-channel convolution
against torch, and the one-pixel shift (equivariance of convolution, invariance of pooling)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from resnet_viz.conv_lab import multichannel, pool_lesson, shift
from resnet_viz.conv_lab.handwritten import source
from resnet_viz.conv_lab.sliding import KERNELS
from resnet_viz.errors import InputError

# --- pooling as an exercise -------------------------------------------------------------------------

def test_exercise_is_reproducible_and_matches_torch():
    ex = pool_lesson.pool_exercise(4, seed=3)
    assert np.array_equal(ex.input, pool_lesson.pool_exercise(4, seed=3).input)
    assert not np.array_equal(ex.input, pool_lesson.pool_exercise(4, seed=4).input)
    t = torch.as_tensor(ex.input)[None]
    assert np.allclose(ex.max_out, F.max_pool2d(t, 2, 2)[0].numpy())
    assert np.allclose(ex.avg_out, F.avg_pool2d(t, 2, 2)[0].numpy())
    assert ex.max_out.shape == (2, 2) and pool_lesson.pool_exercise(8).avg_out.shape == (4, 4)


def test_checker_marks_each_cell():
    expected = np.array([[9.0, 7.0], [6.25, 4.5]])
    typed = [[9, 8], [6.25, None]]
    verdicts = pool_lesson.check_cells(typed, expected)
    assert verdicts.tolist() == [[1, 0], [1, -1]]
    assert pool_lesson.check_cells([[9, 7], ["6.25", 4.504]], expected).tolist() == [[1, 1], [1, 1]]
    assert pool_lesson.check_cells([[" 9 ", "7.0"], ["6,25", "four"]], expected).tolist() == [[1, 1], [1, -1]]
    assert pool_lesson.check_cells([[9, 7], [6.3, float("nan")]], expected).tolist() == [[1, 1], [0, -1]]
    s = pool_lesson.score(verdicts)
    assert (s.right, s.wrong, s.empty, s.total, s.done) == (2, 1, 1, 4, False)
    with pytest.raises(InputError):
        pool_lesson.check_cells([[1, 2, 3]], expected)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_shown_code_runs_and_agrees_with_the_checker(lang):
    code = source("pooling", lang)
    namespace: dict = {}
    exec(compile(code, f"pooling_{lang}.py", "exec"), namespace)  # the tests run it; the server never does
    for size in pool_lesson.EXERCISE_SIZES:
        ex = pool_lesson.pool_exercise(size, seed=size)
        for kind in ("max", "avg"):
            answer = namespace[f"{kind}_pool2d"](ex.input, 2, 2)
            assert (pool_lesson.check_cells(answer, ex.expected(kind)) == pool_lesson.RIGHT).all()


def test_the_code_has_comments_in_each_language():
    en, zh = source("pooling", "en"), source("pooling", "zh")
    assert "# keep the largest value" in en and "取窗口中的最大值" in zh
    strip = lambda text: [line.split("#")[0].rstrip() for line in text.splitlines() if '"""' not in line]  # noqa: E731
    assert strip(en) == strip(zh)  # the same code, only the comments differ


def test_why_pool_numbers():
    w = pool_lesson.why_pool(32, 64, 2, 3)
    assert (w.values_before, w.values_after, w.values_ratio) == (65536, 16384, 4.0)
    assert w.next_macs_before == 9 * 64 * 64 * 32 * 32 and w.next_macs_after * 4 == w.next_macs_before
    assert (w.rf_without, w.rf_with) == (3, 6)  # a 3 x 3 conv after a 2 x 2 pool sees 6 x 6 input pixels


# --- multi-channel convolution ----------------------------------------------------------------------

@pytest.mark.parametrize(("stride", "padding"), [(1, 0), (1, 1), (2, 1)])
def test_multichannel_matches_torch(stride, padding):
    x = multichannel.random_rgb(5, seed=2)
    w = multichannel.random_filter(3, seed=5)
    demo = multichannel.multichannel_conv(x, w, bias=0.5, stride=stride, padding=padding)
    reference = F.conv2d(torch.as_tensor(x)[None], torch.as_tensor(w)[None], torch.tensor([0.5], dtype=torch.float64),
                         stride=stride, padding=padding)[0, 0].numpy()
    assert np.allclose(demo.output, reference) and np.allclose(multichannel.torch_multichannel(demo), reference)
    assert np.allclose(demo.per_channel.sum(axis=0) + 0.5, demo.output)


def test_multichannel_step_and_formula():
    x = np.stack([np.full((3, 3), 1.0), np.full((3, 3), 2.0), np.full((3, 3), 3.0)])
    w = np.stack([np.ones((3, 3)), np.zeros((3, 3)), -np.ones((3, 3))])
    demo = multichannel.multichannel_conv(x, w, bias=1.0)
    assert demo.output.tolist() == [[9 * 1 - 9 * 3 + 1.0]]
    assert [s.total for s in demo.step(0, 0)] == [9.0, 0.0, -27.0]
    general, lines = demo.latex(0, 0)
    assert general.startswith("O_{0,0} =") and r"\sum_{d=0}^{C_{in}-1=2} W_{i,j,d}" in general  # the notes' letters
    assert lines[-1] == "O = (9) + (0) + (-27) + (1) = -17"
    assert lines[0].startswith("R: (1) + (1)")


def test_multichannel_filters_and_bad_input():
    x = multichannel.random_rgb(5)
    same = multichannel.multichannel_conv(x, multichannel.FILTERS["edge_all"])
    red = multichannel.multichannel_conv(x, multichannel.FILTERS["red_only"])
    assert np.allclose(red.output, red.per_channel[0]) and not np.allclose(same.output, red.output)
    with pytest.raises(InputError):
        multichannel.multichannel_conv(x, np.ones((2, 3, 3)))  # C_in of the filter must be the input's
    with pytest.raises(InputError):
        multichannel.multichannel_conv(x, np.ones((3, 7, 7)))  # no output
    crop = multichannel.image_crop(np.arange(32 * 32 * 3, dtype=np.uint8).reshape(32, 32, 3) % 255, 5, 30, 30)
    assert crop.shape == (3, 5, 5) and crop.max() <= 1.0


# --- the one-pixel shift ----------------------------------------------------------------------------

def test_circular_conv_matches_torch():
    x = np.random.default_rng(0).integers(0, 9, (8, 8)).astype(float)
    for kernel in (KERNELS["sobel_x"], KERNELS["laplacian"], np.ones((2, 2))):
        k = np.asarray(kernel, dtype=float)
        assert np.allclose(shift.circular_conv(x, k), shift.torch_circular_conv(x, k))


def test_shift_blob():
    demo = shift.shift_demo(shift.INPUTS["blob"], KERNELS["sobel_x"], 0, 1)
    assert demo.equivariant and demo.conv_changed > 0  # the output moved with the input
    assert demo.gap_unchanged
    assert demo.pooled.shape == (4, 4)
    # Sobel x + ReLU keeps the blob's right edge; after the shift its response also reaches pooled column 3:
    # three of the 16 pooled values change, 13 stay.
    assert demo.pool_unchanged == 13 and demo.gap == demo.gap_shifted == 2.0
    bar = shift.shift_demo(shift.INPUTS["bar"], KERNELS["sobel_x"], 0, 1)
    assert bar.pool_unchanged == 16 and bar.conv_changed == 16  # the bar's edge stays inside its windows


@pytest.mark.parametrize("seed", range(5))
def test_shift_laws_hold_on_random_inputs(seed):
    x = np.random.default_rng(seed).integers(0, 9, (8, 8))
    for dy, dx in ((0, 1), (1, 0), (-1, -1), (0, 2)):
        demo = shift.shift_demo(x, KERNELS["sobel_y"], dy, dx)
        assert demo.equivariant and demo.gap_unchanged
    two = shift.shift_demo(x, KERNELS["sobel_y"], 0, 2)  # a shift by the pool's stride moves the pooled map by one
    assert np.allclose(two.pooled_shifted, np.roll(two.pooled, 1, axis=1))


def test_shift_rejects_bad_input():
    with pytest.raises(InputError):
        shift.shift_demo([[1]], KERNELS["sobel_x"])
    with pytest.raises(InputError):
        shift.shift_demo(shift.INPUTS["blob"], KERNELS["sobel_x"], 0, 99)


def test_the_pooling_answer_in_chinese_is_the_tested_code_with_chinese_comments():
    from resnet_viz.conv_lab.handwritten import homework_pooling
    from resnet_viz.conv_lab.pooling import HOMEWORK_FUNCTIONS

    en, zh = homework_pooling("en"), homework_pooling("zh")
    assert len(en) == len(zh) == len(HOMEWORK_FUNCTIONS)

    def code_only(text: str) -> list[str]:
        lines = [line.split("#")[0].rstrip() for line in text.splitlines()]
        return [line for line in lines if line and not line.lstrip().startswith('"""')]

    assert [code_only(t) for t in en] == [code_only(t) for t in zh]  # only the comments differ
    # every comment and docstring has its translation: a new English one would show here
    assert all(not re.search(r"#\s*[A-Za-z]", t) and not re.search(r'"""[A-Z]', t) for t in zh), zh
