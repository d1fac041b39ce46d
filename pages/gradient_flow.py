"""Gradient flow: plain-N vs ResNet-N at initialisation and trained, and the +1 of the identity path."""

import streamlit as st

from resnet_viz.checkpoints.find import user_checkpoint_dir
from resnet_viz.errors import VizError
from resnet_viz.paper.figure6 import fingerprint
from resnet_viz.paper.figure7 import figure7_sources, load_npz
from resnet_viz.paper.gradient_flow import BATCH_SIZE, DEPTH_CHOICES, compare_at_init, of_checkpoint
from resnet_viz.render.plots.paper import block_figure, gradient_norms_figure
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
    return tr("gradient_flow.series_resnet" if model.startswith("resnet") else "gradient_flow.series_plain", depth=depth)


lang = current_language()
if st.session_state.get("gradient_flow_depth") not in DEPTH_CHOICES:  # first visit, or a value from elsewhere
    st.session_state["gradient_flow_depth"] = 56
st.title(tr("gradient_flow.page_title"))
st.markdown(tr("gradient_flow.intro"))

depth = st.select_slider(tr("gradient_flow.depth"), DEPTH_CHOICES, key="gradient_flow_depth", help=tr("gradient_flow.depth_help"))
try:
    with st.spinner(tr("paper.computing")):
        plain, res = _at_init(int(depth), SEED)
except VizError as exc:
    show_error(exc)
    st.stop()
st.caption(tr("gradient_flow.batch_caption", images=plain.images, seed=SEED))

st.subheader(tr("gradient_flow.formula_header"))
left, right = st.columns(2)
with left:
    st.markdown(tr("gradient_flow.formula_intro"))
    st.markdown(tr("gradient_flow.formula_plain"))
    st.latex(r"\frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}\,\frac{\partial F}{\partial x}")
    st.markdown(tr("gradient_flow.formula_resnet"))
    st.latex(r"\frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}\left(\frac{\partial F}{\partial x}"
             r" + 1\right)")
    st.markdown(tr("gradient_flow.formula_after"))
with right:
    st.markdown(f"**{tr('gradient_flow.measured_header')}**")
    for flow, key in ((plain, "gradient_flow.measured_plain"), (res, "gradient_flow.measured_resnet")):
        st.markdown(tr(key, net=_name(flow.model), gain=f"{flow.median_gain:.3f}",
                       ratio=f"{flow.first_to_last_ratio:.3g}"))
    cols = st.columns(2)
    for col, flow in zip(cols, (plain, res)):
        col.markdown(f"**{_name(flow.model)}**")
        col.metric(tr("gradient_flow.metric_gain"), f"{flow.median_gain:.3f}")
        col.metric(tr("gradient_flow.metric_ratio"), f"{flow.first_to_last_ratio:.3g}")
        col.metric(tr("gradient_flow.metric_loss"), f"{flow.loss:.3f}")

st.plotly_chart(gradient_norms_figure([plain, res], lang), width="stretch")
c1, c2 = st.columns(2)
c1.plotly_chart(block_figure([plain, res], "gain", lang), width="stretch")
c2.plotly_chart(block_figure([plain, res], "signal", lang), width="stretch")

with st.expander(tr("paper.what_to_notice"), expanded=True):
    st.markdown(tr("gradient_flow.notice"))

st.subheader(tr("gradient_flow.trained_header"))
st.markdown(tr("gradient_flow.trained_intro"))
fp = fingerprint()
sources = _sources(fp, str(user_checkpoint_dir()))
if not sources:
    st.info(tr("paper.no_checkpoints", user_dir=str(user_checkpoint_dir())))
else:
    labels = {s.path: f"{_name(s.model)} ({s.stem})" for s in sources}
    if "gradient_flow_trained" in st.session_state:  # keep only choices that still exist
        st.session_state["gradient_flow_trained"] = [k for k in st.session_state["gradient_flow_trained"] if k in labels]
    default = None if "gradient_flow_trained" in st.session_state else list(labels)[:5]
    chosen = st.multiselect(tr("gradient_flow.trained_choose"), list(labels), default=default,
                            format_func=labels.get, key="gradient_flow_trained")
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
