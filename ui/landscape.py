"""The loss-landscape page's data: the shipped grids, the checkpoints a grid can be computed live for, and grids
computed live (shared by every session of the server) with a progress bar and a Stop button."""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from resnet_viz.checkpoints.find import file_stamp, find_checkpoints, folders_fingerprint
from resnet_viz.checkpoints.read import trained_epochs
from resnet_viz.cost import CALIBRATION_IMAGES, CostMeter, calibrate, estimate_sentence
from resnet_viz.errors import VizError
from resnet_viz.models.registry import display_name, get_spec
from resnet_viz.paper import landscape as paper
from resnet_viz.render import tables
from resnet_viz.samples import TRAIN_SUBSET, load_train_subset
from resnet_viz.train.evaluate import align_labels
from resnet_viz.work import ByteBudgetCache
from ui.common import show_error, tr
from ui.models import calibration_net, load_cached
from ui.work import heavy, stoppable

LIVE_POINTS = 11
LIVE_IMAGES = 256
CALIBRATION_POINTS = 3  # the warm-up's grid: 9 points, about 0.8 s here, its rate within 15 % of the live grid's
LIVE_CACHE_BYTES = 4 * 1024 * 1024  # an 11 x 11 grid is about 2 KB


def _folder_key() -> tuple:
    folder = paper.LANDSCAPES_DIR
    return tuple((p.name, file_stamp(p)) for p in sorted(folder.glob("*.npz"))) if folder.is_dir() else ()


@st.cache_data(max_entries=4, show_spinner=False)
def _shipped(folder_key: tuple) -> dict[str, paper.Landscape]:
    return paper.shipped()


def shipped() -> dict[str, paper.Landscape]:
    """The precomputed grids (file stem -> landscape), read again when the folder changes."""
    return _shipped(_folder_key())


def shipped_epochs(grids: dict[str, paper.Landscape]) -> str:
    """The epochs the shipped networks of ``grids`` were trained for, from their checkpoints' sidecars ("3.8–30")."""
    return _shipped_epochs(folders_fingerprint(), tuple(sorted({str(land.meta.get("model", stem))
                                                                for stem, land in grids.items()})))


@st.cache_data(max_entries=8, show_spinner=False)
def _shipped_epochs(_fingerprint: tuple, models: tuple[str, ...]) -> str:
    return tables.epochs_span(trained_epochs(info.meta) for info in find_checkpoints()
                              if info.shipped and info.model in models)


def ordered(grids: dict[str, paper.Landscape]) -> list[str]:
    """The stems of ``grids``: plain nets before ResNets, shallow to deep."""
    def key(stem: str) -> tuple[bool, int, str]:
        try:
            spec = get_spec(str(grids[stem].meta.get("model", stem)))
        except (KeyError, ValueError):
            return True, 0, stem
        return spec.family != "plain", spec.depth, stem
    return sorted(grids, key=key)


def label(stem: str, land: paper.Landscape | None = None) -> str:
    """A network's name as the page shows it: the zoo's name of its model (the file stem when unknown)."""
    model = (land.meta.get("model") if land is not None else None) or stem
    try:
        return display_name(str(model))
    except (KeyError, ValueError):
        return stem


def _live_infos():
    infos = [i for i in find_checkpoints() if get_spec(i.model).dataset == "cifar10"]
    infos.sort(key=lambda i: (not i.shipped, get_spec(i.model).depth, i.model))
    return infos


def live_sources() -> dict[str, str]:
    """Checkpoint path -> label of every CIFAR checkpoint found, shipped first, shallow nets first."""
    return {str(i.path): f"{label(i.model)} ({i.path.name})" for i in _live_infos()}


@st.cache_resource(show_spinner=False)
def meter() -> CostMeter:
    """Seconds per multiply-add of the live grids computed on this server: the time the page promises."""
    return CostMeter(paper.reference_seconds_per_mac)


def estimate(path: str, name: str, lang: str) -> str:
    """How long the live grid of the checkpoint at ``path`` takes on this server, as the page says it."""
    model = next((i.model for i in _live_infos() if str(i.path) == path), paper.REFERENCE_MODEL)
    seconds, basis = meter().estimate({model: paper.grid_work(model, LIVE_POINTS, LIVE_IMAGES)})
    return estimate_sentence("landscape.live_estimate", seconds, basis, lang, net=name)


@st.cache_data(max_entries=2, show_spinner=False)
def _images(limit: int):
    return load_train_subset(limit=limit)


@st.cache_resource(show_spinner=False)
def _live_cache() -> ByteBudgetCache:
    return ByteBudgetCache(LIVE_CACHE_BYTES, lambda land: land.loss.nbytes + land.accuracy.nbytes)


def request() -> None:
    """"Compute" (a callback, before the rerun): compute the network and seed the widgets show now."""
    state = st.session_state
    state["landscape_run"] = (state.get("landscape_net"), int(state.get("landscape_seed", paper.DEFAULT_SEED)))
    state.pop("landscape_stopped", None)


def _stop() -> None:
    """"Stop": the click interrupts the running script at its next progress update; nothing is kept."""
    state = st.session_state
    state["landscape_stopped"] = state.pop("landscape_run", None)


def _compute(path: str, seed: int, progress) -> paper.Landscape:
    loaded = load_cached(path)
    images, labels, classes = _images(LIVE_IMAGES)
    labels = align_labels(labels, classes, loaded.classes)
    start = time.perf_counter()
    land = paper.compute(loaded, images, labels, points=LIVE_POINTS, seed=seed, line=False, on_point=progress,
                         data=TRAIN_SUBSET.name)
    meter().record(loaded.spec.name, paper.grid_work(loaded.spec.name, LIVE_POINTS, LIVE_IMAGES),
                   time.perf_counter() - start)
    return land


def live(path: str, seed: int, name: str) -> paper.Landscape | None:
    """The live grid of ``path`` and ``seed``: from the server's cache, else computed in the queue when the
    student asked for it (progress bar and Stop button); None when not computed."""
    cache = _live_cache()
    key = (path, file_stamp(Path(path)), int(seed), LIVE_POINTS, LIVE_IMAGES)
    if key not in cache and st.session_state.get("landscape_run") != (path, int(seed)):
        if st.session_state.get("landscape_stopped") == (path, int(seed)):
            st.info(tr("landscape.stopped"))
        return None
    with stoppable("landscape_stop", tr("landscape.stop"), _stop, help=tr("landscape.stop_help"),
                   active=key not in cache) as bar:

        def progress(phase: str, done: int, total: int) -> None:
            bar.progress(done / total, text=tr("landscape.progress", net=name, done=done, total=total))

        try:
            land = cache.get_or_create(key, lambda: heavy(("landscape", key), lambda: _compute(path, seed, progress)))
        except VizError as exc:
            show_error(exc)
            land = None
    return land


def measure_speed() -> None:
    """This server's speed for the live grid the page promises, from a small grid (ui/warmup.py runs it once, when
    no script has run for a while)."""
    net = calibration_net()
    if net is not None:
        images, labels, classes = _images(CALIBRATION_IMAGES)
        labels = align_labels(labels, classes, net.classes)
        calibrate(meter(), paper.grid_work(net.spec.name, CALIBRATION_POINTS, len(images)),
                  lambda: paper.compute(net, images, labels, points=CALIBRATION_POINTS, line=False))
