"""Plotly figures of the evaluation page: the confusion matrix and the accuracy of each class."""

from __future__ import annotations

import plotly.graph_objects as go

from resnet_viz.i18n import class_label, t
from resnet_viz.render.plots.layout import readable
from resnet_viz.train.evaluate import EvalResult

BAR_COLOR, WORST_COLOR = "#1f77b4", "#d62728"


def confusion_figure(result: EvalResult, lang: str = "en") -> go.Figure:
    """Counts of true class (rows, top to bottom) x predicted class (columns); each cell also gives the share of
    its row in the hover text."""
    names = [class_label(c, lang) for c in result.classes]
    counts = result.confusion.tolist()
    rows = [max(sum(r), 1) for r in counts]
    share = [[100.0 * v / rows[i] for v in r] for i, r in enumerate(counts)]
    fig = go.Figure(go.Heatmap(
        z=counts, x=names, y=names, customdata=share, colorscale="Blues", text=counts, texttemplate="%{text}",
        hovertemplate=t("evaluate.confusion_hover", lang) + "<extra></extra>",
        colorbar=dict(title=t("evaluate.confusion_colorbar", lang))))
    fig.update_layout(title=t("evaluate.confusion_title", lang), height=520, margin=dict(l=0, r=0, t=40, b=0),
                      xaxis=dict(title=t("evaluate.predicted_axis", lang), side="bottom", tickangle=-40),
                      yaxis=dict(title=t("evaluate.true_axis", lang), autorange="reversed"))
    return readable(fig)


def per_class_figure(result: EvalResult, lang: str = "en") -> go.Figure:
    """Horizontal bars of each class's accuracy, the model's order from the top, the worst class in red."""
    per_class = result.per_class()
    names = list(per_class)[::-1]
    values = [per_class[c] for c in names]
    worst = min(values) if values else None
    # the labels sit at the bars' start, clear of the dashed line of the overall accuracy, whose label sits above
    # the plot (inside it, line and label crossed the bars' own labels)
    fig = go.Figure(go.Bar(
        x=values, y=[class_label(c, lang) for c in names], orientation="h", text=[f"{v:.0f}%" for v in values],
        textposition="inside", insidetextanchor="start", textfont=dict(color="white"),
        marker_color=[WORST_COLOR if v == worst else BAR_COLOR for v in values],
        hovertemplate="%{y}: %{x:.1f}%<extra></extra>"))
    fig.add_vline(x=result.accuracy, line_dash="dash", line_color="#555")
    fig.add_annotation(x=result.accuracy, y=1, xref="x", yref="paper", yanchor="bottom", showarrow=False,
                       text=t("evaluate.overall_line", lang, acc=f"{result.accuracy:.1f}"))
    fig.update_layout(title=t("evaluate.per_class_title", lang), height=520, margin=dict(l=0, r=0, t=60, b=0),
                      xaxis=dict(title=t("evaluate.accuracy_axis", lang), range=[0, 100]))
    return readable(fig)
