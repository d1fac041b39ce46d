"""The Home page's picture: a residual block, y = F(x) + x, drawn from a handful of coordinates (no model needed).

Drawn upright, as the paper's Figure 2: the main path runs down the middle, the identity shortcut down the right,
the residual's label on the left. The boxes keep their size on a phone's 360 pixels, where a row of seven stops
left no room for their labels.
"""

from __future__ import annotations

import plotly.graph_objects as go

from resnet_viz.i18n import t
from resnet_viz.render.plots.layout import wrap

MAIN_X, SHORTCUT_X, SIDE = 0.0, 2.6, 5.0  # the main path, the shortcut beside it, the drawing's half width
BOX_HALF, BOX_HEIGHT = 1.6, 0.42  # half the width and half the height of a weight-layer box
NOTE_LINE = 13  # the side notes' line width (Latin characters; a CJK character counts two)
LAYER_COLOR, SHORTCUT_COLOR, ADD_COLOR = "#1f77b4", "#2ca02c", "#d62728"


def _stops(lang: str) -> list[tuple[float, str, float]]:
    """(y position, label, half height) of each stop on the main path, input (top) to output; "+" is the
    addition."""
    weight = t("home.fig_weight", lang)
    return [(9.0, "x", 0.3), (7.7, weight, BOX_HEIGHT), (6.45, "ReLU", 0.3), (5.2, weight, BOX_HEIGHT),
            (3.9, "+", 0.3), (2.8, "ReLU", 0.3), (1.7, "F(x) + x", 0.3)]


def _arrow(x0: float, y0: float, x1: float, y1: float, color: str) -> dict:
    return dict(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y", text="", showarrow=True,
                arrowhead=2, arrowsize=1.2, arrowwidth=2, arrowcolor=color)


def residual_block(lang: str) -> go.Figure:
    """The paper's Figure 2: two weight layers on the main path, the identity shortcut around them, their sum."""
    stops = _stops(lang)
    add_y = next(y for y, label, _ in stops if label == "+")
    weights = [y for y, _, half in stops if half == BOX_HEIGHT]
    boxes = [dict(type="rect", x0=MAIN_X - BOX_HALF, x1=MAIN_X + BOX_HALF, y0=y - BOX_HEIGHT, y1=y + BOX_HEIGHT,
                  line=dict(color=LAYER_COLOR, width=2), fillcolor="rgba(31,119,180,0.12)") for y in weights]
    arrows = [_arrow(MAIN_X, a - ha, MAIN_X, b + hb, LAYER_COLOR) for (a, _, ha), (b, _, hb) in zip(stops, stops[1:])]
    top = stops[0][0]
    shortcut = dict(type="path", path=f"M {MAIN_X + 0.3},{top} L {SHORTCUT_X},{top} L {SHORTCUT_X},{add_y}",
                    line=dict(color=SHORTCUT_COLOR, width=3))
    arrows.append(_arrow(SHORTCUT_X, add_y, MAIN_X + 0.3, add_y, SHORTCUT_COLOR))
    bracket = dict(type="path", line=dict(color=LAYER_COLOR, width=2),
                   path=f"M {-BOX_HALF - 0.1},{weights[0] + BOX_HEIGHT} L {-BOX_HALF - 0.3},{weights[0] + BOX_HEIGHT} "
                        f"L {-BOX_HALF - 0.3},{weights[1] - BOX_HEIGHT} L {-BOX_HALF - 0.1},{weights[1] - BOX_HEIGHT}")
    labels = [dict(x=MAIN_X, y=y, text=f"<b>{label}</b>", showarrow=False, bgcolor="white" if half < 0.4 else None,
                   font=dict(size=24, color=ADD_COLOR) if label == "+" else dict(size=14))
              for y, label, half in stops]
    middle = (weights[0] + weights[1]) / 2
    notes = [dict(x=SHORTCUT_X + 0.2, y=middle, xanchor="left", text=wrap(t("home.fig_identity", lang), NOTE_LINE),
                  showarrow=False, align="left", font=dict(color=SHORTCUT_COLOR, size=13)),
             dict(x=-BOX_HALF - 0.45, y=middle, xanchor="right", text=wrap(t("home.fig_residual", lang), NOTE_LINE),
                  showarrow=False, align="right", font=dict(color=LAYER_COLOR, size=13))]
    fig = go.Figure()
    fig.update_layout(shapes=[*boxes, shortcut, bracket], annotations=[*arrows, *labels, *notes], height=380,
                      margin=dict(l=4, r=4, t=4, b=4), showlegend=False,
                      xaxis=dict(visible=False, range=[-SIDE, SIDE], fixedrange=True),
                      yaxis=dict(visible=False, range=[1.2, 9.5], fixedrange=True))
    return fig
