"""The Figure 7 page's data: values computed live on the CIFAR-10 sample (shared by every session of the server)
with a progress bar and a Stop button, the responses to a picture of the user's (measured when asked for, in the
server's queue), and this server's cost meter.

``responses_of`` is looked up on ``resnet_viz.paper.figure7`` at each call, so a test can replace it there.
"""

from __future__ import annotations

import time

import streamlit as st

from resnet_viz.cost import CALIBRATION_IMAGES, CostMeter, calibrate
from resnet_viz.errors import VizError
from resnet_viz.images import preprocess
from resnet_viz.paper import figure7 as paper
from resnet_viz.work import ByteBudgetCache
from ui.common import keep_valid, show_error, tr
from ui.images import test_sample
from ui.models import calibration_net, load_cached
from ui.work import heavy, stoppable

BATCH = 50  # images per forward pass: the progress bar's step, and how soon "Stop" takes effect
LIVE_CACHE_BYTES = 64 * 1024 * 1024  # 1000 images: under 1 MB per network
IMAGE_CACHE_BYTES = 4 * 1024 * 1024
IMAGE_RESULT_BYTES = 4096  # one network's responses to one picture: a ResNet-110's 109 floats and its layer names
IMAGE_REQUEST = "figure7_image_request"


def _result_bytes(result) -> int:
    moments = result.per_image
    return 0 if moments is None else moments.sums.nbytes + moments.sumsq.nbytes


@st.cache_resource(show_spinner=False)
def _live_cache() -> ByteBudgetCache:
    """Values computed live, shared by every session of the server, bounded by their per-image data's bytes.
    Unlike st.cache_data it tells whether a value is there, so the page knows before computing anything."""
    return ByteBudgetCache(LIVE_CACHE_BYTES, _result_bytes)


@st.cache_resource(show_spinner=False)
def meter() -> CostMeter:
    """Each network's seconds per multiply-add, measured on this server: the estimate next to the button."""
    return CostMeter(paper.reference_seconds_per_mac)


def _measure(path: str, model: str, size: int, on_batch):
    images, _, _ = test_sample(size)
    loaded = load_cached(path)
    start = time.perf_counter()
    result = paper.responses_of(loaded, images, batch_size=BATCH, per_image=True, on_batch=on_batch)
    meter().record(model, paper.responses_work([model], len(images))[model], time.perf_counter() - start)
    return result


@st.cache_resource(show_spinner=False)
def _image_cache() -> ByteBudgetCache:
    """Each network's responses to a picture (a few hundred bytes each), shared by every session: a picture measured
    once, the class's sample picture above all, shows at once for everyone."""
    return ByteBudgetCache(IMAGE_CACHE_BYTES, lambda r: IMAGE_RESULT_BYTES)


def measured(paths: list[str], fingerprint_key: tuple, image_id: str) -> bool:
    """Whether every network in ``paths`` has been measured on the picture ``image_id`` (nothing computed)."""
    cache = _image_cache()
    return all((path, fingerprint_key, image_id) in cache for path in paths)


def request_image(image_id: str) -> None:
    """"Measure this picture" (a callback): this session asks for the picture ``image_id``."""
    st.session_state[IMAGE_REQUEST] = image_id


def image_requested(image_id: str) -> bool:
    return st.session_state.get(IMAGE_REQUEST) == image_id


def on_image(path: str, fingerprint_key: tuple, image_id: str, image):
    """One network's responses to one picture: from the server's cache, else measured in the server's queue (the
    student is told their place) under the network's lock."""
    def measure():
        loaded = load_cached(path)
        return paper.responses_of(loaded, paper.image_to_uint8(preprocess(image, loaded).cropped))

    key = (path, fingerprint_key, image_id)
    return _image_cache().get_or_create(key, lambda: heavy(("figure7_image", *key), measure))


def shown_size(sizes: list[int], limit: int) -> tuple[int, bool]:
    """(size, live) of the values shown: the size the slider showed when "Recompute live" was last pressed, and
    True (values computed live); on a first visit the slider's ``limit`` and False (the values stored with the
    checkpoints)."""
    keep_valid("figure7_size", sizes, limit)
    return st.session_state["figure7_size"], bool(st.session_state.get("figure7_live", False))


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


def measure_speed() -> None:
    """This server's speed for the live responses the page promises, from a small pass (ui/warmup.py runs it
    once, when no script has run for a while)."""
    net = calibration_net()
    if net is not None:
        images, _, _ = test_sample(CALIBRATION_IMAGES)
        calibrate(meter(), paper.responses_work([net.spec.name], len(images))[net.spec.name],
                  lambda: paper.responses_of(net, images, batch_size=BATCH, per_image=True))
