"""The training lab's session side: the server's training queue, this session's job, its live view and downloads.

A run trains in a background thread (``resnet_viz.train.training_lab.job.start_job``), one run at a time per server in a
dedicated queue: a run takes minutes, and in the queue of ``ui.work.heavy`` it would keep every other student's
Grad-CAM or Figure 7 waiting that long. The thread writes only a plain object (``LabJob``) kept in this
session's state; a fragment polls it every second while the run is under way and redraws the curves. When the run
ends the thread puts the nets on this session's shelf (``ui.models.trained_shelf``), and the fragment reruns the
whole app once so the sidebar's picker lists them.
"""

from __future__ import annotations

import streamlit as st

from resnet_viz.checkpoints.read import LoadedModel
from resnet_viz.cost import CALIBRATION, CostMeter, estimate_sentence
from resnet_viz.errors import VizError
from resnet_viz.render.plots.training_lab import lab_figures
from resnet_viz.train.training_lab.curves import VERDICT_MIN_ITERATIONS, WINDOW, loss_gaps
from resnet_viz.train.training_lab.job import FAILED, QUEUED, LabJob, start_job
from resnet_viz.train.training_lab.sentences import clock, status_rows, verdict_rule, verdicts
from resnet_viz.train.training_lab.settings import (
    DEFAULT_BATCH,
    DEFAULT_ITERATIONS,
    DEFAULT_LR,
    LabSettings,
    check_settings,
    reference_seconds_per_mac,
    run_key,
    run_work,
)
from resnet_viz.train.training_lab.shelf import checkpoint_files
from resnet_viz.train.training_lab.stepper import DIVERGED, calibration
from resnet_viz.work import WorkQueue
from ui.common import current_language, show_error, tr
from ui.models import trained_shelf

JOB_KEY = "training_lab_job"
_POLLING_KEY = "_training_lab_polling"  # the live view polls a run under way (it reruns the app when it ends)
POLL_S = 1.0


@st.cache_resource(show_spinner=False)
def training_queue() -> WorkQueue:
    """This server's training runs, one at a time (shared by every session of the process)."""
    return WorkQueue(1)


@st.cache_resource(show_spinner=False)
def meter() -> CostMeter:
    """Seconds per multiply-add of the runs trained on this server: the time the page promises."""
    return CostMeter(reference_seconds_per_mac)


def measure_speed() -> None:
    """This server's speed for the default run the page promises, from a few forward and backward passes of its
    nets (ui/warmup.py runs it once, when no script has run for a while)."""
    meter().record(CALIBRATION, *calibration(LabSettings()))


def recipe_note() -> str:
    """The recipe, with how long the default run takes on this server."""
    default = LabSettings()
    seconds, basis = meter().estimate({run_key(default): run_work(default)})
    return estimate_sentence("training_lab.recipe_note", seconds, basis, current_language(),
                             iterations=default.iterations)


def current_job() -> LabJob | None:
    return st.session_state.get(JOB_KEY)


def busy() -> bool:
    job = current_job()
    return job is not None and job.active


def start(settings: LabSettings) -> None:
    """A new run for this session (its settings checked first: a bad one is said on the page, nothing starts)."""
    try:
        check_settings(settings)
    except VizError as exc:
        show_error(exc)
        return
    if busy():
        st.warning(tr("training_lab.busy"))
        return
    job = LabJob(settings, on_finish=trained_shelf().add, meter=meter())
    st.session_state[JOB_KEY] = job  # the session holds the job; the thread only a weak reference to it
    start_job(job, training_queue())
    st.rerun()  # the form again, its Train button now disabled


def _progress(job: LabJob) -> None:
    run = job.run
    if job.state == QUEUED or run is None:
        st.info(tr("training_lab.queued", n=job.ahead) if job.ahead else tr("training_lab.starting"))
    else:
        eta = run.eta_seconds()
        key = "training_lab.progress" if eta is not None else "training_lab.progress_start"
        st.progress(min(run.iteration / run.total, 1.0),
                    text=tr(key, it=run.iteration, total=run.total, elapsed=clock(run.elapsed), left=clock(eta)))
    st.button(tr("training_lab.stop"), key="training_lab_stop", on_click=job.stop, help=tr("training_lab.stop_help"))


def _outcome(job: LabJob) -> None:
    """What the finished run came to (or why it did not run)."""
    run = job.run
    if job.state == FAILED and job.error is not None:
        show_error(job.error)
    elif run is None:
        st.info(tr("training_lab.cancelled"))
    elif run.stopped:
        st.info(tr("training_lab.stopped", iterations=run.iteration, elapsed=clock(run.elapsed)))
    else:
        st.success(tr("training_lab.finished", iterations=run.iteration, elapsed=clock(run.elapsed)))


def _curves(job: LabJob) -> None:
    run, lang = job.run, current_language()
    if run is None:
        return
    nets = list(run.nets)
    for k, (column, fig) in enumerate(zip(st.columns(3), lab_figures(nets, run.total, lang))):
        column.plotly_chart(fig, width="stretch", key=f"training_lab_chart_{k}")  # stacked on a phone
    st.caption(tr("training_lab.smoothing", window=WINDOW))
    st.dataframe(status_rows(nets, lang), hide_index=True, width="stretch")
    for net in nets:
        if net.status == DIVERGED:
            st.warning(tr("training_lab.diverged", net=net.choice.label, it=net.iteration + 1))
    sentences = verdicts(loss_gaps(nets), lang)
    for sentence in sentences:
        st.markdown(sentence)
    if len(nets) > 1:
        if not sentences:
            st.caption(tr("training_lab.verdict_early", iterations=VERDICT_MIN_ITERATIONS))
        st.caption(verdict_rule(lang))


def _live_body() -> None:
    job = current_job()
    if job is None:
        return
    if job.active:
        _progress(job)
    else:
        _outcome(job)
    _curves(job)
    if not job.active and st.session_state.get(_POLLING_KEY):
        st.session_state[_POLLING_KEY] = False
        st.rerun()  # the whole app, once: the sidebar's picker lists the new models at once


_live_polling = st.fragment(run_every=POLL_S)(_live_body)
_live_still = st.fragment(_live_body)


def live() -> None:
    """The run's progress, curves, table and verdicts: redrawn every second while it trains."""
    active = busy()
    st.session_state[_POLLING_KEY] = active
    (_live_polling if active else _live_still)()


def downloads(job: LabJob | None) -> None:
    """Each trained net as ``.safetensors`` + ``.json`` in the project's format (written when clicked)."""
    if job is None or job.active or not job.results:
        return
    st.subheader(tr("training_lab.download_header"))
    for k, loaded in enumerate(job.results):
        stem = f"{loaded.spec.name}-lab-seed{job.settings.seed}-{loaded.meta.get('trained_iterations')}it"
        cols = st.columns(2)
        cols[0].download_button(tr("training_lab.download_weights", net=loaded.label), _file(loaded, stem, 0),
                                file_name=f"{stem}.safetensors", mime="application/octet-stream",
                                key=f"training_lab_dl_w{k}", help=tr("training_lab.download_help"),
                                on_click="ignore")
        cols[1].download_button(tr("training_lab.download_sidecar", net=loaded.label), _file(loaded, stem, 1),
                                file_name=f"{stem}.json", mime="application/json", key=f"training_lab_dl_j{k}",
                                help=tr("training_lab.download_help"), on_click="ignore")


def _file(loaded: LoadedModel, stem: str, part: int):
    """A callable Streamlit runs when the button is clicked (off the script thread): one file's bytes."""
    return lambda: checkpoint_files(loaded, stem)[part]


def default_numbers() -> None:
    """The number inputs' first values (set once, so a value typed earlier stays)."""
    for key, value in (("iterations", DEFAULT_ITERATIONS), ("batch", DEFAULT_BATCH), ("lr", DEFAULT_LR),
                       ("seed", 0)):
        st.session_state.setdefault(f"training_lab_{key}", value)
