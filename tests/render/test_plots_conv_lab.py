"""The Conv & pooling lab's figures (resnet_viz.render.plots.conv_lab): the cells, numbers and outlines they draw."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from resnet_viz.conv_lab import calc, pooling, sliding
from resnet_viz.i18n import t
from resnet_viz.render.plots import conv_lab as plots
from resnet_viz.render.plots.layout import AXIS_LINE, wrap


def _outlined(fig) -> list[tuple[int, int]]:
    """(row, col) of every one-cell red outline (one path shape "M x,y H x+1 V y+1 H x Z" per cell)."""
    cells = []
    for shape in fig.layout.shapes:
        if shape.line.color != plots.HIGHLIGHT_COLOR or shape.type != "path":
            continue
        for square in re.findall(r"M([-\d.]+),([-\d.]+)H([-\d.]+)V([-\d.]+)H[-\d.]+Z", shape.path):
            x0, y0, x1, y1 = map(float, square)
            assert (x1 - x0, y1 - y0) == (1, 1)
            cells.append((round(y0 + 0.5), round(x0 + 0.5)))
    return sorted(cells)


def _heatmap(fig):
    return [trace for trace in fig.data if trace.type == "heatmap"][-1]


def test_matrix_figure_writes_every_number_and_outlines_cells():
    values = np.array([[1.0, 2.5], [1234.0, -0.125]])
    fig = plots.matrix_figure(values, title="x", highlight=[(0, 1), (1, 0)], frame=(0, 0, 1, 1))
    heatmap = _heatmap(fig)
    assert len(fig.data) == 1
    assert [list(row) for row in heatmap.text] == [["1", "2.5"], ["1,234", "-0.125"]]
    assert _outlined(fig) == [(0, 1), (1, 0)]
    frame = [s for s in fig.layout.shapes if s.line.dash == "dot"]
    assert [(f.x0, f.y0, f.x1, f.y1) for f in frame] == [(-0.5, -0.5, 1.5, 1.5)]
    assert fig.layout.yaxis.range == (1.5, -0.5)  # row 0 on top, like the matrix


def test_matrix_figure_greys_cells_not_computed_yet():
    fig = plots.matrix_figure(np.array([[3.0, math.nan]]), title="x")
    assert len(fig.data) == 2  # grey squares under the values
    assert [list(row) for row in _heatmap(fig).text] == [["3", ""]]


def test_sliding_figures_of_a_step():
    demo = sliding.sliding_conv(sliding.INPUTS["vertical_edge"], sliding.KERNELS["sobel_x"], padding=1)
    padded, products, output = plots.sliding_figures(demo, 9, "zh")  # output row 1, column 3 of 6 x 6
    assert _heatmap(padded).z.shape == (8, 8)
    assert _outlined(padded) == [(r, c) for r in (1, 2, 3) for c in (3, 4, 5)]
    frame = [s for s in padded.layout.shapes if s.line.dash == "dot"]
    assert [(f.x0, f.y0, f.x1, f.y1) for f in frame] == [(0.5, 0.5, 6.5, 6.5)]  # the input inside the padding
    assert padded.layout.title.text == wrap(t("conv_lab.fig_padded", "zh", padding=1))
    # The window reads 10 0 0 on each row; the kernel's middle row is 2 0 -2.
    assert list(_heatmap(products).text[1]) == ["10×2<br>=20", "0×0<br>=0", "0×-2<br>=0"]
    assert _outlined(output) == [(1, 3)]
    shown = _heatmap(output).z
    assert np.isnan(shown).sum() == 36 - 10 and shown[1, 3] == 40


def test_pooling_figures_outline_the_window_and_its_output():
    grid = np.asarray(sliding.INPUTS["notes_example"], dtype=float)
    out = pooling.pool2d(grid, "max", 2, 2, 0)
    before, after = plots.pooling_figures(grid, out, pooling.window_cells(grid.shape, 2, 2, 2, 0, 1), "en")
    assert _outlined(before) == [(0, 2), (0, 3), (1, 2), (1, 3)]
    assert _outlined(after) == [(0, 1)]
    assert [list(row) for row in _heatmap(after).text] == [["9", "8"], ["6", "7"]]
    assert after.layout.title.text == wrap(t("conv_lab.fig_pool_output", "en", h=2, w=2))
    before, after = plots.pooling_figures(grid, out, None, "en")
    assert not before.layout.shapes and not after.layout.shapes


def test_field_figure_of_the_resnet_stem():
    size, layers = calc.CHAIN_PRESETS["resnet34_stem"]
    rows = calc.receptive_field_chain(list(layers), size)
    fig = plots.field_figure(rows, "en")
    units, centre = fig.data
    assert len(units.x) == 56 * 56 and sorted(set(units.x))[:3] == [0, 4, 8]  # one dot per unit, 4 pixels apart
    assert (centre.x[0], centre.y[0]) == (108, 108)  # unit 27 of 56
    dashed = [s for s in fig.layout.shapes if s.line.dash == "dash"]
    assert [(s.x0, s.x1) for s in dashed] == [(102.5, 113.5)]  # 11 pixels wide
    assert fig.layout.title.text == wrap(t("conv_lab.fig_rf_title", "en", size=224, rf=11, jump=4))


def test_field_figure_leaves_out_the_dots_of_a_large_output():
    rows = calc.receptive_field_chain([calc.Layer("conv", 3, 1, 1)], 100)
    assert [trace.name for trace in plots.field_figure(rows).data] == [t("conv_lab.fig_rf_unit", "en", rf=3)]


def test_weights_figure_bars():
    result = calc.fc_vs_conv()
    fig = plots.weights_figure(result, "zh")
    (bar,) = fig.data
    assert list(bar.y) == [150528000.0, 1728.0] and list(bar.text) == ["150,528,000", "1,728"]
    assert list(bar.x) == [t("conv_lab.why_fc_bar", "zh"), t("conv_lab.why_conv_bar", "zh")]
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis.range[1] == pytest.approx(8.1777 * 1.12 + 0.3, 1e-3)


def test_field_figure_zooms_in_on_a_small_field_and_says_so():
    """A 7 x 7 field on a 224 x 224 input would be a dot: the view is a window 4 fields wide around it."""
    size, layers = calc.CHAIN_PRESETS["one_7x7"]
    fig = plots.field_figure(calc.receptive_field_chain(list(layers), size), "zh")
    lo, hi = fig.layout.xaxis.range
    assert hi - lo == 28 and lo < 111 - 3.5 and hi > 111 + 3.5  # the middle unit's field, 7 wide, inside
    zoomed = t("conv_lab.fig_rf_zoomed", "zh", first=math.ceil(lo), last=math.floor(hi), size=224)
    assert fig.layout.xaxis.title.text == wrap(t("conv_lab.fig_rf_x", "zh") + "<br>" + zoomed, AXIS_LINE)
    dashed = [s for s in fig.layout.shapes if s.line.dash == "dash"]
    assert dashed[0].line.width >= 3
    # a field as large as the input: the whole input is shown, no zoom note
    rows = calc.receptive_field_chain([calc.Layer("conv", 9, 1, 0)], 24)
    whole = plots.field_figure(rows, "en")
    assert whole.layout.xaxis.range[0] < 0 and whole.layout.xaxis.range[1] > 23
    assert whole.layout.xaxis.title.text == wrap(t("conv_lab.fig_rf_x", "en"), AXIS_LINE)


def test_windows_and_verdict_figures():
    grid = np.arange(16, dtype=float).reshape(4, 4)
    fig = plots.windows_figure(grid, 2, "input")
    assert fig.layout.shapes[-1].path.count("M") == 4  # four 2 x 2 windows on a 4 x 4 grid
    verdicts = np.array([[1, 0], [-1, 1]], dtype=np.int8)
    heat = _heatmap(plots.verdict_figure(verdicts, "zh"))
    assert [list(row) for row in heat.text] == [[t("conv_lab.ex_right", "zh"), t("conv_lab.ex_wrong", "zh")],
                                                ["", t("conv_lab.ex_right", "zh")]]
    assert np.array_equal(np.asarray(heat.z), verdicts)
