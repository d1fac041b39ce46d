"""The "What each layer learns" page's data: the CIFAR-10 sample, top patches per (model, layer, images) and
feature visualisations computed live (both shared by every session of the server, bounded by bytes), with a
progress bar and, for a live visualisation, a Stop button.

Heavy work goes through the server's queue (``ui.work.heavy``); the model is used under its lock by
``resnet_viz`` (``hooks.hooked``) and left as found.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import streamlit as st

from resnet_viz.checkpoints.identity import model_fingerprint, model_key
from resnet_viz.checkpoints.read import LoadedModel
from resnet_viz.explain.feature_vis import VisConfig, VisGrid, VisResult, load_grid, visualise
from resnet_viz.inspect.feature_maps import LayerSpec
from resnet_viz.inspect.layer_learns import TopActivations, chance_agreement, crops, top_activations
from resnet_viz.render.plots.layer_learns import patch_grid
from resnet_viz.work import ByteBudgetCache
from ui.common import tr
from ui.images import cached_png, test_sample
from ui.models import first_views
from ui.work import heavy, stoppable

TOP_CACHE_BYTES = 16 * 1024 * 1024  # a ResNet-110's every layer over 1,000 images is under 1 MB
VIS_CACHE_BYTES = 16 * 1024 * 1024  # a 128 px picture is 48 KB


@st.cache_resource(max_entries=4, show_spinner=False)
def sample(limit: int) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(N x H x W x 3 uint8, labels, class names) of the first ``limit`` shipped test images (class-balanced):
    one read-only copy per server, not one per call."""
    images, labels, classes = test_sample(limit)
    hwc, lab = np.ascontiguousarray(images.permute(0, 2, 3, 1).numpy()), labels.numpy()
    hwc.flags.writeable = lab.flags.writeable = False
    return hwc, lab, classes


@st.cache_data(max_entries=4, show_spinner=False)
def chance(limit: int) -> float:
    return chance_agreement(sample(limit)[1])


@st.cache_resource(show_spinner=False)
def _tops() -> ByteBudgetCache[TopActivations]:
    return ByteBudgetCache(TOP_CACHE_BYTES, TopActivations.nbytes)


@st.cache_resource(show_spinner=False)
def _visuals() -> ByteBudgetCache[VisResult]:
    return ByteBudgetCache(VIS_CACHE_BYTES, lambda r: r.images.nbytes)


@st.cache_data(max_entries=8, show_spinner=False)
def shipped_grid(name: str, fingerprint: str) -> VisGrid | None:
    """The precomputed pictures of zoo model ``name``, when they were made from these very weights."""
    grid = load_grid(name)
    return grid if grid is not None and grid.meta.get("fingerprint") == fingerprint else None


def grid_of(loaded: LoadedModel) -> VisGrid | None:
    return shipped_grid(loaded.spec.name, model_fingerprint(loaded.model))


def _compute(loaded: LoadedModel, layers: list[LayerSpec], limit: int) -> dict[str, TopActivations]:
    """``layers`` in one pass over the first ``limit`` images, in the queue, with a progress bar."""
    bar = st.progress(0.0, text=tr("layer_learns.computing", images=limit))
    images = test_sample(limit)[0]

    def progress(done: int) -> None:
        bar.progress(done / limit, text=tr("layer_learns.computing", images=limit))

    try:
        return heavy(("layer_learns_top", model_key(loaded), tuple(m.key for m in layers), limit),
                     lambda: top_activations(loaded.model, layers, images, loaded.mean, loaded.std,
                                             on_batch=progress))
    finally:
        bar.empty()


def tops(loaded: LoadedModel, layers: list[LayerSpec], limit: int) -> dict[str, TopActivations]:
    """Top patches of each layer over the first ``limit`` sample images: shipped with the network (its first
    view), else from the server's cache, the missing layers computed together in one pass."""
    mkey, cache = model_key(loaded), _tops()
    shipped = first_views(loaded)
    if shipped is not None and shipped.limit == limit and all(layer.key in shipped.tops for layer in layers):
        return {layer.key: shipped.tops[layer.key] for layer in layers}
    missing = [layer for layer in layers if (mkey, layer.key, limit) not in cache]
    found = _compute(loaded, missing, limit) if missing else {}

    def make(layer: LayerSpec) -> TopActivations:
        return found.get(layer.key) or _compute(loaded, [layer], limit)[layer.key]

    return {layer.key: cache.get_or_create((mkey, layer.key, limit), partial(make, layer)) for layer in layers}


def patches_png(loaded: LoadedModel, top: TopActivations, channel: int, limit: int, target: int = 72) -> bytes:
    """A channel's top patches as a 3 x 3 grid."""
    return cached_png(("layer_learns_patches", model_key(loaded), top.key, channel, limit, target),
                      lambda: patch_grid(sample(limit)[0], crops(top, channel), top.rf.size, target=target))


# ---------------------------------------------------------------- live feature visualisation

def _vis_key(loaded: LoadedModel, layer: LayerSpec, channel: int) -> tuple:
    return model_key(loaded), layer.key, int(channel)


def cached_visual(loaded: LoadedModel, layer: LayerSpec, channel: int) -> VisResult | None:
    key, cache = _vis_key(loaded, layer, channel), _visuals()
    try:
        return cache.get_or_create(key, _absent) if key in cache else None
    except KeyError:  # dropped from the cache in between
        return None


def _absent() -> VisResult:
    raise KeyError("not computed")


def request(key: tuple) -> None:
    st.session_state["layer_learns_live"] = key


def _stop() -> None:
    """"Stop": the click interrupts the running script at its next progress update; this callback forgets
    the request so that it does not start again."""
    st.session_state.pop("layer_learns_live", None)


def live_visual(loaded: LoadedModel, layer: LayerSpec, channel: int) -> VisResult | None:
    """The channel's picture if asked for (button), computed in the queue with a progress bar and Stop."""
    key = _vis_key(loaded, layer, channel)
    found = cached_visual(loaded, layer, channel)
    if found is not None or st.session_state.get("layer_learns_live") != key:
        return found
    config = VisConfig.for_dataset(loaded.spec.dataset)
    with stoppable("layer_learns_stop", tr("layer_learns.stop"), _stop) as bar:
        bar.progress(0.0, text=tr("layer_learns.vis_progress", step=0, steps=config.steps))

        def progress(step: int) -> None:
            bar.progress(step / config.steps, text=tr("layer_learns.vis_progress", step=step, steps=config.steps))

        result = _visuals().get_or_create(key, lambda: heavy(("layer_learns_vis", *key), lambda: visualise(
            loaded.model, layer.path, [channel], loaded.mean, loaded.std, config, on_step=progress)))
    st.session_state.pop("layer_learns_live", None)
    return result
