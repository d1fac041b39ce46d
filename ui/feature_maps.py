"""The feature-map page's captures: one forward pass per (model, image) that every view reads, the effective
receptive field on request, channel mosaics coloured and encoded once, and the pictures several views draw.

Keys are ``model_key(loaded)`` and the image id: weights, preprocessing and picture, never an object's id.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import streamlit as st
import torch
from PIL import Image

from resnet_viz.checkpoints.identity import model_key
from resnet_viz.checkpoints.read import LoadedModel
from resnet_viz.errors import VizError
from resnet_viz.images import Preprocessed
from resnet_viz.inspect.feature_maps import (
    Capture,
    capture,
    channel_mosaic,
    channel_order,
    effective_receptive_field,
    value_range,
)
from resnet_viz.render.colour import colorize, display_scale
from ui.common import picture, show_error, tr
from ui.images import cached_png, preprocessed
from ui.models import load_cached

STRIP_CHANNELS = 16  # the most active channels a depth strip shows of each stage


def input_picture(pre: Preprocessed) -> np.ndarray:
    """The model's input as a picture: the cropped image, which the normalised tensor encodes exactly."""
    return np.asarray(pre.cropped)


@st.cache_resource(max_entries=4, show_spinner=False)
def _capture(model: str, image_id: str, _loaded: LoadedModel, _tensor: torch.Tensor) -> Capture:
    """A resource, not st.cache_data: cache_data would unpickle a fresh copy of every activation on each rerun
    (about 40 % of a layer change on ResNet-50). The capture is frozen (read-only arrays), so sharing it is safe.
    """
    return capture(_loaded.model, _tensor, _loaded.spec, classes=_loaded.classes)


def capture_of(loaded: LoadedModel, pre: Preprocessed, image_id: str) -> Capture:
    """The one forward pass per (model, image); every view of the page reads from it."""
    return _capture(model_key(loaded), image_id, loaded, pre.tensor)


@st.cache_data(max_entries=16, show_spinner=False)
def _erf(model: str, image_id: str, path: str, row: int, col: int, channel: int | None, _loaded: LoadedModel,
         _tensor: torch.Tensor) -> np.ndarray:
    return effective_receptive_field(_loaded.model, _tensor, path, row=row, col=col, channel=channel)


def erf_of(loaded: LoadedModel, pre: Preprocessed, image_id: str, path: str, row: int, col: int,
           channel: int | None) -> np.ndarray:
    """The effective receptive field of one unit (a forward and a backward pass, made only on request)."""
    return _erf(model_key(loaded), image_id, path, row, col, channel, loaded, pre.tensor)


def grid_png(cap: Capture, mkey: str, image_id: str, layer: str, channels: Iterable[int], cols: int, target: int,
             lo: float, hi: float) -> bytes:
    """``channels`` of ``layer`` as a mosaic of ``cols`` columns, about ``target`` pixels wide, on [lo, hi]."""
    chans = tuple(int(i) for i in channels)

    def make() -> np.ndarray:
        mosaic = channel_mosaic(cap.layers[layer].array, np.array(chans, dtype=np.int64), cols=cols)
        return colorize(mosaic, lo, hi, scale=display_scale(mosaic.shape[0], mosaic.shape[1], target=target))

    return cached_png(("grid", mkey, image_id, layer, chans, cols, target, float(lo), float(hi)), make)


def pair_captures(image: Image.Image, image_id: str,
                  pair: tuple[str, ...]) -> dict[str, tuple[LoadedModel, Capture]] | None:
    """The captures of the image by a (plain name, path, resnet name, path) pair of checkpoints, by name
    (None, after a message, when one cannot be loaded)."""
    caps = {}
    for name, path in (pair[:2], pair[2:]):
        try:
            loaded = load_cached(path)
        except VizError as exc:
            show_error(exc)
            return None
        caps[name] = (loaded, capture_of(loaded, preprocessed(image, image_id, loaded), image_id))
    return caps


def strip_scales(caps: Sequence[Capture]) -> dict[str, tuple[float, float]]:
    """One colour scale per stage shared by several nets: the range of the channels their depth strips show."""
    scales = {}
    for stage in (s for s in caps[-1].stages if s != "fc"):
        values = []
        for cap in caps:
            rec = cap.layers[cap.stages[stage]]
            values.append(rec.array[channel_order(rec, "mean")[:STRIP_CHANNELS]].reshape(-1))
        scales[stage] = value_range(np.concatenate(values))
    return scales


def depth_strip(cap: Capture, mkey: str, image_id: str, scales: dict[str, tuple[float, float]] | None = None) -> None:
    """Each stage's most active channels side by side, on its own colour scale or on ``scales[stage]``."""
    stages = [(s, k) for s, k in cap.stages.items() if not s.startswith("pool") and s != "fc"]
    for col, (stage, key) in zip(st.columns(len(stages)), stages):
        rec = cap.layers[key]
        chans = channel_order(rec, "mean")[:STRIP_CHANNELS]
        lo, hi = scales[stage] if scales and stage in scales else (rec.vmin, rec.vmax)
        c, h, w = rec.shape
        picture(grid_png(cap, mkey, image_id, key, chans, int(np.ceil(np.sqrt(len(chans)))), 240, lo, hi), where=col)
        col.caption(tr("feature_maps.strip_caption", stage=stage, channels=c, height=h, width=w, rf=rec.rf.size,
                       jump=rec.rf.jump))


def colour_bar(lo: float, hi: float, caption: str, cmap: str = "Viridis") -> None:
    """The colour scale from ``lo`` to ``hi`` as a thin picture, with ``caption`` (its ends, where it saturates)
    below."""
    bar = np.linspace(lo, hi, 256)[None, :].repeat(12, axis=0)
    picture(cached_png(("bar", float(lo), float(hi), cmap), lambda: colorize(bar, lo, hi, cmap=cmap)),
            caption=caption)
