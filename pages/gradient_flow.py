"""Gradient flow: plain-N vs ResNet-N at initialisation and trained, and the +1 of the identity path."""

import math

import streamlit as st

from resnet_viz.checkpoints.find import folders_fingerprint, user_checkpoint_dir
from resnet_viz.errors import VizError
from resnet_viz.models.registry import display_name
from resnet_viz.paper.figure7 import figure7_sources
from resnet_viz.paper.gradient_flow import BATCH_SIZE, DEPTH_CHOICES, GradientFlow, compare_at_init, of_checkpoint
from resnet_viz.render.plots.paper import block_figure, gradient_norms_figure
from resnet_viz.samples import load_npz
from ui.common import current_language, keep_valid, show_error, tr
from ui.models import load_cached
from ui.work import heavy

SEED = 0


@st.cache_data(max_entries=16, show_spinner=False)
def _at_init(depth: int, seed: int):
    images, labels, _ = load_npz(limit=BATCH_SIZE)
    return compare_at_init(depth, images, labels, seed=seed)


@st.cache_data(max_entries=16, show_spinner=False)
def _trained(path: str, fingerprint_key: tuple):
    images, labels, _ = load_npz(limit=BATCH_SIZE)
    return of_checkpoint(load_cached(path), images, labels)


@st.cache_data(max_entries=8, show_spinner=False)
def _sources(fingerprint_key: tuple, user_dir: str):
    return figure7_sources()


def _ratio(flow: GradientFlow) -> str:
    """The first-to-last ratio, or words when a norm overflowed float32 in the backward pass."""
    ratio = flow.first_to_last_ratio
    return f"{ratio:.3g}" if math.isfinite(ratio) else tr("gradient_flow.ratio_overflowed")


def _overflow_notes(flows: list[GradientFlow]) -> None:
    """Say in words which nets' gradients left float32's range (those layers are missing from the charts)."""
    for flow in flows:
        if flow.overflowed_layers:
            st.warning(tr("gradient_flow.overflowed", net=display_name(flow.model), count=flow.overflowed_layers,
                          layers=len(flow.layers)))


def _formula(plain: GradientFlow, res: GradientFlow) -> None:
    """The chain rule through a plain block and through a residual block, and what was measured."""
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
            st.markdown(tr(key, net=display_name(flow.model), gain=f"{flow.median_gain:.3f}", ratio=_ratio(flow)))
        for col, flow in zip(st.columns(2), (plain, res)):
            col.markdown(f"**{display_name(flow.model)}**")
            col.metric(tr("gradient_flow.metric_gain"), f"{flow.median_gain:.3f}")
            col.metric(tr("gradient_flow.metric_ratio"), _ratio(flow))
            col.metric(tr("gradient_flow.metric_loss"), f"{flow.loss:.3f}")


def _at_init_section(lang: str) -> bool:
    """plain-N against ResNet-N freshly initialised (False, after a message, when it could not be computed)."""
    depth = st.select_slider(tr("gradient_flow.depth"), DEPTH_CHOICES, key="gradient_flow_depth",
                             help=tr("gradient_flow.depth_help"))
    try:
        with st.spinner(tr("paper.computing")):
            plain, res = heavy(("gradient_flow", int(depth), SEED), lambda: _at_init(int(depth), SEED))
    except VizError as exc:
        show_error(exc)
        return False
    st.caption(tr("gradient_flow.batch_caption", images=plain.images, seed=SEED))
    st.caption(tr("gradient_flow.norms_caption"))
    _formula(plain, res)
    _overflow_notes([plain, res])
    st.plotly_chart(gradient_norms_figure([plain, res], lang), width="stretch")
    c1, c2 = st.columns(2)
    c1.plotly_chart(block_figure([plain, res], "gain", lang), width="stretch")
    c2.plotly_chart(block_figure([plain, res], "signal", lang), width="stretch")
    return True


def _trained_section(lang: str) -> None:
    """The same measurements on the checkpoints found."""
    st.subheader(tr("gradient_flow.trained_header"))
    st.markdown(tr("gradient_flow.trained_intro"))
    fp = folders_fingerprint()
    sources = _sources(fp, str(user_checkpoint_dir()))
    if not sources:
        st.info(tr("paper.no_checkpoints", user_dir=str(user_checkpoint_dir())))
        return
    labels = {s.path: f"{display_name(s.model)} ({s.stem})" for s in sources}
    if "gradient_flow_trained" in st.session_state:  # keep only choices that still exist
        st.session_state["gradient_flow_trained"] = [k for k in st.session_state["gradient_flow_trained"]
                                                     if k in labels]
    default = None if "gradient_flow_trained" in st.session_state else list(labels)[:5]
    chosen = st.multiselect(tr("gradient_flow.trained_choose"), list(labels), default=default,
                            format_func=labels.__getitem__, key="gradient_flow_trained")
    flows, names = [], []
    for path in chosen:
        try:
            flows.append(heavy(("gradient_flow", path, fp), lambda p=path: _trained(p, fp)))
            names.append(labels[path])
        except VizError as exc:
            show_error(exc)
    if flows:
        _overflow_notes(flows)
        st.plotly_chart(gradient_norms_figure(flows, lang, labels=names), width="stretch")
        st.plotly_chart(block_figure(flows, "gain", lang, labels=names), width="stretch")


def main() -> None:
    lang = current_language()
    keep_valid("gradient_flow_depth", DEPTH_CHOICES, 56)  # first visit, or a value from elsewhere
    st.title(tr("gradient_flow.page_title"))
    st.markdown(tr("gradient_flow.intro"))
    if not _at_init_section(lang):
        return
    with st.expander(tr("paper.what_to_notice"), expanded=True):
        st.markdown(tr("gradient_flow.notice"))
    _trained_section(lang)


main()
