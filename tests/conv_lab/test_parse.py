"""What the lab reads from typed tables and writes back as text, and the cells the page outlines."""

from __future__ import annotations

import math

import numpy as np
import pytest

from resnet_viz.conv_lab import calc, parse, pooling, sliding
from resnet_viz.errors import InputError

KIND_LABELS = {"conv": "Conv", "maxpool": "Max pool", "avgpool": "Avg pool"}


@pytest.mark.parametrize("value, text", [(9408, "9,408"), (150528000.0, "150,528,000"), (-10.0, "-10"),
                                         (0, "0"), (0.5, "0.5"), (1 / 3, "0.333"), (1 / 16, "0.0625")])
def test_format_number(value, text):
    assert parse.format_number(value) == text


def test_sum_terms_writes_each_product_in_brackets():
    assert parse.sum_terms(np.array([10.0, 0.0, -20.0, 0.25])) == "(10) + (0) + (-20) + (0.25)"


def test_start_grid_cuts_or_fills_with_zeros():
    example = np.array([[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(parse.start_grid(example, 1, 2), [[1, 2]])
    grown = parse.start_grid(example, 3, 4)
    np.testing.assert_array_equal(grown, [[1, 2, 3, 0], [4, 5, 6, 0], [0, 0, 0, 0]])
    assert grown.dtype == example.dtype


def test_custom_chain_example_round_trips_and_is_the_resnet_stem_plus_a_conv():
    records = parse.chain_records(parse.CUSTOM_CHAIN_EXAMPLE, KIND_LABELS)
    assert records[1] == {"kind": "Max pool", "K": 3, "S": 2, "P": 1, "D": 1, "ceil": False}
    assert parse.chain_from_records(records, KIND_LABELS) == list(parse.CUSTOM_CHAIN_EXAMPLE)
    last = calc.receptive_field_chain(list(parse.CUSTOM_CHAIN_EXAMPLE), 224)[-1]
    assert (last.size_out, last.rf_out, last.jump_out) == (56, 19, 4)


def test_chain_rows_with_empty_cells():
    rows = [{"kind": "Max pool", "K": 3, "S": 2, "P": 0, "D": 1, "ceil": math.nan},
            {"kind": "Avg pool", "K": 1, "S": 1, "P": 0, "D": 1, "ceil": None},
            {"kind": "Max pool", "K": 3, "S": 2, "P": 0, "D": 1, "ceil": True}]
    layers = parse.chain_from_records(rows, KIND_LABELS)
    assert [(layer.kind, layer.ceil_mode) for layer in layers] == [("maxpool", False), ("avgpool", False),
                                                                  ("maxpool", True)]
    # 9 -> floor(6 / 2) + 1 = 4 -> 4 -> ceil(1 / 2) + 1 = 2 (floor would give 1).
    assert [r.size_out for r in calc.receptive_field_chain(layers, 9)] == [4, 4, 2]


def test_chain_row_without_a_known_kind_names_the_row():
    rows = [{"kind": "Conv", "K": 3, "S": 1, "P": 1, "D": 1, "ceil": False},
            {"kind": None, "K": 3, "S": 1, "P": 1, "D": 1, "ceil": False}]
    with pytest.raises(InputError) as info:
        parse.chain_from_records(rows, KIND_LABELS)
    assert info.value.key == "calc.error_layer_kind" and info.value.params["row"] == 2


def test_chain_row_with_an_empty_number_is_refused_by_the_chain():
    rows = [{"kind": "Conv", "K": math.nan, "S": 1, "P": 1, "D": 1, "ceil": False}]
    with pytest.raises(InputError):
        calc.receptive_field_chain(parse.chain_from_records(rows, KIND_LABELS), 224)


def test_step_taps_follow_stride_and_dilation():
    demo = sliding.sliding_conv(np.ones((7, 7)), np.ones((2, 2)), stride=2, padding=1, dilation=2)
    step = demo.step(demo.output.shape[1] + 1)  # output row 1, column 1
    assert step.taps == [(2, 2), (2, 4), (4, 2), (4, 4)]


def test_window_cells_of_a_pooling_position():
    # 4 x 4 input, k=3, s=2, p=1 -> 2 x 2 output; position 3 is output (1, 0), whose window starts in the padding.
    cell, window = pooling.window_cells((4, 4), 2, 3, 2, 1, 2)
    assert cell == (1, 0)
    assert window == [(1, 0), (1, 1), (2, 0), (2, 1), (3, 0), (3, 1)]
    assert pooling.window_cells((4, 4), 2, 2, 2, 0, 3) == ((1, 1), [(2, 2), (2, 3), (3, 2), (3, 3)])
