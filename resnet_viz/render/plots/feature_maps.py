"""Plotly figures of the feature-map page: one channel, a residual block taken apart, the residual/shortcut
ratio of every block, and plain against residual.

Every builder takes arrays and numbers computed in ``resnet_viz.inspect`` and a language.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from resnet_viz.i18n import t
from resnet_viz.inspect.feature_maps import value_range
from resnet_viz.render.plots.images import COLORBAR_BELOW, square_maps
from resnet_viz.render.plots.layout import readable

HIGHLIGHT, NORMAL, ONE_LINE = "#d62728", "#1f77b4", "#444444"
MARGIN = dict(l=0, r=0, t=40, b=0)
ANATOMY_PARTS = ("x", "f", "sum", "out")  # the block's input, residual branch, their sum, the output after ReLU


def channel_figure(fmap: np.ndarray, lo: float, hi: float, *, layer: str, channel: int, lang: str = "en") -> go.Figure:
    """One channel's map on the layer's colour scale, row 0 on top; where the channel goes beyond the scale, the
    colour bar's top reads "≥ top"."""
    colorbar: dict = dict(title=dict(text=t("feature_maps.activation", lang)))
    if fmap.size and float(np.nanmax(fmap)) > hi:
        ticks = np.linspace(lo, hi, 5)
        colorbar.update(tickvals=ticks.tolist(), ticktext=[f"{v:.3g}" for v in ticks[:-1]] + [f"≥ {hi:.3g}"])
    fig = go.Figure(go.Heatmap(z=fmap, zmin=lo, zmax=hi, colorscale="Viridis", colorbar=colorbar),
                    layout=dict(title=t("feature_maps.channel_title", lang, channel=channel, layer=layer), height=330,
                                margin=MARGIN))
    fig.update_yaxes(autorange="reversed", scaleanchor="x", title=t("feature_maps.axis_row", lang))
    fig.update_xaxes(title=t("feature_maps.axis_col", lang))
    return readable(fig)


def anatomy_figure(panels: Mapping[str, np.ndarray], lang: str = "en", *, x_padded: bool = False) -> go.Figure:
    """x and F(x) above, F(x) + x and the block's output below (two by two: each map keeps a readable size on a
    phone), on one colour scale symmetric about zero (``x_padded``: a channel that option A fills with zeros, named
    so above its empty panel)."""
    lo, hi = value_range(np.stack([panels[p] for p in ANATOMY_PARTS]), symmetric=True, q=100)
    names = [t("feature_maps.panel_x_padded" if p == "x" and x_padded else f"feature_maps.panel_{p}", lang)
             for p in ANATOMY_PARTS]
    fig = make_subplots(rows=2, cols=2, subplot_titles=names, horizontal_spacing=0.04, vertical_spacing=0.1)
    for i, part in enumerate(ANATOMY_PARTS):
        row, col = divmod(i, 2)
        fig.add_trace(go.Heatmap(z=panels[part], zmin=lo, zmax=hi, colorscale="RdBu_r",
                                 showscale=i == len(ANATOMY_PARTS) - 1,
                                 colorbar=dict(COLORBAR_BELOW, title=dict(text=t("feature_maps.activation", lang))),
                                 hovertemplate="%{y}, %{x}: %{z:.3f}<extra></extra>"), row=row + 1, col=col + 1)
    square_maps(fig, len(ANATOMY_PARTS), cols=2)
    fig.update_layout(height=600, margin=dict(MARGIN, b=60))
    return readable(fig)


def ratio_figure(data: Sequence[tuple[str, float]], *, block: str, model: str, lang: str = "en") -> go.Figure:
    """||F(x)|| / ||x|| of every block as bars (``block`` highlighted) with a dotted line at 1, named in the
    legend under the plot (a label on the line itself would cover the first bars)."""
    fig = go.Figure(go.Bar(x=[k for k, _ in data], y=[v for _, v in data], showlegend=False,
                           marker_color=[HIGHLIGHT if k == block else NORMAL for k, _ in data],
                           hovertemplate="%{x}: %{y:.3f}<extra></extra>"))
    line = dict(dash="dot", color=ONE_LINE)
    fig.add_hline(y=1.0, line=line)
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=line, name=t("feature_maps.ratio_one", lang),
                             showlegend=True, hoverinfo="skip"))
    fig.update_layout(title=t("feature_maps.ratio_chart", lang, model=model), height=340,
                      xaxis_title=t("feature_maps.axis_block", lang), yaxis_title=t("feature_maps.axis_ratio", lang),
                      margin=dict(MARGIN, t=70))
    return readable(fig)


def compare_figure(stds: Mapping[str, Sequence[tuple[str, float]]], lang: str = "en") -> go.Figure:
    """One line per net: the std of every block's output (``net -> [(block, std), ...]``) by block index."""
    fig = go.Figure()
    for name, blocks in stds.items():
        fig.add_trace(go.Scatter(x=list(range(1, len(blocks) + 1)), y=[s for _, s in blocks], mode="lines+markers",
                                 name=name, text=[b for b, _ in blocks],
                                 hovertemplate="%{text}: %{y:.3f}<extra></extra>"))
    fig.update_layout(title=t("feature_maps.compare_chart", lang), xaxis_title=t("feature_maps.axis_block_index", lang),
                      yaxis_title=t("feature_maps.axis_std", lang), height=320, margin=MARGIN)
    return readable(fig)
