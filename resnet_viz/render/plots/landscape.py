"""Plotly figures and sentences of the loss-landscape page: a 3-D surface and a contour map per network on one
shared colour and z scale, the line from the initial weights, and the comparison computed from the grids."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import plotly.graph_objects as go

from resnet_viz.i18n import t
from resnet_viz.models.registry import ModelSpec, get_spec
from resnet_viz.paper.landscape import CENTRAL_RADIUS, Landscape, Shape, line_falls, smoother
from resnet_viz.render.plots.layout import readable
from resnet_viz.render.plots.paper import PALETTE, PLAIN_COLOR, RESNET_COLOR

COLORSCALE = "Viridis"
DASHES = ("dot", "solid", "dash", "dashdot")  # by depth within a family: shallow to deep
LEVELS = 24  # contour levels between the shared minimum and maximum
HEIGHT = 420
CAMERA = dict(x=1.55, y=1.55, z=1.3)  # a little further off than Plotly's 1.25: the axes' titles stay in a phone's view


def z_values(land: Landscape, log: bool) -> np.ndarray:
    """The loss as drawn: itself, or its base-10 logarithm."""
    loss = np.asarray(land.loss, dtype=np.float64)
    return np.log10(np.maximum(loss, 1e-12)) if log else loss


def shared_range(lands: Sequence[Landscape], log: bool) -> tuple[float, float]:
    """One (min, max) over every finite value of ``lands``: the same colours and heights for all."""
    values = np.concatenate([z_values(land, log).ravel() for land in lands])
    values = values[np.isfinite(values)]
    if not len(values):
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    return low, high if high > low else low + 1.0


def log_ticks(zrange: tuple[float, float]) -> dict[str, list]:
    """Ticks of a log10 axis at the powers of ten inside ``zrange``, labelled with the loss itself."""
    powers = list(range(int(np.ceil(zrange[0])), int(np.floor(zrange[1])) + 1))
    return {"tickvals": powers, "ticktext": [f"{10.0**k:g}" for k in powers]}


def _z_title(lang: str, log: bool) -> str:
    return t("landscape.z_log" if log else "landscape.z_loss", lang)


def surface_figure(land: Landscape, name: str, zrange: tuple[float, float], lang: str = "en", *,
                   log: bool = False) -> go.Figure:
    """The loss over the grid as a 3-D surface; ``zrange`` fixes both the z axis and the colours."""
    z = z_values(land, log)
    fig = go.Figure(go.Surface(
        x=land.x, y=land.y, z=z, cmin=zrange[0], cmax=zrange[1], colorscale=COLORSCALE,
        colorbar=dict(title=_z_title(lang, log), orientation="h", thickness=14, y=-0.02, yanchor="top",
                      **(log_ticks(zrange) if log else {})),  # under the surface: the scene keeps a phone's width
        hovertemplate=t("landscape.hover", lang) + "<extra></extra>",
        customdata=np.asarray(land.accuracy)))
    axis = dict(title=t("landscape.axis_d1", lang))
    fig.update_layout(
        title=t("landscape.surface_title", lang, net=name), height=HEIGHT, margin=dict(l=0, r=0, t=40, b=60),
        scene=dict(xaxis=axis, yaxis=dict(title=t("landscape.axis_d2", lang)),
                   zaxis=dict(title=_z_title(lang, log), range=list(zrange), **(log_ticks(zrange) if log else {})),
                   aspectmode="cube", camera=dict(eye=CAMERA)))
    return readable(fig)


def contour_figure(land: Landscape, name: str, zrange: tuple[float, float], lang: str = "en", *,
                   log: bool = False) -> go.Figure:
    """The same grid as contour lines (the same levels for every network), the trained weights marked."""
    z = z_values(land, log)
    size = (zrange[1] - zrange[0]) / LEVELS
    fig = go.Figure(go.Contour(
        x=land.x, y=land.y, z=z, zmin=zrange[0], zmax=zrange[1], colorscale=COLORSCALE,
        contours=dict(start=zrange[0], end=zrange[1], size=size),
        colorbar=dict(title=_z_title(lang, log), **(log_ticks(zrange) if log else {})),
        hovertemplate=t("landscape.hover", lang) + "<extra></extra>", customdata=np.asarray(land.accuracy)))
    fig.add_trace(go.Scatter(x=[0.0], y=[0.0], mode="markers", marker=dict(symbol="x", size=10, color="white"),
                             name=t("landscape.trained_point", lang), showlegend=False,
                             hovertemplate=t("landscape.trained_point", lang) + "<extra></extra>"))
    fig.update_layout(title=t("landscape.contour_title", lang, net=name), height=HEIGHT,
                      margin=dict(l=0, r=0, t=40, b=0), xaxis=dict(title=t("landscape.axis_d1", lang)),
                      yaxis=dict(title=t("landscape.axis_d2", lang), scaleanchor="x"))
    return readable(fig)


def _line_styles(lands: Sequence[Landscape]) -> list[tuple[str, str]]:
    """(colour, dash) per network: plain nets red and ResNets blue as on the other paper pages, the dash telling
    depths apart (shallow to deep); a network of unknown family gets a colour of its own."""
    specs: list[ModelSpec | None] = []
    for land in lands:
        try:
            specs.append(get_spec(str(land.meta.get("model"))))
        except KeyError:
            specs.append(None)
    depths = sorted({s.depth for s in specs if s is not None})
    out = []
    for k, spec in enumerate(specs):
        if spec is None or spec.family not in ("plain", "resnet"):
            out.append((PALETTE[k % len(PALETTE)], "solid"))
        else:
            color = PLAIN_COLOR if spec.family == "plain" else RESNET_COLOR
            out.append((color, DASHES[depths.index(spec.depth) % len(DASHES)]))
    return out


def line_figures(lines: Sequence[tuple[str, Landscape]], lang: str = "en", *,
                 log: bool = False) -> tuple[go.Figure, go.Figure]:
    """Loss and training-subset accuracy along the line from the initial weights (t=0) to the trained ones (t=1),
    two figures (side by side on a laptop, one under the other on a phone), one colour per network; the legend is
    under the loss."""
    loss, accuracy = go.Figure(), go.Figure()
    styles = _line_styles([land for _, land in lines])
    for k, (name, land) in enumerate(lines):
        if land.line_t is None or land.line_loss is None or land.line_accuracy is None:
            continue
        color, dash = styles[k]
        for fig, values in ((loss, land.line_loss), (accuracy, land.line_accuracy)):
            fig.add_trace(go.Scatter(x=land.line_t, y=values, mode="lines+markers", name=name, legendgroup=name,
                                     showlegend=fig is loss, line=dict(color=color, dash=dash)))
    loss.update_yaxes(title_text=t("landscape.z_loss", lang), type="log" if log else "linear")
    accuracy.update_yaxes(title_text=t("landscape.accuracy_axis", lang), range=[0, 100])
    for fig, key in ((loss, "landscape.line_loss"), (accuracy, "landscape.line_accuracy")):
        fig.update_xaxes(title_text=t("landscape.axis_t", lang))
        fig.update_layout(title=t(key, lang), height=380, margin=dict(l=0, r=0, t=40, b=0))
    return readable(loss), readable(accuracy)


# ---------------------------------------------------------------- sentences

def _pct(value: float) -> str:
    return "–" if not np.isfinite(value) else f"{100 * value:.0f} %"


def _accuracy(value: object) -> str:
    return f"{float(value):.1f} %" if isinstance(value, (int, float)) else "–"


def method_caption(land: Landscape, lang: str = "en") -> str:
    """How a grid was computed, from its own metadata."""
    m = land.meta
    return t("landscape.method", lang, points=m.get("points", len(land.x)), span=f"{m.get('span', 1.0):g}",
             images=m.get("images", "?"), seed=m.get("seed", "?"), seconds=m.get("seconds", "?"),
             accuracy=_accuracy(m.get("accuracy")))  # build details (torch's version) stay in the metadata


def images_used(lands: Iterable[Landscape], fallback: int) -> str:
    """How many training images the grids' losses were taken on, from their metadata ("128", or "128 / 256" when
    they differ); ``fallback`` when no grid says."""
    counts = sorted({int(land.meta["images"]) for land in lands if isinstance(land.meta.get("images"), int)})
    return " / ".join(f"{n:,}" for n in counts) if counts else f"{fallback:,}"


def shape_row(name: str, land: Landscape, shape: Shape, lang: str = "en") -> dict[str, str]:
    """One row of the comparison table."""
    return {t("landscape.col_net", lang): name,
            t("landscape.col_centre", lang): f"{shape.centre_loss:.3f}",
            t("landscape.col_accuracy", lang): f"{shape.centre_accuracy:.1f} %",
            t("landscape.col_max", lang): f"{float(np.nanmax(land.loss)):.3g}",
            t("landscape.col_rise", lang, r=f"{CENTRAL_RADIUS:g}"): f"{shape.rise:.3g}",
            t("landscape.col_rising", lang): _pct(shape.rising),
            t("landscape.col_convex", lang): _pct(shape.convex)}


ACCURACY_GAP = 10.0  # test accuracies further apart than this (points) are pointed out


def comparison_sentence(names: tuple[str, str], shapes: tuple[Shape, Shape], lang: str = "en",
                        accuracies: tuple[object, object] = (None, None)) -> str:
    """The two grids' shape measures and which is the more bowl-like, all from the numbers shown; and, when the
    checkpoints' test accuracies (``accuracies``, from their sidecars) are far apart, that the less accurate one
    sits at a less trained point."""
    (a, b), (sa, sb) = names, shapes
    first = t("landscape.compare", lang, a=a, b=b, r=f"{CENTRAL_RADIUS:g}", ca=_pct(sa.convex), cb=_pct(sb.convex),
              ra=_pct(sa.rising), rb=_pct(sb.rising))
    which = smoother(sa, sb)
    verdict = t("landscape.verdict_same", lang) if which < 0 else t("landscape.verdict", lang, net=(a, b)[which])
    text = first + " " + verdict
    acc = [float(v) if isinstance(v, (int, float)) else None for v in accuracies]
    if acc[0] is not None and acc[1] is not None and abs(acc[0] - acc[1]) > ACCURACY_GAP:
        low = 0 if acc[0] < acc[1] else 1
        text += " " + t("landscape.accuracy_gap", lang, net=(a, b)[low], low=f"{acc[low]:.1f}",
                        other=(a, b)[1 - low], high=f"{acc[1 - low]:.1f}")
    return text


def line_sentence(name: str, land: Landscape, lang: str = "en") -> str:
    """Whether the loss falls all the way from the initial to the trained weights, and the largest rise."""
    if land.line_t is None or land.line_loss is None:
        return ""
    falls, steps, rise = line_falls(land.line_t, land.line_loss)
    start, end = float(land.line_loss[0]), float(land.line_loss[-1])
    key = "landscape.line_monotone" if falls == steps else "landscape.line_bumps"
    return t(key, lang, net=name, start=f"{start:.3g}", end=f"{end:.3g}", falls=falls, steps=steps,
             rise=f"{rise:.3g}")


def init_check_sentence(lines: Sequence[tuple[str, Landscape]], lang: str = "en") -> str:
    """The evidence that each rebuilt initial network is its run's own (cosine similarities from the metadata)."""
    found = [(name, land.meta["init_cosine"], land.meta["other_seed_cosine"]) for name, land in lines
             if isinstance(land.meta.get("init_cosine"), (int, float))
             and isinstance(land.meta.get("other_seed_cosine"), (int, float))]
    if not found:
        return ""
    own = ", ".join(f"{name} {c:.2f}" for name, c, _ in found)
    other = ", ".join(f"{name} {o:.3f}" for name, _, o in found)
    return t("landscape.init_check", lang, own=own, other=other)
