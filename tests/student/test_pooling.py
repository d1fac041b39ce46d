"""check pooling (resnet_viz.student.pooling): hand-written pooling against torch.nn.functional on the case table,
the first wrong case with both arrays and its wrong cells marked, functions without padding, a wrong shape, and the
line for the report."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from resnet_viz.conv_lab import pooling as hand
from resnet_viz.i18n import t
from resnet_viz.student.code import InProcess, Target
from resnet_viz.student.demo import POOLING
from resnet_viz.student.pooling import CASES, CHANNEL_CASES, check_function, check_pooling, grid, report
from tests.conftest import ROOT

MY_POOL = ROOT / "tests" / "examples" / "my_pool.py"


@pytest.mark.parametrize("case", CASES + CHANNEL_CASES, ids=lambda c: f"{c.what}-{c.shape}")
def test_every_case_is_legal_for_torch_and_agrees_with_the_lab(case):
    x = case.input()
    assert x.shape == case.shape
    for kind, fn in (("max", F.max_pool2d), ("avg", F.avg_pool2d)):
        want = fn(torch.from_numpy(x)[None], case.kernel, case.stride, case.padding)[0].numpy()
        np.testing.assert_allclose(hand.pool2d(x, kind, case.kernel, case.stride, case.padding), want)
    if case.values == "negative":
        assert (x < 0).all()


def test_the_conv_labs_hand_written_pooling_passes_without_padding():
    checks = check_pooling(POOLING.path, {"max": "max_pool2d", "avg": "avg_pool2d"}, InProcess())
    for c in checks:
        assert c.ok and not c.takes_padding and c.passed == c.total == 12 and c.skipped == 3
    last = report(checks, "my_pool.py", "en")[-1]
    assert last.startswith("PASS my_pool.py: max_pool2d 12/12, avg_pool2d 12/12 cases equal")
    assert "no padding; 2-D; kernels 1–4, strides 1–4" in last


def test_padding_and_channels_when_the_functions_take_them():
    checks = check_pooling(MY_POOL, {"max": "max_pool", "avg": "avg_pool"}, InProcess(), channels=True)
    assert all(c.ok and c.takes_padding and c.passed == 18 and not c.skipped for c in checks)
    assert t("check.pool_with_channels", "zh") in report(checks, "my_pool.py", "zh")[-1]


def test_a_maximum_that_starts_from_zero_fails_on_negative_values():
    check = check_function(Target(MY_POOL, "max_from_zero"), "max", InProcess())
    f = check.failure
    assert not check.ok and f.case.what == "negative" and check.passed == [c.what for c in CASES].index("negative")
    assert f.received.tolist() == [[0, 0], [0, 0]] and (f.verdicts != 1).all()
    lines = report([check], "my_pool.py", "en")
    assert any("case 10 does not: 4 × 4 of negative values" in line for line in lines)
    assert lines[-2:] == ["  0* 0*", "  0* 0*"] and not lines[-1].startswith("PASS")


def test_a_wrong_output_size_shows_both_shapes():
    check = check_function(Target(MY_POOL, "avg_ceil"), "avg", InProcess())
    assert check.failure.case.what == "odd" and check.failure.verdicts is None
    lines = report([check], "my_pool.py", "en")
    assert t("check.pool_expected", "en", torch="torch.nn.functional.avg_pool2d", shape="2 × 2") in lines
    assert t("check.pool_received_shape", "en", shape="3 × 3") in lines


def test_a_function_with_too_few_parameters_is_told_how_it_is_called():
    check = check_function(Target(MY_POOL, "two_parameters"), "max", InProcess())
    assert check.error is not None and check.error.key == "check.pool_parameters" and not check.ok
    assert "two_parameters(x, kernel, stride)" in report([check], "my_pool.py", "en")[0]


def test_grid_marks_wrong_cells_and_prints_channels():
    assert grid(np.array([[1.5, -2.0], [3.0, 4.0]]), np.array([[1, 0], [1, 1]])) == ["  1.5   -2*", "    3    4"]
    assert grid(np.zeros((2, 1, 2)))[0] == "[0]" and len(grid(np.zeros((2, 1, 2)))) == 4
