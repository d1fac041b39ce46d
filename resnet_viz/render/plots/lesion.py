"""Plotly figures of the lesion study: the error after deleting each block, and after deleting k random blocks."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from resnet_viz.i18n import t
from resnet_viz.paper.lesion import CHANCE_ERROR, LesionStudy
from resnet_viz.render.plots.layout import readable
from resnet_viz.render.plots.paper import PALETTE, PLAIN_COLOR, RESNET_COLOR

Labelled = tuple[str, LesionStudy]


def _colors(studies: Sequence[Labelled]) -> list[str]:
    """The first ResNet blue and the first plain net red (as on the other paper pages), others from the palette."""
    out, used = [], set()
    for i, (_, s) in enumerate(studies):
        color = RESNET_COLOR if s.residual else PLAIN_COLOR
        out.append(PALETTE[(i + 2) % len(PALETTE)] if color in used else color)
        used.add(color)
    return out


def _chance(fig: go.Figure, lang: str, x_start: float, x_end: float) -> None:
    fig.add_trace(go.Scatter(x=[x_start, x_end], y=[CHANCE_ERROR] * 2, mode="lines",
                             name=t("lesion.trace_chance", lang), line=dict(color="grey", dash="dot", width=1.5),
                             hoverinfo="skip"))


def single_figure(studies: Sequence[Labelled], lang: str = "en") -> go.Figure:
    """Error (%) with each block deleted alone, per network (x: block number); each network's own error as a
    dashed line, downsampling blocks as open diamonds, chance (Veit et al.'s VGG after any deletion) dotted."""
    fig = go.Figure()
    longest = max((len(s.blocks) for _, s in studies), default=1)
    for (label, s), color in zip(studies, _colors(studies)):
        xs = list(range(1, len(s.blocks) + 1))
        fig.add_trace(go.Scatter(
            x=xs, y=s.single_error, mode="lines+markers", name=label, legendgroup=label,
            line=dict(color=color, dash="solid" if s.residual else "dash"),
            marker=dict(size=[11 if d else 6 for d in s.downsampling],
                        symbol=["diamond-open" if d else "circle" for d in s.downsampling]),
            customdata=[[name, t("lesion.downsampling" if d else "lesion.same_shape", lang)]
                        for name, d in zip(s.block_names, s.downsampling)],
            hovertemplate=label + t("lesion.hover_block", lang) + "<extra></extra>"))
        fig.add_trace(go.Scatter(x=[0.5, len(s.blocks) + 0.5], y=[s.baseline_error] * 2, mode="lines",
                                 name=t("lesion.trace_intact", lang, net=label), legendgroup=label,
                                 line=dict(color=color, dash="dash", width=1), hoverinfo="skip"))
    _chance(fig, lang, 0.5, longest + 0.5)
    fig.update_xaxes(title_text=t("lesion.x_block", lang))
    fig.update_yaxes(title_text=t("lesion.y_error", lang), range=[0, 100])
    fig.update_layout(height=430, margin=dict(t=50, b=40, l=60, r=20), title=t("lesion.single_title", lang),
                      legend=dict(orientation="h", y=-0.2))
    return readable(fig)


def random_figure(studies: Sequence[Labelled], lang: str = "en") -> go.Figure:
    """Mean error (%) with k random blocks deleted (k = 0: the intact network), the draws' range as a band."""
    fig = go.Figure()
    longest = max((len(s.blocks) for _, s in studies), default=1)
    for (label, s), color in zip(studies, _colors(studies)):
        rows = s.random_error()
        if not rows:
            continue
        ks = [0] + [p.k for p in rows]
        mean = [s.baseline_error] + [p.mean for p in rows]
        low = [s.baseline_error] + [p.low for p in rows]
        high = [s.baseline_error] + [p.high for p in rows]
        fig.add_trace(go.Scatter(x=ks + ks[::-1], y=high + low[::-1], fill="toself", fillcolor=color, opacity=0.15,
                                 line=dict(width=0), legendgroup=label, showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=ks, y=mean, mode="lines+markers", name=label, legendgroup=label,
                                 line=dict(color=color, dash="solid" if s.residual else "dash"),
                                 customdata=list(zip(low, high)),
                                 hovertemplate=label + t("lesion.hover_random", lang) + "<extra></extra>"))
    _chance(fig, lang, 0, longest)
    fig.update_xaxes(title_text=t("lesion.x_k", lang), rangemode="tozero")
    fig.update_yaxes(title_text=t("lesion.y_error", lang), range=[0, 100])
    fig.update_layout(height=400, margin=dict(t=50, b=40, l=60, r=20), title=t("lesion.random_title", lang),
                      legend=dict(orientation="h", y=-0.2))
    return readable(fig)
