"""Gradient flow: plain-N vs ResNet-N at initialisation and trained, and the +1 of the identity path."""

import streamlit as st

from resnet_viz.curves import fingerprint
from resnet_viz.errors import VizError
from resnet_viz.gradflow import BATCH_SIZE, DEPTH_CHOICES, compare_at_init, of_checkpoint
from resnet_viz.loading import user_checkpoint_dir
from resnet_viz.plots.paper import block_figure, gradient_norms_figure
from resnet_viz.responses import figure7_sources, load_npz
from ui.common import current_language, show_error, tr
from ui.models import load_cached

SEED = 0
THREADS = 1  # small CIFAR convs: one thread is much faster on a busy CPU (benchmarks/paper_pages.py)


@st.cache_data(max_entries=16, show_spinner=False)
def _at_init(depth: int, seed: int):
    images, labels, _ = load_npz(limit=BATCH_SIZE)
    return compare_at_init(depth, images, labels, seed=seed, threads=THREADS)


@st.cache_data(max_entries=16, show_spinner=False)
def _trained(path: str, fingerprint_key: tuple):
    images, labels, _ = load_npz(limit=BATCH_SIZE)
    return of_checkpoint(load_cached(path), images, labels, threads=THREADS)


@st.cache_data(max_entries=8, show_spinner=False)
def _sources(fingerprint_key: tuple, user_dir: str):
    return figure7_sources()


def _name(model: str) -> str:
    """"plain56" -> "plain-56", "resnet110" -> "ResNet-110" (also for depths the zoo does not list)."""
    depth = "".join(ch for ch in model if ch.isdigit())
    return tr("gradflow.series_resnet" if model.startswith("resnet") else "gradflow.series_plain", depth=depth)


lang = current_language()
if st.session_state.get("gf_depth") not in DEPTH_CHOICES:  # first visit, or a value from elsewhere
    st.session_state["gf_depth"] = 56
st.title(tr("gradflow.page_title"))
st.markdown(tr("gradflow.intro"))

depth = st.select_slider(tr("gradflow.depth"), DEPTH_CHOICES, key="gf_depth", help=tr("gradflow.depth_help"))
try:
    with st.spinner(tr("paper.computing")):
        plain, res = _at_init(int(depth), SEED)
except VizError as exc:
    show_error(exc)
    st.stop()
st.caption(tr("gradflow.batch_caption", images=plain.images, seed=SEED))

st.subheader(tr("gradflow.formula_header"))
left, right = st.columns(2)
with left:
    st.markdown(tr("gradflow.formula_intro"))
    st.markdown(tr("gradflow.formula_plain"))
    st.latex(r"\frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}\,\frac{\partial F}{\partial x}")
    st.markdown(tr("gradflow.formula_resnet"))
    st.latex(r"\frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}\left(\frac{\partial F}{\partial x}"
             r" + 1\right)")
    st.markdown(tr("gradflow.formula_after"))
with right:
    st.markdown(f"**{tr('gradflow.measured_header')}**")
    for flow, key in ((plain, "gradflow.measured_plain"), (res, "gradflow.measured_resnet")):
        st.markdown(tr(key, net=_name(flow.model), gain=f"{flow.median_gain:.3f}",
                       ratio=f"{flow.first_to_last_ratio:.3g}"))
    cols = st.columns(2)
    for col, flow in zip(cols, (plain, res)):
        col.markdown(f"**{_name(flow.model)}**")
        col.metric(tr("gradflow.metric_gain"), f"{flow.median_gain:.3f}")
        col.metric(tr("gradflow.metric_ratio"), f"{flow.first_to_last_ratio:.3g}")
        col.metric(tr("gradflow.metric_loss"), f"{flow.loss:.3f}")

st.plotly_chart(gradient_norms_figure([plain, res], lang), width="stretch")
c1, c2 = st.columns(2)
c1.plotly_chart(block_figure([plain, res], "gain", lang), width="stretch")
c2.plotly_chart(block_figure([plain, res], "signal", lang), width="stretch")

with st.expander(tr("paper.what_to_notice"), expanded=True):
    st.markdown(tr("gradflow.notice"))

st.subheader(tr("gradflow.trained_header"))
st.markdown(tr("gradflow.trained_intro"))
fp = fingerprint()
sources = _sources(fp, str(user_checkpoint_dir()))
if not sources:
    st.info(tr("paper.no_checkpoints", user_dir=str(user_checkpoint_dir())))
else:
    labels = {s.path: f"{_name(s.model)} ({s.stem})" for s in sources}
    if "gf_trained" in st.session_state:  # keep only choices that still exist
        st.session_state["gf_trained"] = [k for k in st.session_state["gf_trained"] if k in labels]
    default = None if "gf_trained" in st.session_state else list(labels)[:5]
    chosen = st.multiselect(tr("gradflow.trained_choose"), list(labels), default=default,
                            format_func=labels.get, key="gf_trained")
    flows, names = [], []
    for path in chosen:
        try:
            flows.append(_trained(path, fp))
            names.append(labels[path])
        except VizError as exc:
            show_error(exc)
    if flows:
        st.plotly_chart(gradient_norms_figure(flows, lang, labels=names), width="stretch")
        st.plotly_chart(block_figure(flows, "gain", lang, labels=names), width="stretch")
