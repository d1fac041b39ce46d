"""The paper's Figure 3 (VGG-19 | 34-layer plain | 34-layer residual), drawn from layer summaries.

``column_layout`` turns a :class:`~resnet_viz.inspect.architecture.Summary` into boxes (one per conv, pool or fc on
the main path) and shortcut arrows; ``figure3`` places any number of columns side by side on one
vertical scale, aligned by output-size bands (224, 112, 56, 28, 14, 7, 1) as in the paper.
All text goes through the i18n catalogue (stem ``arch``).
"""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go

from resnet_viz.i18n import t
from resnet_viz.inspect.architecture import LayerRow, Summary
from resnet_viz.models.registry import get_spec
from resnet_viz.render.plots.layout import wrap

POINTS_PER_BOX = 7  # invisible hover / click targets spread across each box
# Dark text on white: the default label takes the invisible markers' colour and reads poorly.
HOVER_LABEL = dict(bgcolor="white", bordercolor="#333333", font=dict(color="#111111", size=13), align="left")
BOX_HALF_WIDTH = 0.32
BOX_HEIGHT = 0.72
SHORTCUT_STYLE = {"identity": "solid", "projection": "dash", "pad": "dot"}
_BAND_COLOURS = ("#fde2c8", "#f9d1d1", "#d9ead3", "#d0e0f3", "#e4d7f5", "#fff2b3", "#d5f0ef", "#f2d7e9",
                 "#e0e0e0", "#cde6c7")
_POOL_COLOUR, _FC_COLOUR = "#ececec", "#d9d2e9"
COLUMN_LINE = 26  # a column's heading and totals are wrapped to this many Latin characters (CJK: half)


@dataclass(frozen=True)
class Box:
    label: str
    row: int  # index of the summary row this box stands for (the first one when collapsed)
    band: int  # output spatial size (1 for fc and global pooling)
    kind: str  # "conv", "pool" or "fc"
    unit: int  # index of the unit (block or single layer) it belongs to
    repeat: int = 1  # > 1 when identical consecutive units are collapsed into one ("x N")


@dataclass(frozen=True)
class Arrow:
    kind: str  # "identity", "projection" or "pad"
    first_box: int
    last_box: int
    block: str  # paper name of the (first) block
    repeat: int = 1


@dataclass(frozen=True)
class ColumnLayout:
    title: str
    summary: Summary
    boxes: tuple[Box, ...]
    arrows: tuple[Arrow, ...]


def spec_title(name: str, lang: str = "en") -> str:
    """The paper's column heading of a zoo model: "VGG-19", "34-layer plain", "34-layer residual"."""
    spec = get_spec(name)
    key = {"vgg": "architecture.name_vgg", "plain": "architecture.name_plain",
           "resnet": "architecture.name_resnet"}[spec.family]
    if spec.dataset == "cifar10":
        key += "_cifar"
    return t(key, lang, depth=spec.depth)


def model_title(summary: Summary, lang: str = "en") -> str:
    """``spec_title`` plus the shortcut option and layout variant the summary was made with."""
    title = spec_title(summary.model, lang)
    if summary.shortcut:
        title = t("architecture.name_with_option", lang, name=title, option=summary.shortcut)
    if summary.variant == "v1":
        title = t("architecture.name_v1", lang, name=title)
    return title


def box_label(row: LayerRow, lang: str = "en") -> str | None:
    """The paper's label of a layer, or None for layers Figure 3 does not draw (BN, ReLU, no-op pools)."""
    if row.type == "Conv2d" and row.kernel is not None and row.stride is not None:  # a Conv2d always has both
        k, s = row.kernel[0], row.stride[0]
        key = "architecture.box_conv_stride" if s > 1 else "architecture.box_conv"
        return t(key, lang, k=k, c=row.output_shape[0], s=s)
    if row.type in ("MaxPool2d", "AvgPool2d") and row.stride and row.stride[0] > 1:
        return t("architecture.box_pool", lang, s=row.stride[0])
    if row.type.startswith("Adaptive") and len(row.output_shape) == 3 and row.output_shape[1:] == (1, 1):
        return t("architecture.box_avgpool", lang)
    if row.type == "Linear":
        return t("architecture.box_fc", lang, n=row.output_shape[0])
    return None


def _kind(row: LayerRow) -> str:
    return "conv" if row.type == "Conv2d" else "fc" if row.type == "Linear" else "pool"


def _band(row: LayerRow) -> int:
    return row.output_shape[-1] if len(row.output_shape) == 3 else 1


def column_layout(summary: Summary, *, collapse: bool = False, lang: str = "en") -> ColumnLayout:
    """Boxes and shortcut arrows of one column. With ``collapse``, consecutive identical units (blocks
    with the same layers and the same kind of shortcut, or identical single layers) become one "x N"."""
    blocks = {b.name: b for b in summary.blocks}
    units: list[dict] = []  # {"boxes": [(label, row, band, kind)], "block": name | None}
    for row in summary.rows:
        if row.role == "shortcut":
            continue
        label = box_label(row, lang)
        if label is None:
            continue
        entry = (label, row.index, _band(row), _kind(row))
        if row.block is not None and units and units[-1]["block"] == row.block:
            units[-1]["boxes"].append(entry)
        else:
            units.append({"boxes": [entry], "block": row.block})

    merged: list[dict] = []
    for unit in units:
        shortcut = blocks[unit["block"]].shortcut if unit["block"] else None
        signature = (tuple((b[0], b[2]) for b in unit["boxes"]), shortcut, unit["block"] is not None)
        if collapse and merged and merged[-1]["signature"] == signature:
            merged[-1]["repeat"] += 1
        else:
            merged.append({**unit, "signature": signature, "shortcut": shortcut, "repeat": 1})

    boxes: list[Box] = []
    arrows: list[Arrow] = []
    for u, unit in enumerate(merged):
        first = len(boxes)
        for label, row_index, band, kind in unit["boxes"]:
            boxes.append(Box(label=label, row=row_index, band=band, kind=kind, unit=u, repeat=unit["repeat"]))
        if unit["shortcut"] is not None:
            arrows.append(Arrow(kind=unit["shortcut"], first_box=first, last_box=len(boxes) - 1,
                                block=unit["block"], repeat=unit["repeat"]))
    return ColumnLayout(title=model_title(summary, lang), summary=summary, boxes=tuple(boxes), arrows=tuple(arrows))


def band_positions(columns: list[ColumnLayout]) -> dict[int, tuple[float, int]]:
    """Output size -> (top y, height in box slots), shared by all columns so that bands line up."""
    bands = sorted({b.band for c in columns for b in c.boxes}, reverse=True)
    out, y = {}, 0.0
    for band in bands:
        height = max(sum(1 for b in c.boxes if b.band == band) for c in columns)
        out[band] = (y, height)
        y += height + 0.5  # a little gap between bands
    return out


def box_positions(column: ColumnLayout, bands: dict[int, tuple[float, int]]) -> list[float]:
    """The y centre of each box: boxes of a band stack from the band's top."""
    used: dict[int, int] = {}
    ys = []
    for box in column.boxes:
        top, _ = bands[box.band]
        ys.append(top + used.get(box.band, 0) + 0.5)
        used[box.band] = used.get(box.band, 0) + 1
    return ys


def relative_cost(columns: list[ColumnLayout]) -> list[float]:
    """Each column's multiply-adds as a fraction of the first column's (the paper: ResNet-34 = 18% of VGG-19)."""
    base = columns[0].summary.macs if columns else 0
    return [c.summary.macs / base if base else 0.0 for c in columns]


def hover_text(row: LayerRow, lang: str = "en") -> str:
    shape = " x ".join(str(s) for s in row.output_shape)
    rf = (t("architecture.hover_rf", lang, rf=row.rf, jump=row.jump) if row.rf is not None
          else t("architecture.hover_no_rf", lang))
    return t("architecture.hover", lang, name=row.name, paper=row.block or row.stage or "-", type=row.type, shape=shape,
             params=f"{row.params:,}", macs=f"{row.macs:,}", rf=rf)


def figure3(columns: list[ColumnLayout], *, lang: str = "en") -> go.Figure:
    """Columns side by side: boxes, band labels on the left, curved shortcut arrows, totals underneath."""
    bands = band_positions(columns)
    fig = go.Figure()
    n_slots = max((top + h for top, h in bands.values()), default=1)
    band_colour = {band: _BAND_COLOURS[i % len(_BAND_COLOURS)] for i, band in enumerate(bands)}
    shapes, annotations = _band_marks(bands, lang)
    costs = relative_cost(columns)
    for c, column in enumerate(columns):
        x = float(c)
        ys = box_positions(column, bands)
        annotations.append(dict(x=x, y=-1.0, xref="x", yref="y", showarrow=False,
                                text=f"<b>{wrap(column.title, COLUMN_LINE)}</b>", font=dict(size=13)))
        shapes.extend(_box_shapes(column, ys, x, band_colour))
        annotations.extend(_repeat_marks(column, ys, x, lang))
        fig.add_trace(_box_points(column, c, ys, lang))
        for arrow in column.arrows:
            shapes.append(_arrow_path(arrow, ys, x))
            annotations.append(_arrow_head(arrow, ys, x))
        base = columns[0].title if c > 0 and costs[c] else None
        annotations.append(_totals(column, x, n_slots, costs[c], base, lang))
    for trace in _legend(columns, lang):
        fig.add_trace(trace)
    fig.update_layout(
        shapes=shapes, annotations=annotations, height=int(160 + 30 * (n_slots + 4)),
        margin=dict(l=10, r=10, t=30, b=10), plot_bgcolor="white", hovermode="closest", hoverdistance=40,
        hoverlabel=HOVER_LABEL, clickmode="event+select", dragmode=False,
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
        xaxis=dict(visible=False, range=[-0.97, len(columns) - 0.4], fixedrange=True),
        yaxis=dict(visible=False, autorange=False, range=[n_slots + 3.6, -1.6], fixedrange=True))
    return fig


def _band_marks(bands: dict[int, tuple[float, int]], lang: str) -> tuple[list[dict], list[dict]]:
    """A dotted line above each output-size band and its label on the left: (shapes, annotations)."""
    shapes, annotations = [], []
    for band, (top, _) in bands.items():
        shapes.append(dict(type="line", xref="paper", x0=0, x1=1, y0=top - 0.25, y1=top - 0.25,
                           line=dict(color="#bbbbbb", width=1, dash="dot"), layer="below"))
        annotations.append(dict(x=-0.95, y=top + 0.5, xref="x", yref="y", xanchor="left", showarrow=False,
                                text=t("architecture.band_label", lang, size=band),
                                font=dict(size=11, color="#555555")))
    return shapes, annotations


def _box_shapes(column: ColumnLayout, ys: list[float], x: float, band_colour: dict[int, str]) -> list[dict]:
    """One rectangle per box: convs in their band's colour, pools and fc in their own."""
    shapes = []
    for box, y in zip(column.boxes, ys):
        colour = band_colour[box.band] if box.kind == "conv" else _POOL_COLOUR if box.kind == "pool" \
            else _FC_COLOUR
        shapes.append(dict(type="rect", x0=x - BOX_HALF_WIDTH, x1=x + BOX_HALF_WIDTH, y0=y - BOX_HEIGHT / 2,
                           y1=y + BOX_HEIGHT / 2, fillcolor=colour, line=dict(color="#444444", width=1),
                           layer="below"))
    return shapes


def _box_points(column: ColumnLayout, c: int, ys: list[float], lang: str) -> go.Scatter:
    """The column's labels and its invisible hover / click targets, ``POINTS_PER_BOX`` across each box; each
    point carries (column, row index) for ``selected_box``."""
    x = float(c)
    px, py, texts, hovers, custom = [], [], [], [], []
    for box, y in zip(column.boxes, ys):
        hover = hover_text(column.summary.rows[box.row], lang)
        if box.repeat > 1:
            hover += "<br>" + t("architecture.hover_repeat", lang, n=box.repeat)
        for k in range(POINTS_PER_BOX):
            px.append(x - BOX_HALF_WIDTH + (k + 0.5) * 2 * BOX_HALF_WIDTH / POINTS_PER_BOX)
            py.append(y)
            texts.append(box.label if k == POINTS_PER_BOX // 2 else "")
            hovers.append(hover)
            custom.append([c, box.row])
    return go.Scatter(
        x=px, y=py, mode="markers+text", text=texts, textposition="middle center", hovertext=hovers,
        hoverinfo="text", customdata=custom, marker=dict(size=14, opacity=0, symbol="square"),
        textfont=dict(size=11, color="#111111"), showlegend=False, name=column.title,
        selected=dict(textfont=dict(color="#000000")), unselected=dict(textfont=dict(color="#777777")))


def _totals(column: ColumnLayout, x: float, n_slots: float, cost: float, base: str | None, lang: str) -> dict:
    """GFLOPs, parameters and weight layers under the column; with ``base``, its cost relative to that column."""
    s = column.summary
    totals = t("architecture.column_totals", lang, gflops=f"{s.macs / 1e9:.2f}", mparams=f"{s.params / 1e6:.1f}",
               layers=s.weight_layers)
    if base is not None:
        totals += "<br>" + t("architecture.column_relative", lang, pct=f"{100 * cost:.1f}", base=base)
    return dict(x=x, y=n_slots + 0.4, xref="x", yref="y", yanchor="top", showarrow=False,
                text=wrap(totals, COLUMN_LINE), font=dict(size=11))


def _legend(columns: list[ColumnLayout], lang: str) -> list[go.Scatter]:
    """A legend line for each kind of shortcut the columns draw."""
    return [go.Scatter(x=[None], y=[None], mode="lines", line=dict(color="#1f4e9a", dash=dash, width=2),
                       name=t(f"architecture.legend_{kind}", lang), hoverinfo="skip")
            for kind, dash in SHORTCUT_STYLE.items() if any(a.kind == kind for col in columns for a in col.arrows)]


def _arrow_x(x: float) -> tuple[float, float]:
    return x + BOX_HALF_WIDTH, x + BOX_HALF_WIDTH + 0.16


def _arrow_path(arrow: Arrow, ys: list[float], x: float) -> dict:
    """A curve beside the column from above the block's first box to below its last box."""
    x0, bulge = _arrow_x(x)
    y0, y1 = ys[arrow.first_box] - 0.5, ys[arrow.last_box] + 0.45
    return dict(type="path", path=f"M {x0 - 0.02},{y0} C {bulge},{y0} {bulge},{y1} {x0 + 0.015},{y1}",
                line=dict(color="#1f4e9a", width=2, dash=SHORTCUT_STYLE[arrow.kind]), layer="above")


def _arrow_head(arrow: Arrow, ys: list[float], x: float) -> dict:
    x0, bulge = _arrow_x(x)
    y1 = ys[arrow.last_box] + 0.45
    return dict(x=x0 + 0.01, y=y1, ax=x0 + 0.07, ay=y1 - 0.12, xref="x", yref="y", axref="x", ayref="y",
                showarrow=True, arrowhead=2, arrowsize=1.2, arrowwidth=1.5, arrowcolor="#1f4e9a", text="")


def _repeat_marks(column: ColumnLayout, ys: list[float], x: float, lang: str) -> list[dict]:
    """One "xN" left of each collapsed unit (a whole block, or a single layer), at its middle."""
    units: dict[int, list[float]] = {}
    repeats: dict[int, int] = {}
    for box, y in zip(column.boxes, ys):
        if box.repeat > 1:
            units.setdefault(box.unit, []).append(y)
            repeats[box.unit] = box.repeat
    return [dict(x=x - BOX_HALF_WIDTH - 0.03, y=(min(u) + max(u)) / 2, xref="x", yref="y", xanchor="right",
                 showarrow=False, text=t("architecture.repeat_mark", lang, n=repeats[k]),
                 font=dict(size=12, color="#aa3300"))
            for k, u in units.items()]


def selected_box(columns: list[ColumnLayout], point: dict) -> tuple[int, int] | None:
    """(column, row index) of a clicked point from ``st.plotly_chart(..., on_select="rerun")``'s selection."""
    custom = point.get("customdata")
    if isinstance(custom, (list, tuple)) and len(custom) >= 2:
        c, r = int(custom[0]), int(custom[1])
        if 0 <= c < len(columns) and 0 <= r < len(columns[c].summary.rows):
            return c, r
    curve, index = point.get("curve_number"), point.get("point_index", point.get("point_number"))
    if isinstance(curve, int) and isinstance(index, int) and 0 <= curve < len(columns):
        boxes = columns[curve].boxes
        if 0 <= index // POINTS_PER_BOX < len(boxes):
            return curve, boxes[index // POINTS_PER_BOX].row
    return None

