"""The one colour pipeline: maps of numbers -> uint8 RGB pictures -> PNG bytes.

A map is coloured through a lookup table of 256 colours sampled along a named Plotly colour scale, so a
picture and a Plotly figure of the same map show the same colours. Every function takes and returns numpy
arrays (H x W values, H x W x 3 uint8 pictures); small maps are enlarged by whole pixels (no blur).

- ``heatmap`` / ``cam_heat`` / ``scale_to_peak``: attributions and Grad-CAM maps as heat in [0, 1];
- ``colorize``, ``overlay``, ``raw_picture``: values to colours, alone or blended over the input picture;
- ``draw_box``, ``mark_unit``: a unit's receptive field drawn on the input;
- ``display_scale``, ``zoom``, ``png_bytes``: the size a page shows and the bytes it sends.
"""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from resnet_viz.errors import InputError

COLORMAPS = ("Jet", "Turbo", "Inferno", "Viridis", "Hot")  # the choice a page offers for heat maps
SIGNS = ("positive", "negative", "absolute")  # how a signed attribution becomes heat
LUT_SIZE = 256
RGB = tuple[int, int, int]


# ---------------------------------------------------------------- heat: maps normalised to [0, 1]

def heatmap(values: np.ndarray, *, sign: str = "absolute", percentile: float = 99.0) -> np.ndarray:
    """A 3 x H x W (or H x W) attribution as an H x W map in [0, 1].

    Channels are summed (signed) for "positive"/"negative" and their absolute values summed for
    "absolute"; the map is divided by its ``percentile``-th percentile and clipped, so that a few
    extreme pixels do not turn everything else black.
    """
    if sign not in SIGNS:
        raise ValueError(f"sign must be one of {SIGNS}, got {sign!r}")
    a = np.asarray(values, dtype=np.float32)
    if a.ndim == 3:
        a = np.abs(a).sum(0) if sign == "absolute" else a.sum(0)
    if sign == "positive":
        a = np.clip(a, 0.0, None)
    elif sign == "negative":
        a = np.clip(-a, 0.0, None)
    else:
        a = np.abs(a)
    nonzero = a[a > 0]
    scale = float(np.percentile(nonzero, percentile)) if nonzero.size else 0.0
    return np.clip(a / scale, 0.0, 1.0).astype(np.float32) if scale > 0 else np.zeros_like(a)


def cam_heat(raw: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A raw Grad-CAM map as heat over its input: resized bilinearly to ``size`` (H, W), its positive part over its
    peak."""
    return scale_to_peak(np.clip(upsample(raw, size), 0.0, None))


def scale_to_peak(a: np.ndarray) -> np.ndarray:
    """``a`` divided by its maximum and clipped to [0, 1] (float32); all zeros when the maximum is not positive."""
    peak = float(a.max()) if a.size else 0.0
    return np.clip(a / peak, 0.0, 1.0).astype(np.float32) if peak > 0 else np.zeros_like(a, dtype=np.float32)


def upsample(raw: torch.Tensor | np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A low-resolution map bilinearly resized to ``size`` (H, W), float32."""
    t = torch.as_tensor(np.asarray(raw, dtype=np.float32))
    return F.interpolate(t[None, None], size=size, mode="bilinear", align_corners=False)[0, 0].numpy()


# ---------------------------------------------------------------- colours

@lru_cache(maxsize=16)
def lut(cmap: str) -> np.ndarray:
    """256 x 3 uint8 colours evenly sampled along the named Plotly colour scale (``Viridis``, ``Hot``, ``RdBu_r``...).

    Cached and read-only: one table serves every session.
    """
    from plotly.colors import sample_colorscale, unlabel_rgb  # plotly loads only when a picture is drawn
    from plotly.exceptions import PlotlyError

    try:
        colours = sample_colorscale(cmap, list(np.linspace(0.0, 1.0, LUT_SIZE)))
    except PlotlyError:
        raise ValueError(f"unknown colour map {cmap!r}; for example {', '.join(COLORMAPS)}") from None
    table = np.array([unlabel_rgb(c) for c in colours], dtype=np.float32).round().astype(np.uint8)
    table.flags.writeable = False
    return table


def colorize(values: np.ndarray, vmin: float = 0.0, vmax: float = 1.0, *, cmap: str = "Viridis", scale: int = 1,
             nan_colour: RGB = (255, 255, 255)) -> np.ndarray:
    """H x W values -> (H * scale) x (W * scale) x 3 uint8: [vmin, vmax] onto the colour scale (each value takes
    the nearest of its 256 colours; values outside take the end colours), NaN painted ``nan_colour``."""
    v = np.asarray(values, dtype=np.float32)
    span = (vmax - vmin) or 1.0
    index = np.clip(np.round((np.nan_to_num(v, nan=vmin) - vmin) / span * (LUT_SIZE - 1)), 0, LUT_SIZE - 1)
    rgb = lut(cmap)[index.astype(np.uint8)]
    rgb[np.isnan(v)] = nan_colour
    return zoom(rgb, scale)


def overlay(image: np.ndarray | Image.Image, heat: np.ndarray, vmin: float = 0.0, vmax: float = 1.0, *,
            alpha: float = 0.5, cmap: str = "Viridis") -> np.ndarray:
    """``heat`` coloured and blended over ``image``: (1 - alpha) * image + alpha * colours, H x W x 3 uint8.

    A map of another size is first resized (bilinearly) to the image's: where on the input a map responds.
    """
    if not 0.0 <= float(alpha) <= 1.0:
        raise InputError("attribution.bad_alpha", alpha=alpha)
    img = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 RGB image, got shape {img.shape}")
    heat = np.nan_to_num(np.asarray(heat, dtype=np.float32))
    if heat.shape != img.shape[:2]:
        heat = upsample(heat, img.shape[:2])
    colours = colorize(heat, vmin, vmax, cmap=cmap).astype(np.float32)
    out = (1.0 - float(alpha)) * img.astype(np.float32) + float(alpha) * colours
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def raw_picture(raw: np.ndarray, *, cmap: str = "Viridis", scale: int = 1) -> np.ndarray:
    """A low-resolution map itself: its positive part over its peak, coloured, each cell ``scale`` pixels wide."""
    return colorize(scale_to_peak(np.clip(np.asarray(raw, dtype=np.float32), 0.0, None)), cmap=cmap, scale=scale)


# ---------------------------------------------------------------- receptive fields on the input

def draw_box(image: np.ndarray, box: tuple[int, int, int, int], *, colour: RGB = (255, 40, 40), width: int = 2,
             cross: tuple[float, float] | None = None) -> np.ndarray:
    """A rectangle (top, left, bottom, right; inclusive) and optionally a cross at (row, col), on a copy."""
    im = Image.fromarray(np.ascontiguousarray(image))
    draw = ImageDraw.Draw(im)
    top, left, bottom, right = box
    draw.rectangle([left, top, right, bottom], outline=colour, width=width)
    if cross is not None:
        r, c = cross
        size = max(3, width * 2)
        draw.line([c - size, r, c + size, r], fill=colour, width=width)
        draw.line([c, r - size, c, r + size], fill=colour, width=width)
    return np.asarray(im)


def mark_unit(picture: np.ndarray, box: tuple[int, int, int, int], centre: tuple[float, float], *,
              heat: np.ndarray | None = None, vmin: float = 0.0, vmax: float = 1.0, cmap: str = "Viridis",
              alpha: float = 0.5, target: int = 448) -> np.ndarray:
    """The input picture (or ``heat`` coloured, when it has the picture's size; or ``heat`` blended over the
    picture otherwise), zoomed to about ``target`` pixels without blur, with a unit's receptive-field box and
    a cross at its centre (input pixel coordinates)."""
    h, w = picture.shape[:2]
    s = display_scale(h, w, target=target)
    if heat is not None and heat.shape == (h, w):
        big = colorize(heat, vmin, vmax, cmap=cmap, scale=s)
    else:
        big = zoom(picture, s)
        if heat is not None:
            big = overlay(big, heat, vmin, vmax, alpha=alpha, cmap=cmap)
    top, left, bottom, right = box
    return draw_box(big, (top * s, left * s, (bottom + 1) * s - 1, (right + 1) * s - 1),
                    cross=((centre[0] + 0.5) * s, (centre[1] + 0.5) * s), width=max(2, s // 3))


# ---------------------------------------------------------------- size and bytes

def display_scale(height: int, width: int, target: int = 448) -> int:
    """An integer zoom that makes a small map about ``target`` pixels wide (nearest neighbour, no blur)."""
    return max(1, target // max(height, width, 1))


def zoom(picture: np.ndarray, factor: int) -> np.ndarray:
    """An H x W (x C) picture enlarged ``factor`` times without blur: each pixel becomes a factor x factor block."""
    return picture.repeat(factor, axis=0).repeat(factor, axis=1) if factor > 1 else picture


def png_bytes(picture: np.ndarray | Image.Image, *, max_side: int | None = None) -> bytes:
    """An H x W (x 3) uint8 array or a PIL image as PNG bytes (fast compression), for display or download.

    With ``max_side`` the picture is reduced (aspect kept) so that its longer side is at most that: a page shows
    it a few hundred pixels wide, and encoding a 2048 px photo costs ~0.1 s.
    """
    if isinstance(picture, Image.Image):
        im = picture if picture.mode in ("RGB", "L") else picture.convert("RGB")
    else:
        im = Image.fromarray(np.ascontiguousarray(np.asarray(picture, dtype=np.uint8)))
    if max_side is not None and max(im.size) > max_side:
        scale = max_side / max(im.size)
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()
