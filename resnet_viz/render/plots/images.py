"""Plotly figure of a model's input: the normalised tensor, channel by channel."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from resnet_viz.i18n import t
from resnet_viz.images import Preprocessed
from resnet_viz.render.plots.layout import readable

CHANNELS = ("R", "G", "B")
COLORBAR_BELOW = dict(orientation="h", thickness=12, y=-0.06, yanchor="top")  # the maps get the whole width


def square_maps(fig: go.Figure, panels: int, cols: int | None = None) -> None:
    """Heat maps as pictures in each of ``panels`` (``cols`` to a row, row by row; default: all in one row): row 0
    on top, square cells, no tick labels."""
    cols = cols or panels
    for i in range(panels):
        row, col = divmod(i, cols)
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{i + 1 if i else ''}", showticklabels=False,
                         row=row + 1, col=col + 1)
        fig.update_xaxes(showticklabels=False, row=row + 1, col=col + 1)


def tensor_figure(pre: Preprocessed, lang: str = "en") -> go.Figure:
    """The normalised input as three heat maps on one colour scale symmetric about zero (hover shows values)."""
    x = pre.tensor[0].numpy().astype(np.float32)
    bound = float(np.abs(x).max()) or 1.0
    titles = [t("images.channel_range", lang, channel=n, low=f"{lo:.2f}", high=f"{hi:.2f}")
              for n, (lo, hi) in zip(CHANNELS, pre.channel_ranges())]
    fig = make_subplots(rows=1, cols=len(CHANNELS), subplot_titles=titles, horizontal_spacing=0.03)
    for i in range(len(CHANNELS)):
        fig.add_trace(go.Heatmap(z=x[i], zmin=-bound, zmax=bound, colorscale="RdBu_r", showscale=i == len(CHANNELS) - 1,
                                 colorbar=COLORBAR_BELOW,
                                 hovertemplate="x=%{x} y=%{y}: %{z:.3f}<extra></extra>"), row=1, col=i + 1)
    square_maps(fig, len(CHANNELS))
    fig.update_layout(height=300, margin=dict(l=0, r=0, t=30, b=50))
    return readable(fig)
