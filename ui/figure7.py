"""The Figure 7 page's data: the checkpoints with stored values, the CIFAR-10 sample, values computed live
(shared by every session of the server) with a progress bar and a Stop button, and this server's cost meter.

``responses_of`` is looked up on ``resnet_viz.paper.figure7`` at each call, so a test can replace it there.
"""

from __future__ import annotations

import time

import streamlit as st

from resnet_viz.errors import VizError
from resnet_viz.images import preprocess
from resnet_viz.paper import figure7 as paper
from resnet_viz.render.colour import display_scale, png_bytes, zoom
from resnet_viz.work import ByteBudgetCache
from ui.common import show_error, tr
from ui.images import test_sample
from ui.models import load_cached
from ui.work import heavy, stoppable

THUMB_SIDE = 96
BATCH = 50  # images per forward pass: the progress bar's step, and how soon "Stop" takes effect
LIVE_CACHE_BYTES = 64 * 1024 * 1024  # 1000 images: under 1 MB per network


@st.cache_data(max_entries=8, show_spinner=False)
def sources(fingerprint_key: tuple, user_dir: str):
    """The checkpoints Figure 7 can show (``figure7_sources``), read again when the folders change."""
    return paper.figure7_sources()


def _result_bytes(result) -> int:
    moments = result.per_image
    return 0 if moments is None else moments.sums.nbytes + moments.sumsq.nbytes


@st.cache_resource(show_spinner=False)
def _live_cache() -> ByteBudgetCache:
    """Values computed live, shared by every session of the server, bounded by their per-image data's bytes.
    Unlike st.cache_data it tells whether a value is there, so the page knows before computing anything."""
    return ByteBudgetCache(LIVE_CACHE_BYTES, _result_bytes)


@st.cache_resource(show_spinner=False)
def meter() -> paper.CostMeter:
    """Each network's seconds per image, measured on this server: the estimate next to the button."""
    return paper.CostMeter()


def _measure(path: str, model: str, size: int, on_batch):
    images, _, _ = test_sample(size)
    loaded = load_cached(path)
    start = time.perf_counter()
    result = paper.responses_of(loaded, images, batch_size=BATCH, per_image=True, on_batch=on_batch)
    meter().record(model, len(images), time.perf_counter() - start)
    return result


@st.cache_data(max_entries=64, show_spinner=False)
def thumbnail(limit: int, index: int) -> bytes:
    """Image ``index`` of the sample as a small PNG."""
    images, _, _ = test_sample(limit)
    picture_hwc = images[index].permute(1, 2, 0).numpy()
    return png_bytes(zoom(picture_hwc, display_scale(picture_hwc.shape[0], picture_hwc.shape[1], target=THUMB_SIDE)))


@st.cache_data(max_entries=32, show_spinner=False)
def on_image(source: str, fingerprint_key: tuple, image_id: str, _image):
    """One network's responses to one picture of the user's."""
    loaded = load_cached(source)
    return paper.responses_of(loaded, paper.image_to_uint8(preprocess(_image, loaded).cropped))


def request() -> None:
    """"Recompute live" (a callback, run before the rerun): compute on the size the slider shows now."""
    state = st.session_state
    state["figure7_prev"] = (state.get("figure7_size"), state.get("figure7_live", False))
    state["figure7_size"], state["figure7_live"] = state["figure7_images"], True
    state.pop("figure7_stopped", None)


def _stop() -> None:
    """"Stop": the click interrupts the running script at its next progress update (Streamlit stops a run
    when a widget changes); this callback then restores what was shown before and keeps the stopped size
    from starting again until "Recompute live" is pressed."""
    state = st.session_state
    state["figure7_stopped"] = state.get("figure7_size")
    previous, was_live = state.pop("figure7_prev", (None, False))
    if previous is not None:
        state["figure7_size"], state["figure7_live"] = previous, was_live


def compute_live(paths: list[str], by_path: dict, labels: dict[str, str], fp: tuple, size: int) -> dict:
    """Each net's live values at ``size``: from the server's cache, else computed in the queue with a progress
    bar and a Stop button. A stopped size is not started again; its nets are missing from the result."""
    cache = _live_cache()
    pending = [p for p in paths if (p, fp, size) not in cache]
    if pending and st.session_state.get("figure7_stopped") == size:
        st.info(tr("figure7.stopped"))
        paths = [p for p in paths if p not in pending]
        pending = []
    out = {}
    with stoppable("figure7_stop", tr("figure7.stop"), _stop, help=tr("figure7.stop_help"),
                   active=bool(pending)) as bar:
        for path in paths:
            k = pending.index(path) if path in pending else 0

            def progress(done: int, k: int = k, net: str = labels.get(path, path)) -> None:
                bar.progress((k + done / size) / len(pending), text=tr("figure7.progress", net=net, images=size,
                                                                       k=k + 1, total=len(pending)))

            def make(path: str = path, on_batch=progress):
                model = paper.source_model(path, by_path)
                return heavy(("figure7", path, fp, size), lambda: _measure(path, model, size, on_batch))
            try:
                out[path] = cache.get_or_create((path, fp, size), make)
            except VizError as exc:
                show_error(exc)
                st.caption(tr("figure7.load_failed", net=labels.get(path, path)))
    return out
