"""The lesion page's data: the CIFAR-10 checkpoints grouped by depth, their sweeps (shipped with the app, else
computed in the server's queue with a progress bar and kept for every session), the intact network's pass on the
sample images with its kept block inputs (shared by every session: a click restarts from them), and the sidebar
model's predictions with blocks deleted (kept per session)."""

from __future__ import annotations

import time

import streamlit as st

from resnet_viz.checkpoints.identity import model_fingerprint
from resnet_viz.cost import CALIBRATION_IMAGES, CostMeter, calibrate, estimate_sentence
from resnet_viz.models.registry import get_spec
from resnet_viz.paper import lesion as paper
from resnet_viz.paper.figure7 import figure7_sources
from resnet_viz.render.tables import figure7_labels
from resnet_viz.samples import TEST_SAMPLE_NAME
from resnet_viz.work import ByteBudgetCache
from ui.common import session_memo, tr
from ui.images import test_sample
from ui.models import calibration_net, load_cached
from ui.work import heavy

STUDY_BYTES = 64 * 1024  # a sweep is a few KB of JSON; the cache keeps a few hundred
PROBS_ENTRIES = 6  # deletion sets a session keeps (1000 x 10 floats each)
INTACT_PASSES = 2  # networks or image counts whose kept block inputs the server holds (each within KEPT_BYTES)


@st.cache_data(max_entries=8, show_spinner=False)
def depth_groups(fingerprint_key: tuple, lang: str) -> dict[int, list[tuple[str, str]]]:
    """depth -> [(label, checkpoint path)] of the CIFAR-10 ResNets and plain nets, ResNets first, shallow first."""
    sources = figure7_sources()
    labels = figure7_labels(sources, lang)
    groups: dict[int, list[tuple[str, str]]] = {}
    for src in sorted(sources, key=lambda s: (get_spec(s.model).depth, s.family != "resnet", not s.shipped)):
        groups.setdefault(get_spec(src.model).depth, []).append((labels[src.path], src.path))
    return groups


@st.cache_resource(show_spinner=False)
def _studies() -> ByteBudgetCache:
    """Sweeps computed on this server, shared by every session."""
    return ByteBudgetCache(STUDY_BYTES * 256, size_of=lambda _: STUDY_BYTES)


def study(path: str, fp: tuple) -> paper.LesionStudy | None:
    """The sweep of the checkpoint at ``path``: shipped with the app, or computed on this server before."""
    weights = model_fingerprint(load_cached(path).model)
    cache = _studies()
    if (weights, fp) in cache:
        return cache.get_or_create((weights, fp), lambda: None)
    return paper.stored_study(weights, sample=TEST_SAMPLE_NAME)


@st.cache_resource(show_spinner=False)
def meter() -> CostMeter:
    """Seconds per multiply-add of the sweeps computed on this server: the time the page promises."""
    return CostMeter(paper.reference_seconds_per_mac)


def not_stored(missing: list[tuple[str, str]], lang: str) -> str:
    """Which networks' sweeps are missing, and how long computing them takes on this server."""
    work = {load_cached(path).spec.name: paper.sweep_work(load_cached(path).spec.name) for _, path in missing}
    seconds, basis = meter().estimate(work)
    return estimate_sentence("lesion.not_stored", seconds, basis, lang, nets=", ".join(label for label, _ in missing))


def compute_study(path: str, fp: tuple, label: str) -> paper.LesionStudy:
    """The sweep of ``path`` on the 1,000 sample images, in the server's queue, with a progress bar."""
    loaded = load_cached(path)
    weights = model_fingerprint(loaded.model)
    bar = st.progress(0.0, text=tr("lesion.progress", net=label))

    def on_progress(fraction: float) -> None:
        bar.progress(min(fraction, 1.0), text=tr("lesion.progress", net=label))

    def sweep() -> paper.LesionStudy:
        images, labels, _ = test_sample(paper.REFERENCE_IMAGES)
        start = time.perf_counter()
        result = paper.lesion_study(loaded, images, labels, sample=TEST_SAMPLE_NAME, on_progress=on_progress)
        meter().record(loaded.spec.name, paper.sweep_work(loaded.spec.name, len(images)), time.perf_counter() - start)
        return result

    def make() -> paper.LesionStudy:
        return heavy(("lesion", weights), sweep)
    try:
        return _studies().get_or_create((weights, fp), make)
    finally:
        bar.empty()


@st.cache_resource(show_spinner=False)
def _intact_passes() -> ByteBudgetCache:
    """The intact passes (``paper.intact_pass``) computed on this server, shared by every session."""
    return ByteBudgetCache(INTACT_PASSES * paper.KEPT_BYTES, lambda p: p.nbytes)


def probabilities(loaded, mkey: str, size: int, deleted: tuple[int, ...]):
    """(size x classes) softmax of the sidebar model on the first ``size`` sample images with ``deleted`` blocks
    deleted; kept in the session, computed in the queue with a progress bar from the intact pass."""
    def compute_now():
        images, _, _ = test_sample(size)
        bar = st.progress(0.0, text=tr("lesion.progress_images", images=size))

        def on_batch(done: int) -> None:
            bar.progress(done / size, text=tr("lesion.progress_images", images=size))
        try:
            intact = _intact_passes().get_or_create((mkey, size), lambda: heavy(
                ("lesion_intact", mkey, size),
                lambda: paper.intact_pass(loaded.model, images, mean=loaded.mean, std=loaded.std, on_batch=on_batch)))
            if not deleted:
                return intact.probs
            return heavy(("lesion_probs", mkey, size, deleted), lambda: paper.probabilities_from(
                loaded.model, intact, images, deleted, mean=loaded.mean, std=loaded.std, on_batch=on_batch))
        finally:
            bar.empty()
    return session_memo("lesion_probs", (mkey, size, deleted), compute_now, entries=PROBS_ENTRIES)


def measure_speed() -> None:
    """This server's speed for the sweeps the page promises, from a small sweep (ui/warmup.py runs it once, when no
    script has run for a while)."""
    net = calibration_net()
    if net is not None:
        images, labels, _ = test_sample(CALIBRATION_IMAGES)
        calibrate(meter(), paper.sweep_work(net.spec.name, len(images)),
                  lambda: paper.lesion_study(net, images, labels))
