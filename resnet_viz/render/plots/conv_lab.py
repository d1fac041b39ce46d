"""Plotly figures of the Conv & pooling lab: number grids (sliding window, pooling), a receptive field on the
input, and the weights of a fully connected layer against a conv layer.

Every builder takes what ``resnet_viz.conv_lab`` computed and a language; every title and label comes from the
i18n catalogue, every number written on a figure from ``resnet_viz.conv_lab.parse.format_number``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import plotly.graph_objects as go

from resnet_viz.conv_lab.calc import ChainRow, FcVsConv, field_box
from resnet_viz.conv_lab.parse import format_number
from resnet_viz.conv_lab.sliding import SlidingConv
from resnet_viz.i18n import t
from resnet_viz.render.plots.layout import readable, wrap

HIGHLIGHT_COLOR, UNIT_COLOR, FRAME_COLOR = "#d62728", "#1f77b4", "#444"
MISSING_COLOR = "#e6e6e6"  # a cell not computed yet
MAX_UNIT_DOTS = 64  # the field figure marks every output unit up to this many per side
ZOOM_BELOW, MIN_VIEW = 4, 24  # zoom in on a field under 1/4 of the input's side, to a window >= 24 pixels

Cell = tuple[int, int]


def _cells_path(cells: list[Cell]) -> str:
    """One SVG path outlining every cell: a single shape, however many cells (Plotly validates each shape)."""
    return " ".join(f"M{c - 0.5},{r - 0.5}H{c + 0.5}V{r + 0.5}H{c - 0.5}Z" for r, c in cells)


def matrix_figure(values: np.ndarray, *, title: str, highlight: list[Cell] | None = None,
                  frame: tuple[int, int, int, int] | None = None, text: list[list[str]] | None = None,
                  colorscale: str = "Blues", zmid: float | None = None, height: int = 320) -> go.Figure:
    """A heatmap with every cell's number written on it; ``highlight`` outlines cells (row, col);
    ``frame`` (top, left, bottom, right) outlines a block, e.g. the unpadded input inside the padding.

    Built in one constructor call: Plotly validates every property set, and separate update_layout / add_shape
    calls made a small grid cost ~15 ms, a lab page with twenty of them a third of a second.
    """
    values = np.asarray(values, dtype=float)
    if text is None:
        text = [["" if np.isnan(v) else format_number(v) for v in row] for row in values]
    traces: list[dict[str, Any]] = []
    if np.isnan(values).any():  # cells not computed yet: light grey squares under the values
        traces.append(dict(type="heatmap", z=np.zeros_like(values), colorscale=[[0, MISSING_COLOR], [1, MISSING_COLOR]],
                           showscale=False, xgap=1, ygap=1, hoverinfo="skip"))
    traces.append(dict(type="heatmap", z=values, text=text, texttemplate="%{text}", colorscale=colorscale, zmid=zmid,
                       showscale=False, xgap=1, ygap=1, hoverinfo="skip"))
    shapes: list[dict[str, Any]] = []
    if highlight:
        shapes.append(dict(type="path", path=_cells_path(highlight), line=dict(color=HIGHLIGHT_COLOR, width=3)))
    if frame is not None:
        top, left, bottom, right = frame
        shapes.append(dict(type="rect", x0=left - 0.5, x1=right + 0.5, y0=top - 0.5, y1=bottom + 0.5,
                           line=dict(color=FRAME_COLOR, width=2, dash="dot")))
    rows, cols = values.shape
    axis = dict(showticklabels=False, showgrid=False, zeroline=False, ticks="")
    layout = dict(title=dict(text=wrap(title), font=dict(size=13)), height=height, plot_bgcolor="white",
                  margin=dict(l=10, r=10, t=40, b=10), shapes=shapes,
                  xaxis=dict(axis, constrain="domain", range=[-0.5, cols - 0.5]),
                  yaxis=dict(axis, range=[rows - 0.5, -0.5], scaleanchor="x"))
    return go.Figure(data=traces, layout=layout)


def sliding_figures(demo: SlidingConv, index: int, lang: str = "en") -> tuple[go.Figure, go.Figure, go.Figure]:
    """Step ``index`` of the sliding window: the padded input with the taps outlined, the products
    ("window x weight = product" in each cell), and the output computed so far with this step's cell outlined."""
    step = demo.step(index)
    p = demo.padding
    height, width = demo.input.shape
    padded = matrix_figure(demo.padded, title=t("conv_lab.fig_padded", lang, padding=p), highlight=step.taps,
                           frame=(p, p, p + height - 1, p + width - 1))
    text = [[f"{format_number(w)}×{format_number(k)}<br>={format_number(v)}" for w, k, v in zip(wr, kr, vr)]
            for wr, kr, vr in zip(step.window, demo.kernel, step.products)]
    products = matrix_figure(step.products, title=t("conv_lab.fig_products", lang), text=text, colorscale="RdBu",
                             zmid=0.0)
    output = matrix_figure(demo.output_until(step.index), title=t("conv_lab.fig_output", lang),
                           highlight=[(step.row, step.col)], colorscale="Greens")
    return padded, products, output


def pooling_figures(grid: np.ndarray, out: np.ndarray, selected: tuple[Cell, list[Cell]] | None = None,
                    lang: str = "en") -> tuple[go.Figure, go.Figure]:
    """The pooling input and output; ``selected`` (output cell, its window's input cells) is outlined on both."""
    cell, window = selected if selected else (None, None)
    before = matrix_figure(grid, title=t("conv_lab.fig_pool_input", lang), highlight=window)
    after = matrix_figure(out, title=t("conv_lab.fig_pool_output", lang, h=out.shape[0], w=out.shape[1]),
                          highlight=[cell] if cell else None, colorscale="Greens")
    return before, after


def field_figure(rows: list[ChainRow], lang: str = "en") -> go.Figure:
    """The input grid, the receptive field of the last layer's middle unit (dashed: all of it; filled: the
    part on the input), and the centres of the last layer's units, one dot each, spaced by the jump."""
    size = rows[0].size_in
    box = field_box(rows)
    fig = go.Figure()
    fig.add_shape(type="rect", x0=-0.5, y0=-0.5, x1=size - 0.5, y1=size - 0.5, line=dict(color="#333"),
                  fillcolor="rgba(200,200,200,0.25)")
    fig.add_shape(type="rect", x0=box.first - 0.5, y0=box.first - 0.5, x1=box.last + 0.5, y1=box.last + 0.5,
                  line=dict(color=HIGHLIGHT_COLOR, dash="dash", width=3))
    if not box.empty:
        fig.add_shape(type="rect", x0=box.first_clipped - 0.5, y0=box.first_clipped - 0.5,
                      x1=box.last_clipped + 0.5, y1=box.last_clipped + 0.5, line=dict(width=0),
                      fillcolor="rgba(214,39,40,0.45)")
    last = rows[-1]
    n = last.size_out
    if n <= MAX_UNIT_DOTS:
        centres = [last.start_out + i * last.jump_out for i in range(n)]
        xs, ys = np.meshgrid(centres, centres)
        fig.add_trace(go.Scatter(x=xs.ravel(), y=ys.ravel(), mode="markers", marker=dict(size=4, color=UNIT_COLOR),
                                 name=t("conv_lab.fig_rf_units", lang), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=[box.centre], y=[box.centre], mode="markers",
                             marker=dict(size=10, color=HIGHLIGHT_COLOR),
                             name=t("conv_lab.fig_rf_unit", lang, rf=last.rf_out), hoverinfo="skip"))
    lo, hi, zoomed = _field_view(size, last.rf_out, box.centre)
    x_title = t("conv_lab.fig_rf_x", lang)
    if zoomed:  # a small field on a large input: the view zooms in, and says so
        x_title += "<br>" + t("conv_lab.fig_rf_zoomed", lang, first=math.ceil(lo), last=math.floor(hi), size=size)
    fig.update_xaxes(range=[lo, hi], title=x_title, constrain="domain")
    fig.update_yaxes(range=[hi, lo], title=t("conv_lab.fig_rf_y", lang), scaleanchor="x")
    fig.update_layout(title=t("conv_lab.fig_rf_title", lang, size=size, rf=last.rf_out, jump=last.jump_out),
                      height=520, margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h"),
                      showlegend=True)
    return readable(fig)


def _field_view(size: int, rf: int, centre: float) -> tuple[float, float, bool]:
    """(first, last, zoomed): the axis range of the field figure. The whole input with a margin, or, when the
    field covers less than 1/ZOOM_BELOW of the input's side, a window ZOOM_BELOW fields wide (at least MIN_VIEW
    pixels) around it: a 7 x 7 field on a 224 x 224 input would be a dot."""
    view = max(rf * ZOOM_BELOW, MIN_VIEW)
    if view >= size:
        pad = max(rf - size, 0) / 2 + 2
        return -pad - 0.5, size + pad - 0.5, False
    half = view / 2
    lo = min(max(centre - half, -0.5), size - 0.5 - 2 * half)
    return lo, lo + 2 * half, True


def weights_figure(r: FcVsConv, lang: str = "en") -> go.Figure:
    """Two bars: the weights of the fully connected layer and of the conv layer."""
    fig = go.Figure(go.Bar(x=[t("conv_lab.why_fc_bar", lang), t("conv_lab.why_conv_bar", lang)],
                           y=[float(r.fc_weights), float(r.conv_weights)],
                           text=[format_number(r.fc_weights), format_number(r.conv_weights)],
                           textposition="outside", marker_color=[HIGHLIGHT_COLOR, UNIT_COLOR]))
    # A log axis from 1 weight, so that both bars keep their true proportion in orders of magnitude.
    top = math.log10(max(r.fc_weights, r.conv_weights)) * 1.12 + 0.3
    fig.update_yaxes(type="log", title=t("conv_lab.why_axis", lang), range=[0, top])
    fig.update_layout(title=t("conv_lab.why_chart_title", lang), height=380, margin=dict(l=10, r=10, t=50, b=10))
    return readable(fig)



def windows_figure(grid: np.ndarray, kernel: int, title: str) -> go.Figure:
    """A grid with every pooling window (``kernel`` x ``kernel``, stride ``kernel``) outlined."""
    fig = matrix_figure(grid, title=title)
    rows, cols = grid.shape
    path = " ".join(f"M{left - 0.5},{top - 0.5}H{left + kernel - 0.5}V{top + kernel - 0.5}H{left - 0.5}Z"
                    for top in range(0, rows - kernel + 1, kernel) for left in range(0, cols - kernel + 1, kernel))
    fig.add_shape(type="path", path=path, line=dict(color=FRAME_COLOR, width=3))
    return fig


def verdict_figure(verdicts: np.ndarray, lang: str = "en") -> go.Figure:
    """Each checked cell: green with "right", red with "wrong", grey and empty when nothing was typed."""
    right, wrong = t("conv_lab.ex_right", lang), t("conv_lab.ex_wrong", lang)
    text = [[right if v == 1 else wrong if v == 0 else "" for v in row] for row in verdicts]
    scale = [[0.0, MISSING_COLOR], [0.5, HIGHLIGHT_COLOR], [1.0, "#2ca02c"]]
    fig = matrix_figure(np.zeros(verdicts.shape), title=t("conv_lab.ex_verdict_title", lang), text=text)
    fig.data[-1].update(z=verdicts.astype(float), colorscale=scale, zmin=-1, zmax=1)
    return fig
