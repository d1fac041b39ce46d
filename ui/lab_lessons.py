"""The conv lab's lesson tabs: pooling by hand (the homework, checked cell by cell), why pool, convolution over
several channels, and the one-pixel shift. Every number comes from ``resnet_viz.lab``; this module only draws."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from resnet_viz.images import load_sample, sample_images
from resnet_viz.lab import multichannel, pool_lesson, shift
from resnet_viz.lab.handwritten import source
from resnet_viz.lab.parse import format_number as fmt
from resnet_viz.lab.sliding import KERNELS
from resnet_viz.render.plots import conv_lab as plots
from ui.common import current_language, tr
from ui.lab_inputs import checked, grid_source, labels, setting

POOL_KINDS = ("max", "avg")

# --- pooling by hand --------------------------------------------------------------------------------


def _answer_table(key: str, rows: int, cols: int) -> pd.DataFrame:
    """Empty text cells (a number column would show "None" in each): the checker reads what was typed."""
    empty = pd.DataFrame([[""] * cols for _ in range(rows)], columns=[str(i + 1) for i in range(cols)])
    config = {c: st.column_config.TextColumn(max_chars=12) for c in empty.columns}
    return st.data_editor(empty, key=key, hide_index=True, column_config=config)


def pool_exercise() -> None:
    st.markdown(tr("conv_lab.ex_intro"))
    c1, c2, c3 = st.columns(3)
    size = c1.selectbox(tr("conv_lab.ex_size"), pool_lesson.EXERCISE_SIZES, key="conv_lab_ex_size",
                        format_func=lambda n: f"{n} x {n}")
    seed = c2.number_input(tr("conv_lab.ex_seed"), 0, 10**6, 1, 1, key="conv_lab_ex_seed")
    kind = c3.radio(tr("conv_lab.ex_kind"), POOL_KINDS, key="conv_lab_ex_kind", horizontal=True,
                    format_func=labels("conv_lab.pool_", POOL_KINDS).__getitem__)
    ex = pool_lesson.pool_exercise(size, int(seed))
    expected = ex.expected(kind)
    left, right = st.columns(2)
    left.plotly_chart(plots.windows_figure(ex.input, ex.kernel, tr("conv_lab.ex_input_title", size=size)),
                      key="conv_lab_fig_ex_input")
    with right:
        st.markdown(tr("conv_lab.ex_answer", rows=expected.shape[0], cols=expected.shape[1]))
        # A new table per exercise: another size, seed or kind starts empty.
        answers = _answer_table(f"conv_lab_ex_answers_{size}_{seed}_{kind}", *expected.shape)
        verdicts = pool_lesson.check_cells(answers, expected)
        st.plotly_chart(plots.verdict_figure(verdicts, current_language()), key="conv_lab_fig_ex_verdict")
    result = pool_lesson.score(verdicts)
    if result.done:
        st.success(tr("conv_lab.ex_done", total=result.total, function=f"{kind}_pool2d"))
    else:
        st.markdown(tr("conv_lab.ex_score", right=result.right, total=result.total, wrong=result.wrong,
                       empty=result.empty))
    if st.toggle(tr("conv_lab.ex_show_answer"), key="conv_lab_ex_show"):
        st.plotly_chart(plots.matrix_figure(expected, title="", colorscale="Greens", height=240),
                        key="conv_lab_fig_ex_answer")
        st.caption(tr("conv_lab.ex_answer_caption", kind=tr(f"conv_lab.pool_{kind}")))
    with st.expander(tr("conv_lab.ex_code")):
        st.caption(tr("conv_lab.ex_code_intro"))
        st.code(source("pooling", current_language()), language="python")


@st.cache_data(max_entries=4, show_spinner=False)
def _why_numbers() -> tuple[pool_lesson.WhyPool, shift.ShiftDemo]:
    return pool_lesson.why_pool(), shift.shift_demo(shift.INPUTS["blob"], KERNELS["sobel_x"], 0, 1)


def why_pool_panel() -> None:
    st.subheader(tr("conv_lab.why_pool_title"))
    w, moved = _why_numbers()
    st.markdown(tr("conv_lab.why_pool_intro", size=w.size, channels=w.channels, k=w.kernel))
    cells, pooled = moved.conv.size, moved.pooled.size
    rows = [
        (tr("conv_lab.why_pool_values"), fmt(w.values_before), fmt(w.values_after)),
        (tr("conv_lab.why_pool_macs"), fmt(w.next_macs_before), fmt(w.next_macs_after)),
        (tr("conv_lab.why_pool_invariance"),
         tr("conv_lab.why_pool_invariance_without", changed=moved.conv_changed, cells=cells),
         tr("conv_lab.why_pool_invariance_with", unchanged=moved.pool_unchanged, pooled=pooled)),
        (tr("conv_lab.why_pool_rf"), tr("conv_lab.why_pool_rf_value", rf=w.rf_without),
         tr("conv_lab.why_pool_rf_value", rf=w.rf_with)),
    ]
    columns = [tr("conv_lab.why_pool_reason"), tr("conv_lab.why_pool_without"), tr("conv_lab.why_pool_with")]
    st.dataframe(pd.DataFrame(rows, columns=columns), hide_index=True)
    st.caption(tr("conv_lab.why_pool_paper"))


# --- several channels -------------------------------------------------------------------------------

MC_SOURCES = ("random", "image")
MC_FILTERS = (*multichannel.FILTERS, "random")


def _mc_input() -> np.ndarray:
    source_name = st.radio(tr("conv_lab.mc_source"), MC_SOURCES, key="conv_lab_mc_source", horizontal=True,
                           format_func=labels("conv_lab.mc_source_", MC_SOURCES).__getitem__)
    c1, c2, c3 = st.columns(3)
    if source_name == "random":
        seed = c1.number_input(tr("conv_lab.seed"), 0, 10**6, 0, 1, key="conv_lab_mc_seed")
        return multichannel.random_rgb(5, int(seed))
    samples = sample_images("cifar10")
    name = c1.selectbox(tr("conv_lab.mc_sample"), list(samples), key="conv_lab_mc_sample")
    top = c2.number_input(tr("conv_lab.mc_top"), 0, 27, 12, 1, key="conv_lab_mc_top")
    left = c3.number_input(tr("conv_lab.mc_left"), 0, 27, 12, 1, key="conv_lab_mc_left")
    return multichannel.image_crop(np.asarray(load_sample(samples[name]).convert("RGB")), 5, int(top), int(left))


def _mc_settings() -> tuple[np.ndarray, float, int, int]:
    c1, c2, c3, c4 = st.columns([3, 1, 1, 1])
    name = c1.selectbox(tr("conv_lab.mc_filter"), MC_FILTERS, key="conv_lab_mc_filter",
                        format_func=labels("conv_lab.mc_filter_", MC_FILTERS).__getitem__)
    weight = multichannel.random_filter(3) if name == "random" else np.array(multichannel.FILTERS[name], dtype=float)
    bias = c2.number_input(tr("conv_lab.mc_bias"), -100.0, 100.0, 0.0, 0.5, key="conv_lab_mc_bias")
    stride = setting(c3, tr("conv_lab.stride"), "conv_lab_mc_stride", 1)
    padding = setting(c4, tr("conv_lab.padding"), "conv_lab_mc_pad", 0)
    return weight, float(bias), stride, padding


def multichannel_lab() -> None:
    st.markdown(tr("conv_lab.mc_intro"))
    x = _mc_input()
    weight, bias, stride, padding = _mc_settings()
    demo = checked(multichannel.multichannel_conv, x, weight, bias, stride=stride, padding=padding)
    if demo is None:
        return
    oh, ow = demo.output.shape
    if st.session_state.get("conv_lab_mc_pos", 1) > demo.output.size:
        st.session_state["conv_lab_mc_pos"] = 1
    position = st.slider(tr("conv_lab.mc_position"), 1, max(demo.output.size, 2), key="conv_lab_mc_pos",
                         disabled=demo.output.size < 2)
    row, col = divmod(min(position, demo.output.size) - 1, ow)
    k, p = demo.weight.shape[-1], demo.padding
    taps = [(row * stride + a - p, col * stride + b - p) for a in range(k) for b in range(k)]
    for c, where in enumerate(st.columns(3)):
        name = multichannel.CHANNELS[c]
        where.plotly_chart(plots.matrix_figure(demo.input[c], title=tr("conv_lab.mc_channel_input", channel=name),
                                               highlight=taps, height=260), key=f"conv_lab_fig_mc_in_{c}")
        where.plotly_chart(plots.matrix_figure(demo.weight[c], title=tr("conv_lab.mc_channel_weights", channel=name),
                                               colorscale="RdBu", zmid=0.0, height=200), key=f"conv_lab_fig_mc_w_{c}")
    general, lines = demo.latex(row, col)
    st.latex(general)
    st.markdown(tr("conv_lab.mc_lines"))
    st.code("\n".join(lines), language=None)
    st.plotly_chart(plots.matrix_figure(demo.output, title=tr("conv_lab.mc_output", h=oh, w=ow),
                                        highlight=[(row, col)], colorscale="Greens", height=260),
                    key="conv_lab_fig_mc_out")
    agree = np.allclose(multichannel.torch_multichannel(demo), demo.output)
    (st.success if agree else st.error)(tr("conv_lab.mc_torch_check" if agree else "conv_lab.mc_torch_mismatch",
                                           h=oh, w=ow))


# --- the one-pixel shift ----------------------------------------------------------------------------

def _pair(before: np.ndarray, after: np.ndarray, title_key: str, name: str, colorscale: str = "Blues") -> None:
    for where, values, when in zip(st.columns(2), (before, after), ("shift_before", "shift_after")):
        fig = plots.matrix_figure(values, title=tr(title_key, when=tr(f"conv_lab.{when}")), colorscale=colorscale,
                                  height=280)
        where.plotly_chart(fig, key=f"conv_lab_fig_shift_{name}_{when}")


def shift_lab() -> None:
    st.markdown(tr("conv_lab.shift_intro"))
    st.caption(tr("conv_lab.shift_border"))
    left, right = st.columns(2)
    with left:
        x = grid_source("conv_lab_shift_in", shift.INPUTS, "conv_lab.input", "blob")
    with right:
        names = list(KERNELS)
        kernel = right.selectbox(tr("conv_lab.shift_kernel"), names, index=names.index("sobel_x"),
                                 key="conv_lab_shift_kernel", format_func=labels("conv_lab.kernel_", names).__getitem__)
        c1, c2 = st.columns(2)
        dy = setting(c1, tr("conv_lab.shift_dy"), "conv_lab_shift_dy", 0)
        dx = setting(c2, tr("conv_lab.shift_dx"), "conv_lab_shift_dx", 1)
    demo = checked(shift.shift_demo, x, KERNELS[kernel], dy, dx)
    if demo is None:
        return
    _pair(demo.input, demo.shifted, "conv_lab.shift_input", "input")
    _pair(demo.conv, demo.conv_shifted, "conv_lab.shift_conv", "conv", "Oranges")
    if demo.equivariant:
        st.markdown(tr("conv_lab.shift_equivariant", dy=demo.dy, dx=demo.dx, cells=demo.conv.size,
                       changed=demo.conv_changed))
    else:
        st.markdown(tr("conv_lab.shift_not_equivariant"))
    _pair(demo.pooled, demo.pooled_shifted, "conv_lab.shift_pool", "pool", "Greens")
    st.markdown(tr("conv_lab.shift_pool_same", unchanged=demo.pool_unchanged, cells=demo.pooled.size))
    gap_key = "conv_lab.shift_gap_same" if demo.gap_unchanged else "conv_lab.shift_gap_changed"
    st.markdown(tr(gap_key, before=fmt(demo.gap), after=fmt(demo.gap_shifted)))
