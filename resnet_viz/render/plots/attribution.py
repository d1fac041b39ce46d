"""Plotly figures of the attribution page: the model's top predictions, the explained class in red."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from resnet_viz.i18n import class_label, t
from resnet_viz.predictions import Prediction
from resnet_viz.render.plots.layout import readable

EXPLAINED, OTHER = "#d62728", "#1f77b4"


def percent(p: float) -> str:
    """A probability as a percentage; a tiny non-zero one reads "< 0.1%", never "0.0%"."""
    return "< 0.1%" if 0 < p < 0.0005 else f"{100 * p:.1f}%"


def predictions_figure(top: Sequence[Prediction], target: int, lang: str = "en") -> go.Figure:
    """Horizontal bars of ``top`` (most probable first, drawn at the top), the ``target`` class highlighted."""
    shown = list(top)[::-1]
    names = [f"{class_label(p.name, lang)} ({p.index})" for p in shown]
    fig = go.Figure(go.Bar(x=[p.probability for p in shown], y=names,
                           orientation="h", text=[percent(p.probability) for p in shown], textposition="auto",
                           marker_color=[EXPLAINED if p.index == target else OTHER for p in shown],
                           hovertemplate="%{y}: %{x:.3f}<extra></extra>"))
    fig.update_layout(title=t("attribution.predictions_title", lang), height=260, margin=dict(l=0, r=0, t=40, b=0),
                      xaxis=dict(title=t("attribution.probability_axis", lang), range=[0, 1]),
                      yaxis=dict(title=t("attribution.class_axis", lang)))
    return readable(fig)
