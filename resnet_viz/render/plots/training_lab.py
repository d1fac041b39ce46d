"""The training lab's live figure: training loss, training accuracy and test accuracy against the iteration."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from resnet_viz.i18n import t
from resnet_viz.train.lab import WINDOW, NetTrack, smoothed

COLORS = qualitative.D3
CHANCE_LOSS = 2.302585  # ln 10: the loss of a uniform guess over the ten classes
LOSS_AXIS_TOP = 2 * CHANCE_LOSS


def _steps(values: Sequence[float]) -> list[int]:
    return list(range(1, len(values) + 1))


def lab_figure(nets: Sequence[NetTrack], total: int, lang: str = "en", *, window: int = WINDOW) -> go.Figure:
    """Three panels side by side, one colour per net: every step thin, the trailing mean of ``window`` steps
    bold; test accuracy at its test points. The x axes span the whole run, so the curves grow to the right."""
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.06,
                        subplot_titles=[t(f"training_lab.chart_{k}", lang) for k in ("loss", "acc", "test")])
    for i, net in enumerate(nets):
        color, name = COLORS[i % len(COLORS)], net.choice.label
        loss, acc = list(net.train_loss), list(net.train_acc)
        for col, values in ((1, loss), (2, acc)):
            x = _steps(values)
            fig.add_trace(go.Scatter(x=x, y=values, mode="lines", line=dict(color=color, width=0.6), opacity=0.35,
                                     legendgroup=name, showlegend=False, hoverinfo="skip"), row=1, col=col)
            fig.add_trace(go.Scatter(x=x, y=smoothed(values, window), mode="lines", line=dict(color=color, width=2.2),
                                     name=name, legendgroup=name, showlegend=col == 1), row=1, col=col)
        points = list(net.test_points)
        fig.add_trace(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers",
                                 line=dict(color=color, width=2.2), name=name, legendgroup=name, showlegend=False),
                      row=1, col=3)
    fig.add_hline(y=CHANCE_LOSS, line=dict(color="grey", dash="dot", width=1), row=1, col=1)
    for col in (1, 2, 3):
        fig.update_xaxes(title_text=t("training_lab.axis_iteration", lang), range=[0, max(total, 1)], row=1, col=col)
    for col in (2, 3):
        fig.update_yaxes(range=[0, 100], row=1, col=col)
    # a ResNet's first steps can reach a loss of 5-15: the axis stops at twice chance so the plain curves stay legible
    fig.update_yaxes(range=[0, LOSS_AXIS_TOP], row=1, col=1)
    fig.update_layout(height=380, margin=dict(l=40, r=20, t=50, b=40), legend=dict(orientation="h", y=-0.2),
                      uirevision="training_lab")
    return fig
