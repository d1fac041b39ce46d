"""The training lab's live figure: training loss, training accuracy and test accuracy against the iteration."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.colors import qualitative

from resnet_viz.i18n import t
from resnet_viz.render.plots.layout import readable
from resnet_viz.train.training_lab.curves import WINDOW, loss_axis, smoothed
from resnet_viz.train.training_lab.stepper import NetTrack

COLORS = qualitative.D3
CHANCE_LOSS = 2.302585  # ln 10: the loss of a uniform guess over the ten classes
LOSS_AXIS_TOP = 2 * CHANCE_LOSS


def _steps(values: Sequence[float]) -> list[int]:
    return list(range(1, len(values) + 1))


def lab_figures(nets: Sequence[NetTrack], total: int, lang: str = "en", *,
                window: int = WINDOW) -> tuple[go.Figure, go.Figure, go.Figure]:
    """Training loss, training accuracy and test accuracy, three figures (side by side on a laptop, one under
    the other on a phone), one colour per net: every step thin, the trailing mean of ``window`` steps bold; test
    accuracy at its test points. The x axes span the whole run, so the curves grow to the right; the legend is
    under the first figure."""
    figs = tuple(go.Figure() for _ in range(3))
    for i, net in enumerate(nets):
        color, name = COLORS[i % len(COLORS)], net.choice.label
        for fig, values in zip(figs, (list(net.train_loss), list(net.train_acc))):
            x = _steps(values)
            fig.add_trace(go.Scatter(x=x, y=values, mode="lines", line=dict(color=color, width=0.6), opacity=0.35,
                                     legendgroup=name, showlegend=False, hoverinfo="skip"))
            fig.add_trace(go.Scatter(x=x, y=smoothed(values, window), mode="lines", line=dict(color=color, width=2.2),
                                     name=name, legendgroup=name, showlegend=fig is figs[0]))
        points = list(net.test_points)
        figs[2].add_trace(go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], mode="lines+markers",
                                     line=dict(color=color, width=2.2), name=name, legendgroup=name,
                                     showlegend=False))
    figs[0].add_hline(y=CHANCE_LOSS, line=dict(color="grey", dash="dot", width=1))
    top, clipped = loss_axis(list(nets), LOSS_AXIS_TOP, window)  # every curve where it is now; the rest said
    for fig, key, y_range in zip(figs, ("loss", "acc", "test"), ([0, top], [0, 100], [0, 100])):
        fig.update_xaxes(title_text=t("training_lab.axis_iteration", lang), range=[0, max(total, 1)])
        fig.update_yaxes(range=y_range)
        fig.update_layout(title=t(f"training_lab.chart_{key}", lang), height=340, margin=dict(l=40, r=20, t=50, b=40),
                          uirevision="training_lab")
    if clipped:
        names = ", ".join(t("training_lab.loss_clipped_net", lang, net=n, top=f"{v:.3g}") for n, v in clipped)
        figs[0].add_annotation(x=0, y=1, xref="x domain", yref="y domain", xanchor="left", yanchor="top",
                               showarrow=False, text=t("training_lab.loss_clipped", lang, nets=names),
                               font=dict(size=11), xshift=4, bgcolor="rgba(255,255,255,0.8)")
    return tuple(readable(fig) for fig in figs)
