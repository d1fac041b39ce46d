"""The Home page's picture: a residual block, y = F(x) + x, drawn from a handful of coordinates (no model needed)."""

from __future__ import annotations

import plotly.graph_objects as go

from resnet_viz.i18n import t

MAIN_Y, SHORTCUT_Y = 0.0, 1.0  # the main path and the identity shortcut above it
BOX_HALF, BOX_HEIGHT = 0.8, 0.25  # half the width and half the height of a weight-layer box
LAYER_COLOR, SHORTCUT_COLOR, ADD_COLOR = "#1f77b4", "#2ca02c", "#d62728"


def _stops(lang: str) -> list[tuple[float, str, float]]:
    """(x position, label, half width) of each stop on the main path, input to output; "+" is the addition."""
    weight = t("home.fig_weight", lang)
    return [(0.0, "x", 0.2), (1.7, weight, BOX_HALF), (3.3, "ReLU", 0.35), (4.9, weight, BOX_HALF),
            (6.3, "+", 0.2), (7.3, "ReLU", 0.35), (8.5, "F(x) + x", 0.5)]


def _arrow(x0: float, y0: float, x1: float, y1: float, color: str) -> dict:
    return dict(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y", text="", showarrow=True,
                arrowhead=2, arrowsize=1.2, arrowwidth=2, arrowcolor=color)


def residual_block(lang: str) -> go.Figure:
    """The paper's Figure 2: two weight layers on the main path, the identity shortcut around them, their sum."""
    stops = _stops(lang)
    add_x = next(x for x, label, _ in stops if label == "+")
    boxes = [dict(type="rect", x0=x - half, x1=x + half, y0=MAIN_Y - BOX_HEIGHT, y1=MAIN_Y + BOX_HEIGHT,
                  line=dict(color=LAYER_COLOR, width=2), fillcolor="rgba(31,119,180,0.12)")
             for x, _, half in stops if half == BOX_HALF]
    arrows = [_arrow(a + ha, MAIN_Y, b - hb, MAIN_Y, LAYER_COLOR) for (a, _, ha), (b, _, hb) in zip(stops, stops[1:])]
    shortcut = dict(type="path", path=f"M 0,{MAIN_Y + BOX_HEIGHT} L 0,{SHORTCUT_Y} L {add_x},{SHORTCUT_Y}",
                    line=dict(color=SHORTCUT_COLOR, width=3))
    arrows.append(_arrow(add_x, SHORTCUT_Y, add_x, MAIN_Y + BOX_HEIGHT, SHORTCUT_COLOR))
    labels = [dict(x=x, y=MAIN_Y, text=f"<b>{label}</b>", showarrow=False,
                   font=dict(size=24, color=ADD_COLOR) if label == "+" else dict(size=14))
              for x, label, _ in stops]
    notes = [dict(x=add_x / 2, y=SHORTCUT_Y + 0.2, text=t("home.fig_identity", lang), showarrow=False,
                  font=dict(color=SHORTCUT_COLOR, size=14)),
             dict(x=(stops[1][0] + stops[3][0]) / 2, y=MAIN_Y - 0.5, text=t("home.fig_residual", lang),
                  showarrow=False, font=dict(color=LAYER_COLOR, size=14))]
    fig = go.Figure()
    fig.update_layout(shapes=[*boxes, shortcut], annotations=[*arrows, *labels, *notes], height=230,
                      margin=dict(l=10, r=10, t=10, b=10), showlegend=False,
                      xaxis=dict(visible=False, range=[-0.5, 9.2], fixedrange=True),
                      yaxis=dict(visible=False, range=[-0.8, 1.4], fixedrange=True))
    return fig
