"""Conv & pooling lab: the conv calculator, the sliding window, several channels, pooling (and pooling by hand), the
one-pixel shift, receptive fields, why convolution."""

from __future__ import annotations

from ui.common import current_language, lazy_tabs, show_error, tr
from ui.conv_lab import (
    POOL_INPUTS,
    TAB_NAMES,
    TABS,
    chain_source,
    checked,
    conv_settings,
    filtered,
    grid_source,
    homework_note,
    kernel_source,
    lab_preset,
    multichannel_lab,
    pool_exercise,
    pool_settings,
    setting,
    shift_lab,
    torch_conv_shape,
    why_pool_panel,
)
from ui.images import image_input

import numpy as np
import pandas as pd
import streamlit as st

from resnet_viz.conv_lab import calc, parse, pooling, sliding
from resnet_viz.conv_lab.handwritten import homework_pooling
from resnet_viz.conv_lab.parse import format_number as fmt
from resnet_viz.errors import InputError
from resnet_viz.render import tables
from resnet_viz.render.plots import conv_lab as plots

# --- 1. the conv calculator -------------------------------------------------------------------------

def conv_calculator() -> None:
    st.markdown(tr("conv_lab.calc_intro"))
    result = checked(calc.conv_output, conv_settings())
    if result is None:
        return
    metrics = tables.conv_metrics(result, current_language())
    for row in (metrics[:2], metrics[2:]):  # two a row: in four columns "64 x 112 x 112" was cut to "64 x 112 x …"
        for where, (label, value, help_text) in zip(st.columns(2), row):
            where.metric(label, value, help=help_text)
    st.latex(result.h.latex())
    st.latex(result.w.latex())
    st.markdown("\n".join(f"- {tr(n.key, **n.params)}" for n in result.notes))
    shape, params = torch_conv_shape(result.settings)
    agree = shape == result.output_shape and params == result.params
    (st.success if agree else st.error)(tr("conv_lab.torch_check" if agree else "conv_lab.torch_mismatch",
                                           shape=" x ".join(map(str, shape)), params=fmt(params)))


# --- 2. the sliding window --------------------------------------------------------------------------

def _steps_body(demo: sliding.SlidingConv, playing: bool) -> None:
    """The step slider and the three matrices. While playing, each (timed) rerun shows the next step."""
    steps = demo.steps
    if playing:
        current = st.session_state.get("conv_lab_step", 0)
        st.session_state["conv_lab_step"] = current + 1 if current < steps else 1
    if st.session_state.get("conv_lab_step", 1) > steps:
        st.session_state["conv_lab_step"] = 1
    if steps > 1:
        st.slider(tr("conv_lab.step"), 1, steps, key="conv_lab_step", persist_state="page", disabled=playing)
    index = st.session_state.get("conv_lab_step", 1) - 1
    step = demo.step(index)
    figures = plots.sliding_figures(demo, index, current_language())
    for where, fig, key in zip(st.columns([3, 2, 2]), figures, ("padded", "products", "output")):
        where.plotly_chart(fig, key=f"conv_lab_fig_{key}")
    st.markdown(tr("conv_lab.step_sum", step=index + 1, steps=steps, row=step.row + 1, col=step.col + 1,
                   terms=parse.sum_terms(step.products.reshape(-1)), total=fmt(step.total)))


# Only the fragment reruns while playing; the rest of the page stays as it is.
_steps_playing = st.fragment(run_every=1.0)(_steps_body)
_steps_still = st.fragment(_steps_body)


def _filtered_image(kernel: np.ndarray, stride: int, dilation: int) -> None:
    st.subheader(tr("conv_lab.image_title"))
    st.markdown(tr("conv_lab.image_intro"))
    picked = image_input("conv_lab_image", "imagenet")
    if picked is None:
        return
    image, image_id = picked
    result = filtered(image_id, image, tuple(tuple(float(v) for v in row) for row in kernel), stride, dilation)
    c1, c2 = st.columns(2)
    c1.image(result.gray, caption=tr("conv_lab.image_gray", h=result.gray.shape[0], w=result.gray.shape[1]),
             clamp=True)
    caption = "conv_lab.image_abs" if result.signed else "conv_lab.image_clipped"
    c2.image(result.display, caption=tr(caption, h=result.display.shape[0], w=result.display.shape[1]))


def sliding_window() -> None:
    st.markdown(tr("conv_lab.sliding_intro"))
    left, right = st.columns(2)
    with left:
        x = grid_source("conv_lab_in", sliding.INPUTS, "conv_lab.input", "vertical_edge")
    with right:
        kernel = kernel_source()
    c1, c2, c3 = st.columns(3)
    stride = setting(c1, tr("conv_lab.stride"), "conv_lab_sl_stride", 1)
    padding = setting(c2, tr("conv_lab.padding"), "conv_lab_sl_pad", 0)
    dilation = setting(c3, tr("conv_lab.dilation"), "conv_lab_sl_dil", 1)
    demo = checked(sliding.sliding_conv, x, kernel, stride=stride, padding=padding, dilation=dilation)
    if demo is None:
        return
    st.caption(tr("conv_lab.sliding_shape", h=demo.input.shape[0], w=demo.input.shape[1],
                  kh=demo.kernel.shape[0], kw=demo.kernel.shape[1], oh=demo.output.shape[0],
                  ow=demo.output.shape[1], steps=demo.steps))
    playing = st.toggle(tr("conv_lab.play"), key="conv_lab_play", persist_state="page", help=tr("conv_lab.play_help"))
    (_steps_playing if playing else _steps_still)(demo, playing)
    _filtered_image(demo.kernel, stride, dilation)


# --- 3. pooling -------------------------------------------------------------------------------------

def pooling_lab() -> None:
    st.markdown(tr("conv_lab.pool_intro"))
    left, right = st.columns([1, 1])
    with left:
        x = grid_source("conv_lab_pool_in", POOL_INPUTS, "conv_lab.input", "notes_example")
    with right:
        kind, kernel, stride, padding, ceil_mode, include_pad = pool_settings()
    fixed = kind == "global_avg"
    grid = checked(sliding.as_matrix, x, "input", max_side=sliding.MAX_DEMO_SIZE)
    if grid is None:
        return
    out = checked(pooling.pool2d, grid, kind, kernel, stride, padding, ceil_mode=ceil_mode,
                  count_include_pad=include_pad)
    if out is None:
        return
    if not fixed:
        formulas = [pooling.output_size_latex(axis, size, kernel, stride, padding, ceil_mode=ceil_mode)
                    for axis, size in zip("HW", grid.shape)]
        for latex, _ in formulas:
            st.latex(latex)
        if any(cut for _, cut in formulas):
            st.info(tr("conv_lab.pool_ceil_rule"))
    reference = pooling.torch_pool2d(grid, kind, kernel, stride, padding, ceil_mode=ceil_mode,
                                     count_include_pad=include_pad)
    c1, c2 = st.columns(2)
    selected = None  # the position slider sits below the two grids
    if not fixed and out.size > 1:
        if st.session_state.get("conv_lab_pool_pos", 1) > out.size:
            st.session_state["conv_lab_pool_pos"] = 1
        position = st.slider(tr("conv_lab.pool_position"), 1, out.size, key="conv_lab_pool_pos", persist_state="page")
        selected = pooling.window_cells(grid.shape, out.shape[1], kernel, stride, padding, min(position, out.size) - 1)
    before, after = plots.pooling_figures(grid, out, selected, current_language())
    c1.plotly_chart(before, key="conv_lab_fig_pool_in")
    c2.plotly_chart(after, key="conv_lab_fig_pool_out")
    if np.allclose(out, reference):
        st.success(tr("conv_lab.pool_torch_check"))
    else:
        st.error(tr("conv_lab.pool_torch_mismatch"))
    with st.expander(tr("conv_lab.pool_code")):
        st.markdown(tr("conv_lab.pool_code_intro"))
        for code in homework_pooling(current_language()):
            st.code(code, language="python")
    why_pool_panel()


# --- 4. receptive fields ----------------------------------------------------------------------------

def _stack_vs_single() -> None:
    st.subheader(tr("conv_lab.vgg_title"))
    c1, c2, c3 = st.columns(3)
    k = setting(c1, "K", "conv_lab_vgg_k", 3)
    n = setting(c2, tr("conv_lab.vgg_count"), "conv_lab_vgg_n", 3)
    c = setting(c3, "C", "conv_lab_vgg_c", 64)
    cmp = checked(calc.stack_vs_single, k, n, c)
    if cmp is None:
        return
    st.markdown(tr("conv_lab.vgg_result", n=cmp.count, k=cmp.kernel, rf=cmp.receptive_field,
                   stacked_factor=cmp.stacked_factor, single_factor=cmp.single_factor, c=cmp.channels,
                   stacked=fmt(cmp.stacked_weights), single=fmt(cmp.single_weights), relus=cmp.nonlinearities))


def receptive_fields() -> None:
    st.markdown(tr("conv_lab.rf_intro"))
    try:
        size, layers = chain_source()
        rows = calc.receptive_field_chain(layers, size)
    except InputError as exc:
        show_error(exc)
        return
    if not rows:
        st.info(tr("conv_lab.rf_empty"))
        return
    st.dataframe(pd.DataFrame(tables.chain_table(rows, current_language())), hide_index=True)
    last = rows[-1]
    st.markdown(tr("conv_lab.rf_summary", size=rows[0].size_in, out=last.size_out, rf=last.rf_out,
                   jump=last.jump_out, layers=len(rows)))
    st.plotly_chart(plots.field_figure(rows, current_language()), key="conv_lab_fig_rf")
    st.caption(tr("conv_lab.rf_border_note"))
    _stack_vs_single()


# --- 5. why convolution -----------------------------------------------------------------------------

def why_convolution() -> None:
    st.markdown(tr("conv_lab.why_intro"))
    c1, c2, c3 = st.columns(3)
    h = setting(c1, "H", "conv_lab_why_h", 224)
    w = setting(c2, "W", "conv_lab_why_w", 224)
    c = setting(c3, "C", "conv_lab_why_c", 3)
    c1, c2, c3 = st.columns(3)
    units = setting(c1, tr("conv_lab.why_units"), "conv_lab_why_units", 1000)
    k = setting(c2, "K", "conv_lab_why_k", 3)
    filters = setting(c3, tr("conv_lab.why_filters"), "conv_lab_why_filters", 64)
    r = checked(calc.fc_vs_conv, h, w, c, units, k, filters)
    if r is None:
        return
    for where, (label, value, help_text) in zip(st.columns(3), tables.fc_vs_conv_metrics(r, current_language())):
        where.metric(label, value, help=help_text)
    st.markdown(tr("conv_lab.why_result", h=r.height, w=r.width, c=r.channels, units=fmt(r.units), k=r.kernel,
                   filters=r.filters, fc=fmt(r.fc_weights), conv=fmt(r.conv_weights), ratio=f"{r.ratio:,.0f}",
                   fc_macs=fmt(r.fc_macs), conv_macs=fmt(r.conv_macs)))
    st.plotly_chart(plots.weights_figure(r, current_language()), key="conv_lab_fig_why")


def main() -> None:
    st.title(tr("conv_lab.title"))
    st.markdown(tr("conv_lab.intro"))
    bodies = {"tab_calculator": conv_calculator, "tab_sliding": sliding_window, "tab_multichannel": multichannel_lab,
              "tab_pooling": pooling_lab, "tab_exercise": pool_exercise, "tab_shift": shift_lab,
              "tab_receptive": receptive_fields, "tab_why": why_convolution}
    lab_preset()
    note = homework_note()
    if note:
        st.info(note, icon=":material/assignment:")
    # Only the open tab runs and is drawn: with all eight, a first view waited for the browser to lay out every tab
    # (benchmarks/README.md, first visits). Its body is a fragment, so its widgets rerun that tab alone.
    for name, container in lazy_tabs(TABS, TAB_NAMES, [tr(f"conv_lab.{name}") for name in TAB_NAMES]).items():
        with container:
            st.fragment(bodies[name])()


main()
