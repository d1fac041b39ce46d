"""Plain vs residual gradient flow: a controlled experiment at initialisation, the chain rule block by block,
the residual form of the gradient, and the same measurements on trained checkpoints."""

from ui.common import current_language, keep_valid, show_error, tr
from ui.gradient_flow import DEFAULT_DEPTH, DEFAULT_INIT, DEFAULT_TRAINED, SEED, at_init, trained
from ui.models import paper_checkpoints

import math

import streamlit as st

from resnet_viz.checkpoints.find import folders_fingerprint, user_checkpoint_dir
from resnet_viz.errors import VizError
from resnet_viz.models.registry import display_name
from resnet_viz.paper.gradient_flow import BATCH_SIZE, DEPTH_CHOICES, HEALTHY_FACTOR, INITS, GradientFlow
from resnet_viz.render.plots.paper import block_figure, gradient_norms_figure, gradient_path_figure

# preset -> (batch norm, initialisation): the three outcomes a student should see
PRESETS = {"vanishing": (False, "small"), "exploding": (False, "he"), "paper": (True, "he")}


def _num(x: float) -> str:
    return f"{x:.3g}" if math.isfinite(x) else tr("gradient_flow.ratio_overflowed")


def _ratio(flow: GradientFlow) -> str:
    """The first-to-last ratio, or words when a norm overflowed float32 in the backward pass."""
    return _num(flow.first_to_last_ratio)


def _overflow_notes(flows: list[GradientFlow]) -> None:
    """Say in words which nets' gradients left float32's range (those layers are missing from the charts)."""
    for flow in flows:
        if flow.overflowed_layers:
            st.warning(tr("gradient_flow.overflowed", net=display_name(flow.model), count=flow.overflowed_layers,
                          layers=len(flow.layers)))


def _preset(name: str) -> None:
    st.session_state["gradient_flow_bn"], st.session_state["gradient_flow_init"] = PRESETS[name]


def _controls() -> tuple[int, bool, str]:
    c1, c2, c3 = st.columns([5, 3, 4])
    depth = c1.select_slider(tr("gradient_flow.depth"), DEPTH_CHOICES, key="gradient_flow_depth",
                             help=tr("gradient_flow.depth_help"))
    batch_norm = c2.toggle(tr("gradient_flow.bn"), key="gradient_flow_bn", help=tr("gradient_flow.bn_help"))
    labels = {i: tr(f"gradient_flow.init_{i}") for i in INITS}  # drawn now, in this run's language
    init = c3.radio(tr("gradient_flow.init"), INITS, key="gradient_flow_init", horizontal=True,
                    format_func=labels.__getitem__, help=tr("gradient_flow.init_help"))
    st.caption(tr("gradient_flow.presets"))
    for col, name in zip(st.columns(len(PRESETS)), PRESETS):
        col.button(tr(f"gradient_flow.preset_{name}"), key=f"gradient_flow_preset_{name}", width="stretch",
                   on_click=_preset, args=(name,))
    return int(depth), bool(batch_norm), str(init)


def _verdict(flow: GradientFlow) -> None:
    """The computed verdict on one net, and its numbers."""
    st.markdown(tr(f"gradient_flow.verdict_{flow.verdict}", net=display_name(flow.model),
                   ratio=_num(flow.overall_ratio), factor=_num(flow.mean_factor), blocks=len(flow.block_gain)))
    m1, m2 = st.columns(2)  # two a row in half the page: three cut "1.53e+04" on a laptop
    m1.metric(tr("gradient_flow.metric_overall"), _num(flow.overall_ratio))
    m2.metric(tr("gradient_flow.metric_factor"), _num(flow.mean_factor))
    m1.metric(tr("gradient_flow.metric_loss"), _num(flow.loss))


def _experiment(lang: str) -> list[GradientFlow]:
    """Plain-N and ResNet-N freshly initialised with the chosen setting; a net that could not be computed is
    explained in its column and left out."""
    depth, batch_norm, init = _controls()
    st.caption(tr("gradient_flow.batch_caption", images=BATCH_SIZE, seed=SEED,
                  factor=f"{HEALTHY_FACTOR:g}") + " " + tr("gradient_flow.norms_caption"))
    flows = []
    for col, residual in zip(st.columns(2), (False, True)):
        with col:
            try:
                with st.spinner(tr("paper.computing")):
                    flow = at_init(depth, residual, batch_norm, init)
            except VizError as exc:
                show_error(exc)
                continue
            _verdict(flow)
            flows.append(flow)
    if flows:
        _overflow_notes(flows)
        _meet_the_notes(flows, batch_norm)
        st.plotly_chart(gradient_path_figure(flows, lang), width="stretch")
        c1, c2 = st.columns(2)
        c1.plotly_chart(block_figure(flows, "gain", lang), width="stretch")
        c2.plotly_chart(block_figure(flows, "signal", lang), width="stretch")
        with st.expander(tr("gradient_flow.weights_expander")):
            st.plotly_chart(gradient_norms_figure(flows, lang), width="stretch")
    return flows


def _meet_the_notes(flows: list[GradientFlow], batch_norm: bool) -> None:
    """The notes teach that deep nets' gradients vanish; the paper's setting shows otherwise. Say where the notes'
    story holds (without BN, one click away) and why the paper does not blame degradation on it (section 4.1)."""
    plain = next((f for f in flows if not f.residual), None)
    if plain is None:
        return
    net = display_name(plain.model)
    if batch_norm:
        st.info(tr("gradient_flow.notes_in_paper_setting", net=net, verdict=tr(f"gradient_flow.word_{plain.verdict}"))
                + "\n\n> " + tr("gradient_flow.paper_quote"), icon=":material/menu_book:")
        st.button(tr("gradient_flow.notes_show"), key="gradient_flow_notes_show", on_click=_preset, args=("vanishing",))
    elif plain.verdict == "vanishing":
        st.info(tr("gradient_flow.notes_holds", net=net, ratio=_num(plain.overall_ratio)) + "\n\n> "
                + tr("gradient_flow.paper_quote"), icon=":material/menu_book:")
        st.button(tr("gradient_flow.notes_back"), key="gradient_flow_notes_back", on_click=_preset, args=("paper",))


def _chain_rule(flows: list[GradientFlow]) -> None:
    """The lesson's chain rule: the measured per-block factors multiply to the whole stack's ratio."""
    st.subheader(tr("gradient_flow.chain_header"))
    st.markdown(tr("gradient_flow.chain_intro"))
    st.latex(r"\begin{gathered}\frac{\partial L}{\partial x_0} = \frac{\partial L}{\partial x_N}\,"  # a line each
             r"\frac{\partial x_N}{\partial x_{N-1}}\cdots\frac{\partial x_1}{\partial x_0} \\"
             r"\frac{\lVert \partial L/\partial x_0\rVert}{\lVert \partial L/\partial x_N\rVert}"
             r"= \prod_{i=1}^{N} \frac{\lVert \partial L/\partial x_{i-1}\rVert}{\lVert \partial L/\partial x_i\rVert}"
             r"\end{gathered}")
    names = [display_name(f.model) for f in flows]
    keep_valid("gradient_flow_chain_net", range(len(flows)), 0)
    flow = flows[st.radio(tr("gradient_flow.chain_net"), range(len(flows)), format_func=names.__getitem__,
                          horizontal=True, key="gradient_flow_chain_net")]
    product = 1.0
    rows = []
    for name, g_in, g_out, gain in zip(flow.blocks[1:], flow.grad_in_norm[1:], flow.grad_out_norm[1:],
                                       flow.block_gain):
        product *= gain
        rows.append({tr("gradient_flow.col_block"): name, tr("gradient_flow.col_in"): g_in,
                     tr("gradient_flow.col_out"): g_out, tr("gradient_flow.col_factor"): gain,
                     tr("gradient_flow.col_product"): product})
    st.dataframe(rows, hide_index=True, height=260)
    st.markdown(tr("gradient_flow.chain_result", net=display_name(flow.model), blocks=len(flow.block_gain),
                   product=_num(flow.chain_product), ratio=_num(flow.overall_ratio)))


def _residual_form() -> None:
    st.subheader(tr("gradient_flow.formula_header"))
    left, right = st.columns(2)
    left.markdown(tr("gradient_flow.formula_plain"))
    left.latex(r"\frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}\,\frac{\partial F}{\partial x}")
    right.markdown(tr("gradient_flow.formula_resnet"))
    right.latex(r"\frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}\left(1 + \frac{\partial F}{\partial x}"
                r"\right)")
    st.markdown(tr("gradient_flow.formula_after"))
    st.info(tr("gradient_flow.formula_caveat"), icon=":material/info:")


def _paper(flows: list[GradientFlow]) -> None:
    """The paper's own view of degradation, with this page's measurement of a BN plain net where one is shown."""
    st.subheader(tr("gradient_flow.paper_header"))
    st.markdown(tr("gradient_flow.paper_view"))
    plain = [f for f in flows if not f.residual and f.batch_norm]
    if plain:
        st.markdown(tr("gradient_flow.paper_measured", net=display_name(plain[0].model),
                       ratio=_num(plain[0].overall_ratio), verdict=tr(f"gradient_flow.word_{plain[0].verdict}")))
    else:
        st.markdown(tr("gradient_flow.paper_switch_bn"))
    st.page_link("pages/figure6.py", label=tr("gradient_flow.figure6_link"), icon=":material/show_chart:")


def _trained_section(lang: str) -> None:
    """The same measurements on the checkpoints found."""
    st.subheader(tr("gradient_flow.trained_header"))
    st.markdown(tr("gradient_flow.trained_intro"))
    fp = folders_fingerprint()
    sources = paper_checkpoints(fp, str(user_checkpoint_dir()))
    if not sources:
        st.info(tr("paper.no_checkpoints", user_dir=str(user_checkpoint_dir())))
        return
    labels = {s.path: f"{display_name(s.model)} ({s.stem})" for s in sources}
    if "gradient_flow_trained" in st.session_state:  # keep only choices that still exist
        st.session_state["gradient_flow_trained"] = [k for k in st.session_state["gradient_flow_trained"]
                                                     if k in labels]
    default = None if "gradient_flow_trained" in st.session_state else (
        [s.path for s in sources if s.model in DEFAULT_TRAINED] or list(labels)[:2])
    chosen = st.multiselect(tr("gradient_flow.trained_choose"), list(labels), default=default,
                            format_func=labels.__getitem__, key="gradient_flow_trained",
                            placeholder=tr("common.choose"))
    flows, names = [], []
    for path in chosen:
        try:
            flows.append(trained(path, fp))
            names.append(labels[path])
        except VizError as exc:
            show_error(exc)
    if flows:
        _overflow_notes(flows)
        for flow, name in zip(flows, names):
            st.markdown(tr("gradient_flow.trained_row", net=name, ratio=_num(flow.overall_ratio),
                           factor=_num(flow.mean_factor), weights=_ratio(flow)))
        st.plotly_chart(gradient_norms_figure(flows, lang, labels=names), width="stretch")
        st.plotly_chart(block_figure(flows, "gain", lang, labels=names), width="stretch")


def main() -> None:
    lang = current_language()
    keep_valid("gradient_flow_depth", DEPTH_CHOICES, DEFAULT_DEPTH)  # first visit, or a value from elsewhere
    keep_valid("gradient_flow_bn", (True, False), True)
    keep_valid("gradient_flow_init", INITS, DEFAULT_INIT)
    st.title(tr("gradient_flow.page_title"))
    st.markdown(tr("gradient_flow.intro"))
    flows = _experiment(lang)
    with st.expander(tr("paper.what_to_notice"), expanded=True):
        st.markdown(tr("gradient_flow.notice"))
    if flows:
        _chain_rule(flows)
    _residual_form()
    _paper(flows)
    _trained_section(lang)


main()
