"""Pictures and figures of the "What each layer learns" page: the stem's filters next to hand-made kernels, a
channel's top patches as a 3 x 3 grid (clipped sides marked), feature visualisations in a row, and the
receptive field of each stage against the input's side (the telescope).

PNG builders return H x W x 3 uint8 arrays (``resnet_viz.render.colour.png_bytes`` encodes them).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from resnet_viz.i18n import t
from resnet_viz.inspect.layer_learns import Crop, StageRow
from resnet_viz.render.colour import zoom
from resnet_viz.render.plots.layout import readable

GAP = 2  # pixels between tiles, after zooming
BACKGROUND = 255
OUTSIDE = 200  # the part of a tile the unit's field covers beyond the image
MARK = (230, 30, 30)  # the clipped sides of a patch
LEVEL_COLOURS = {"low": "#9ecae1", "mid": "#4292c6", "high": "#08519c"}


# ---------------------------------------------------------------- filters

def filter_pictures(filters: np.ndarray, bound: float | None = None) -> np.ndarray:
    """(n, 3, k, k) kernels -> (n, k, k, 3) uint8 on one symmetric scale: 0 is mid-grey, +-``bound`` (default:
    the largest |weight| of all of them) the brightest and darkest value of each colour."""
    w = np.asarray(filters, dtype=np.float32)
    bound = float(bound if bound is not None else np.abs(w).max()) or 1.0
    rgb = 0.5 + 0.5 * np.clip(w / bound, -1.0, 1.0)
    return (rgb.transpose(0, 2, 3, 1) * 255.0).round().astype(np.uint8)


def grey_kernel(kernel: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """A hand-made 2-D kernel as the RGB filter that applies it to every colour channel, (1, 3, k, k)."""
    k = np.asarray(kernel, dtype=np.float32)
    return np.broadcast_to(k, (3, *k.shape))[None].copy()


def mosaic(tiles: Sequence[np.ndarray], cols: int, *, target: int = 48) -> np.ndarray:
    """Equal-sized H x W x 3 tiles in rows of ``cols``, each zoomed (no blur) to about ``target`` pixels, with
    white gaps."""
    if not tiles:
        return np.full((1, 1, 3), BACKGROUND, np.uint8)
    h, w = tiles[0].shape[:2]
    z = max(1, target // max(h, w))
    rows = -(-len(tiles) // cols)
    th, tw = h * z, w * z
    out = np.full((rows * (th + GAP) - GAP, cols * (tw + GAP) - GAP, 3), BACKGROUND, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, cols)
        out[r * (th + GAP):r * (th + GAP) + th, c * (tw + GAP):c * (tw + GAP) + tw] = zoom(tile, z)
    return out


# ---------------------------------------------------------------- top patches

def patch_tile(picture: np.ndarray, crop: Crop, rf_size: int, z: int) -> np.ndarray:
    """One patch in a tile as large as the unit's field (at most the image): the crop sits away from the sides
    where the field runs past the image, which are left light grey and marked red on the crop's edge."""
    h, w = picture.shape[:2]
    side = (min(rf_size, h), min(rf_size, w))
    top, left, bottom, right = crop.box
    patch = picture[top:bottom + 1, left:right + 1]
    ph, pw = patch.shape[:2]
    oy = side[0] - ph if crop.clipped[0] else 0
    ox = side[1] - pw if crop.clipped[1] else 0
    tile = np.full((side[0] * z, side[1] * z, 3), OUTSIDE, np.uint8)
    tile[oy * z:(oy + ph) * z, ox * z:(ox + pw) * z] = zoom(patch, z)
    line = max(1, z // 3)
    y0, y1, x0, x1 = oy * z, (oy + ph) * z, ox * z, (ox + pw) * z
    for side_clipped, region in zip(crop.clipped, ((slice(y0, y0 + line), slice(x0, x1)),
                                                   (slice(y0, y1), slice(x0, x0 + line)),
                                                   (slice(y1 - line, y1), slice(x0, x1)),
                                                   (slice(y0, y1), slice(x1 - line, x1)))):
        if side_clipped:
            tile[region] = MARK
    return tile


def patch_grid(images_hwc: np.ndarray, crops: Sequence[Crop], rf_size: int, *, cols: int = 3,
               target: int = 72) -> np.ndarray:
    """A channel's top patches (best first, row by row), each tile about ``target`` pixels wide."""
    h, w = images_hwc.shape[1:3]
    z = max(1, target // min(rf_size, max(h, w)))
    return mosaic([patch_tile(images_hwc[c.image], c, rf_size, z) for c in crops], cols, target=1)


# ---------------------------------------------------------------- the telescope

def rf_figure(rows: Sequence[StageRow], input_size: int, lang: str = "en") -> go.Figure:
    """Each stage's receptive field (bars, coloured low / mid / high) against the input's side (a line)."""
    names = [row.stage for row in rows]
    fig = go.Figure(go.Bar(x=names, y=[row.rf.size for row in rows],
                           marker_color=[LEVEL_COLOURS[row.level] for row in rows],
                           text=[f"{row.rf.size} px" for row in rows], textposition="outside",
                           hovertext=[t(f"layer_learns.level_{row.level}", lang) for row in rows]))
    fig.add_hline(y=input_size, line_dash="dash", line_color="#d62728",
                  annotation_text=t("layer_learns.rf_input_line", lang, size=input_size))
    fig.update_layout(title=t("layer_learns.rf_title", lang), height=320, margin=dict(l=0, r=0, t=40, b=0),
                      yaxis_title=t("layer_learns.rf_axis", lang), showlegend=False)
    return readable(fig)


# ---------------------------------------------------------------- the table and the sentences (computed, not typed)

def percent(value: float) -> str:
    return f"{100 * value:.0f} %"


def stage_table(rows: Sequence[StageRow], input_size: int, agreement: dict[str, float] | None,
                lang: str = "en") -> list[dict[str, str | int]]:
    """One row per stage: the layer, its receptive field, the share of the input it covers, the notes' word and
    (when top patches were computed) how often a channel's top images share a class."""
    out: list[dict[str, str | int]] = []
    for row in rows:
        entry: dict[str, str | int] = {
            t("layer_learns.col_stage", lang): row.stage,
            t("layer_learns.col_layer", lang): row.layer.key,
            t("layer_learns.col_rf", lang): row.rf.size,
            t("layer_learns.col_coverage", lang): percent(row.coverage),
            t("layer_learns.col_level", lang): t(f"layer_learns.level_{row.level}", lang),
        }
        if agreement is not None:
            entry[t("layer_learns.col_agreement", lang)] = percent(agreement[row.layer.key])
        out.append(entry)
    return out


def telescope_sentence(rows: Sequence[StageRow], input_size: int, lang: str = "en") -> str:
    """How the field grows, and from which stage on a centre unit sees the whole input."""
    first, last = rows[0], rows[-1]
    full = next((row for row in rows if row.coverage >= 1.0), None)
    grows = t("layer_learns.telescope_grows", lang, first=first.rf.size, first_stage=first.stage, last=last.rf.size,
              last_stage=last.stage, size=input_size, times=f"{last.rf.size / max(first.rf.size, 1):.0f}")
    space = "" if lang == "zh" else " "  # Chinese sentences follow each other without a space
    if full is None:
        return grows + space + t("layer_learns.telescope_partial", lang, share=percent(last.coverage))
    return grows + space + t("layer_learns.telescope_full", lang, stage=full.stage, size=input_size)


def agreement_sentence(rows: Sequence[StageRow], agreement: dict[str, float], chance: float, lang: str = "en") -> str:
    """Whether a channel's top images agree on a class more at the last stage than at the first, against chance."""
    first, last = agreement[rows[0].layer.key], agreement[rows[-1].layer.key]
    key = "agreement_rises" if last > first else "agreement_flat"
    return t(f"layer_learns.{key}", lang, first=percent(first), first_stage=rows[0].stage, last=percent(last),
             last_stage=rows[-1].stage, chance=percent(chance))


def filters_sentence(shares: Sequence[float], lang: str = "en") -> str:
    """How many stem filters are mostly brightness patterns (edges, blobs) and how many mostly colour."""
    grey = sum(1 for s in shares if s >= 0.5)
    return t("layer_learns.filters_verdict", lang, grey=grey, colour=len(shares) - grey, total=len(shares))
