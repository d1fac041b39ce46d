"""Plotly figures of the paper's evidence: Figure 6, Figure 7, Table 6 and gradient flow.

Every builder takes the data computed elsewhere in ``resnet_viz`` and a language; every title, axis label
and legend entry comes from the i18n catalogue.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from resnet_viz.i18n import t
from resnet_viz.models.registry import cifar_paper_path, display_name
from resnet_viz.paper.figure6 import DepthComparison, Run, TableRow
from resnet_viz.paper.figure7 import LayerResponses, outputs_residual
from resnet_viz.paper.gradient_flow import GradientFlow
from resnet_viz.render.plots.layout import readable, wrap

PALETTE = qualitative.Plotly
DEPTH_PALETTE = qualitative.D3  # well-separated hues, one per depth of a Figure 6 panel
PLAIN_COLOR, RESNET_COLOR = "#d62728", "#1f77b4"
GAP_LINE = 20  # the width of a line of Figure 6's gap label, in Latin characters


def _color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _by_depth(runs: Sequence[Run]) -> list[tuple[Run, str]]:
    """Logged runs, plain before ResNet and shallow to deep (the legend's order), each with its colour: the
    n-th depth of a panel gets the n-th colour, so every curve of a panel differs and equal depths match."""
    logged = sorted((r for r in runs if r.has_log), key=lambda r: (r.family != "plain", r.depth, r.key))
    out = []
    for plain in (True, False):
        panel = [r for r in logged if (r.family == "plain") == plain]
        depths = sorted({r.depth for r in panel})
        out += [(r, DEPTH_PALETTE[depths.index(r.depth) % len(DEPTH_PALETTE)]) for r in panel]
    return out


def figure6(runs: Sequence[Run], names: dict[str, str], lang: str = "en", *,
            gaps: Sequence[DepthComparison] = (), log_x: bool = False) -> tuple[go.Figure, go.Figure]:
    """Training error (dashed) and test error (solid) vs iterations: plain nets' panel and ResNets' panel, two
    figures on the same error axis (side by side on a laptop, one under the other on a phone).

    One colour per depth within a panel, the legend ordered by depth (one entry per run, its two curves together).
    Each of ``gaps`` is drawn as a bar at the end of training between the shallow and the deep net's final training
    error, labelled with the difference. ``log_x`` spreads the early iterations (the data are the same; only the
    axis changes).
    """
    coloured = _by_depth(runs)
    top = max((e for run, _ in coloured for e in (*run.train_error, *run.test_error)), default=100.0)
    panels = []
    for family, panel_key in (("plain", "figure6.panel_plain"), ("resnet", "figure6.panel_resnet")):
        fig = go.Figure()
        for run, color in coloured:
            if (run.family == "plain") != (family == "plain"):
                continue
            name = names.get(run.key, display_name(run.model))
            for errors, dash, key in ((run.train_error, "dash", "figure6.trace_train"),
                                      (run.test_error, "solid", "figure6.trace_test")):
                fig.add_trace(go.Scatter(
                    x=list(run.iterations), y=list(errors), mode="lines+markers" if len(errors) < 12 else "lines",
                    line=dict(color=color, dash=dash, width=2 if dash == "solid" else 1.5), legendgroup=run.key,
                    name=name, showlegend=dash == "solid",
                    hovertemplate=t("figure6.hover", lang, run=t(key, lang, run=name)) + "<extra></extra>"))
        for gap in gaps:
            if (gap.family == "plain") == (family == "plain"):
                _gap_bar(fig, gap, lang, log_x)
        fig.update_xaxes(title_text=t("figure6.x_axis", lang),
                         **(dict(type="log") if log_x else dict(rangemode="tozero")))
        fig.update_yaxes(title_text=t("figure6.y_axis", lang), range=[0, top * 1.05])
        fig.update_layout(height=440, margin=dict(t=60, b=40, l=60, r=20),
                          title=t(panel_key, lang) + " · " + t("figure6.title", lang))
        panels.append(readable(fig))
    return panels[0], panels[1]


def _gap_bar(fig: go.Figure, gap: DepthComparison, lang: str, log_x: bool) -> None:
    """The bar between the shallow and the deep net's final training error, and its label left of it."""
    x = max(gap.shallow.iterations[-1], gap.deep.iterations[-1])
    y0, y1 = gap.shallow.train_error[-1], gap.deep.train_error[-1]  # a comparison is of logged runs
    fig.add_trace(go.Scatter(x=[x, x], y=[y0, y1], mode="lines+markers", showlegend=False, hoverinfo="skip",
                             line=dict(color="black", width=3), marker=dict(symbol="line-ew-open", size=12)))
    label = wrap(t("figure6.gap_annotation", lang, gap=f"{gap.train_gap:+.2f}"), GAP_LINE)
    fig.add_annotation(x=math.log10(x) if log_x else x, y=(y0 + y1) / 2, text=label,  # log axes place by log10
                       showarrow=False, xanchor="right", xshift=-8, bgcolor="rgba(255,255,255,0.8)")


def table6_figure(rows: Sequence[TableRow], lang: str = "en") -> go.Figure:
    """Test error against depth: the paper's ResNets and ours (plain runs as a separate series)."""
    fig = go.Figure()
    paper = [r for r in rows if r.paper_error is not None]
    fig.add_trace(go.Scatter(x=[r.depth for r in paper], y=[r.paper_error for r in paper], mode="lines+markers",
                             name=t("figure6.table_paper_series", lang), line=dict(color="#7f7f7f", dash="dot")))
    for family, color, key in (("resnet", RESNET_COLOR, "figure6.table_ours_resnet"),
                               ("plain", PLAIN_COLOR, "figure6.table_ours_plain")):
        ours = [r for r in rows if r.family == family and r.our_error is not None]
        if ours:
            fig.add_trace(go.Scatter(x=[r.depth for r in ours], y=[r.our_error for r in ours], mode="lines+markers",
                                     name=t(key, lang), line=dict(color=color)))
    fig.update_xaxes(title_text=t("figure6.table_x_axis", lang), type="log", tickvals=[20, 32, 44, 56, 110, 1202])
    fig.update_yaxes(title_text=t("figure6.table_y_axis", lang), rangemode="tozero")
    fig.update_layout(height=380, margin=dict(t=50, b=40, l=60, r=20), title=t("figure6.table_chart_title", lang))
    return readable(fig)


def figure7(results: Sequence[tuple[str, str, LayerResponses]], lang: str = "en", *,
            title_key: str = "figure7.title", log_y: bool = False) -> go.Figure:
    """``results``: (label, family, responses). Top: std in layer order, a ResNet's F(x) layers (each basic
    block's second 3x3 conv) marked with diamonds; bottom: sorted, largest first."""
    fig = make_subplots(rows=2, cols=1, vertical_spacing=0.2,
                        subplot_titles=(t("figure7.panel_order", lang), t("figure7.panel_sorted", lang)))
    for i, (label, family, res) in enumerate(results):
        color = _color(i)
        dash = "dash" if family == "plain" else "solid"
        xs = list(range(1, len(res.std) + 1))
        fx = outputs_residual(res.layers) if family != "plain" else (False,) * len(res.layers)
        layers = [cifar_paper_path(name) for name in res.layers]  # Figure 7's nets are CIFAR nets
        names = [t("figure7.fx_layer", lang, layer=name) if f else name for name, f in zip(layers, fx)]
        fig.add_trace(go.Scatter(x=xs, y=list(res.std), mode="lines+markers" if any(fx) else "lines", name=label,
                                 legendgroup=label, line=dict(color=color, dash=dash), customdata=names,
                                 marker=dict(symbol="diamond", size=[7 if f else 0 for f in fx], color=color),
                                 hovertemplate=t("figure7.hover", lang, run=label) + "<extra></extra>"), row=1, col=1)
        fig.add_trace(go.Scatter(x=xs, y=res.sorted_desc(), mode="lines", name=label, legendgroup=label,
                                 showlegend=False, line=dict(color=color, dash=dash),
                                 hovertemplate=t("figure7.hover_sorted", lang, run=label) + "<extra></extra>"),
                      row=2, col=1)
    fig.update_xaxes(title_text=t("figure7.x_order", lang), row=1, col=1)
    fig.update_xaxes(title_text=t("figure7.x_sorted", lang), row=2, col=1)
    for row in (1, 2):
        if log_y:
            fig.update_yaxes(title_text=t("figure7.y_axis_log", lang), row=row, col=1, type="log",
                             exponentformat="power")
        else:
            fig.update_yaxes(title_text=t("figure7.y_axis", lang), row=row, col=1, rangemode="tozero")
    fig.update_layout(height=680, margin=dict(t=60, b=40, l=60, r=20), title=t(title_key, lang))
    return readable(fig)


def _flows(flows: Sequence[GradientFlow]) -> list[tuple[GradientFlow, str, str]]:
    return [(f, PLAIN_COLOR if not f.residual else RESNET_COLOR, "dash" if not f.residual else "solid")
            for f in flows]


def _log_y(fig: go.Figure, title: str, values: Sequence[float]) -> None:
    """A log y axis. Over less than three decades Plotly labels the ticks between powers of ten with a bare digit
    ("9" for 0.9, under "1"): there the ticks are 1, 2, 5 times powers of ten, written out. Wider spans get a tick
    at each power of ten (10^-51 ... 10^0) and no digits between them."""
    shown = [v for v in values if v > 0 and math.isfinite(v)]
    fig.update_yaxes(title_text=title, type="log", exponentformat="power")
    if not shown:
        return
    low, high = min(shown), max(shown)
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    if last - first > 3:  # a label per power of ten: the digits between them collide on a phone
        fig.update_yaxes(dtick=1)
        return
    ticks = [m * 10.0 ** e for e in range(first, last + 1) for m in (1, 2, 5)]
    ticks = [v for v in ticks if low / 2.5 <= v <= high * 2.5]
    fig.update_yaxes(tickvals=ticks, ticktext=[f"{v:g}" for v in ticks])


def gradient_norms_figure(flows: Sequence[GradientFlow], lang: str = "en",
                          labels: Sequence[str] | None = None) -> go.Figure:
    """||dL/dW|| of every conv/fc layer, layer 1 = the stem conv, on a log scale."""
    fig = go.Figure()
    for i, (flow, color, dash) in enumerate(_flows(flows)):
        name = labels[i] if labels else display_name(flow.model)
        fig.add_trace(go.Scatter(x=list(range(1, len(flow.layers) + 1)), y=list(flow.weight_grad_norm),
                                 mode="lines+markers", marker=dict(size=4), name=name,
                                 line=dict(color=color if not labels else _color(i), dash=dash),
                                 customdata=list(flow.layers),
                                 hovertemplate=t("gradient_flow.hover_layer", lang) + "<extra></extra>"))
    fig.update_xaxes(title_text=t("gradient_flow.x_layer", lang))
    _log_y(fig, t("gradient_flow.y_grad", lang), [v for f in flows for v in f.weight_grad_norm])
    fig.update_layout(height=420, margin=dict(t=50, b=40, l=70, r=20), title=t("gradient_flow.grad_title", lang))
    return readable(fig)


def block_figure(flows: Sequence[GradientFlow], what: str, lang: str = "en",
                 labels: Sequence[str] | None = None) -> go.Figure:
    """Per block: ``what`` = "signal" (std of the block's output), or "gain" (||dL/dx|| / ||dL/dy||)."""
    fig = go.Figure()
    for i, (flow, color, dash) in enumerate(_flows(flows)):
        name = labels[i] if labels else display_name(flow.model)
        if what == "signal":
            xs, ys, names = list(range(len(flow.blocks))), list(flow.signal_std), list(flow.blocks)
        else:
            xs, ys, names = list(range(1, len(flow.blocks))), list(flow.block_gain), list(flow.blocks[1:])
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", marker=dict(size=4), name=name,
                                 line=dict(color=color if not labels else _color(i), dash=dash), customdata=names,
                                 hovertemplate=t("gradient_flow.hover_block", lang) + "<extra></extra>"))
    fig.update_xaxes(title_text=t("gradient_flow.x_block", lang))
    # log scales: without BN a signal or a block's factor spans many orders of magnitude
    shown = [v for f in flows for v in (f.signal_std if what == "signal" else f.block_gain)]
    if what == "signal":
        _log_y(fig, t("gradient_flow.y_signal", lang), shown)
        title = t("gradient_flow.signal_title", lang)
    else:
        _log_y(fig, t("gradient_flow.y_gain", lang), [*shown, 1.0])
        fig.add_hline(y=1.0, line=dict(color="#999", dash="dot"))
        title = t("gradient_flow.gain_title", lang)
    fig.update_layout(height=360, margin=dict(t=50, b=40, l=70, r=20), title=title)
    return readable(fig)


def gradient_path_figure(flows: Sequence[GradientFlow], lang: str = "en") -> go.Figure:
    """||dL/dx_i|| between blocks (i = 0: the first block's input, i = N: the last block's output), log scale:
    read from right to left, the gradient on its way back to the input."""
    fig = go.Figure()
    for flow, color, dash in _flows(flows):
        fig.add_trace(go.Scatter(x=list(range(len(flow.blocks))), y=list(flow.grad_out_norm), mode="lines+markers",
                                 marker=dict(size=4), name=display_name(flow.model), line=dict(color=color, dash=dash),
                                 customdata=list(flow.blocks),
                                 hovertemplate=t("gradient_flow.hover_path", lang) + "<extra></extra>"))
    fig.update_xaxes(title_text=t("gradient_flow.x_path", lang))
    _log_y(fig, t("gradient_flow.y_path", lang), [v for f in flows for v in f.grad_out_norm])
    fig.update_layout(height=420, margin=dict(t=50, b=40, l=70, r=20), title=t("gradient_flow.path_title", lang))
    return readable(fig)
