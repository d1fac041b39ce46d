"""Conv & pooling lab: the conv calculator, the sliding window, pooling, receptive fields, why convolution."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from resnet_viz.errors import InputError
from resnet_viz.lab import calc, pooling, sliding
from resnet_viz.models.registry import model_names
from ui.common import show_error, tr
from ui.images import image_input


def _labels(prefix: str, options) -> dict[str, str]:
    """Option -> label (key ``<prefix><option>``), translated during the script run: pass ``.get`` as a
    format_func, so the widget keeps the session's language."""
    return {o: tr(f"{prefix}{o}") for o in options}


def _fmt(n: float) -> str:
    if float(n).is_integer():
        return f"{int(n):,}"
    return f"{n:.3g}"


def _matrix_figure(values: np.ndarray, *, title: str, highlight: list[tuple[int, int]] | None = None,
                   frame: tuple[int, int, int, int] | None = None, text: list[list[str]] | None = None,
                   colorscale: str = "Blues", zmid: float | None = None, height: int = 320) -> go.Figure:
    """A heatmap with every cell's number written on it; ``highlight`` outlines cells (row, col);
    ``frame`` (top, left, bottom, right) outlines a block, e.g. the unpadded input inside the padding."""
    values = np.asarray(values, dtype=float)
    if text is None:
        text = [["" if np.isnan(v) else _fmt(v) for v in row] for row in values]
    fig = go.Figure()
    if np.isnan(values).any():  # cells not computed yet: light grey squares under the values
        fig.add_trace(go.Heatmap(z=np.zeros_like(values), colorscale=[[0, "#e6e6e6"], [1, "#e6e6e6"]],
                                 showscale=False, xgap=1, ygap=1, hoverinfo="skip"))
    fig.add_trace(go.Heatmap(z=values, text=text, texttemplate="%{text}", colorscale=colorscale, zmid=zmid,
                             showscale=False, xgap=1, ygap=1, hoverinfo="skip"))
    for r, c in highlight or []:
        fig.add_shape(type="rect", x0=c - 0.5, x1=c + 0.5, y0=r - 0.5, y1=r + 0.5,
                      line=dict(color="#d62728", width=3))
    if frame is not None:
        top, left, bottom, right = frame
        fig.add_shape(type="rect", x0=left - 0.5, x1=right + 0.5, y0=top - 0.5, y1=bottom + 0.5,
                      line=dict(color="#444", width=2, dash="dot"))
    rows, cols = values.shape
    fig.update_layout(title=dict(text=title, font=dict(size=13)), height=height, plot_bgcolor="white",
                      margin=dict(l=10, r=10, t=40, b=10))
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, constrain="domain",
                     range=[-0.5, cols - 0.5])
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, range=[rows - 0.5, -0.5],
                     scaleanchor="x")
    return fig


def _grid_source(prefix: str, presets: dict[str, tuple], label_key: str, default: str) -> np.ndarray | None:
    """Preset / random / typed grid (an editable table). Returns the grid (possibly with empty cells)."""
    options = list(presets) + ["random", "custom"]
    choice = st.selectbox(tr(label_key), options, index=options.index(default), key=f"{prefix}_source",
                          format_func=_labels("conv_lab.input_", options).get)
    if choice == "random":
        c1, c2, c3 = st.columns(3)
        rows = c1.number_input(tr("conv_lab.rows"), min_value=1, max_value=sliding.MAX_DEMO_SIZE, value=6, step=1,
                               key=f"{prefix}_rows")
        cols = c2.number_input(tr("conv_lab.cols"), min_value=1, max_value=sliding.MAX_DEMO_SIZE, value=6, step=1,
                               key=f"{prefix}_cols")
        seed = c3.number_input(tr("conv_lab.seed"), min_value=0, max_value=10**6, value=0, step=1,
                               key=f"{prefix}_seed")
        return sliding.random_input(rows, cols, seed=seed)
    if choice == "custom":
        st.caption(tr("conv_lab.custom_help", maximum=sliding.MAX_DEMO_SIZE))
        return _editable_grid(prefix, np.asarray(presets[default]), sliding.MAX_DEMO_SIZE)
    return np.asarray(presets[choice])


# --- 1. the conv calculator -------------------------------------------------------------------------

@st.cache_data(max_entries=64, show_spinner=False)
def _torch_conv_shape(settings: calc.ConvSettings) -> tuple[tuple[int, ...], int]:
    return calc.torch_conv_shape(settings)


def conv_calculator() -> None:
    st.markdown(tr("conv_lab.calc_intro"))
    c1, c2, c3, c4 = st.columns(4)
    height = c1.number_input("H", min_value=1, max_value=calc.MAX_SIZE, value=224, step=1, key="conv_lab_h",
                             help=tr("conv_lab.help_h"))
    width = c2.number_input("W", min_value=1, max_value=calc.MAX_SIZE, value=224, step=1, key="conv_lab_w",
                            help=tr("conv_lab.help_w"))
    c_in = c3.number_input("C_in", min_value=1, max_value=calc.MAX_CHANNELS, value=3, step=1, key="conv_lab_cin",
                           help=tr("conv_lab.help_cin"))
    c_out = c4.number_input("C_out", min_value=1, max_value=calc.MAX_CHANNELS, value=64, step=1, key="conv_lab_cout",
                            help=tr("conv_lab.help_cout"))
    c1, c2, c3, c4 = st.columns(4)
    square = c1.checkbox(tr("conv_lab.square_kernel"), value=True, key="conv_lab_square")
    if square:
        k_h = k_w = c1.number_input("K", min_value=1, max_value=calc.MAX_KERNEL, value=7, step=1, key="conv_lab_k",
                                    help=tr("conv_lab.help_k"))
    else:
        k_h = c1.number_input("K_H", min_value=1, max_value=calc.MAX_KERNEL, value=7, step=1, key="conv_lab_kh",
                              help=tr("conv_lab.help_k"))
        k_w = c1.number_input("K_W", min_value=1, max_value=calc.MAX_KERNEL, value=7, step=1, key="conv_lab_kw",
                              help=tr("conv_lab.help_k"))
    stride = c2.number_input(tr("conv_lab.stride"), min_value=1, max_value=calc.MAX_SIZE, value=2, step=1,
                             key="conv_lab_stride", help=tr("conv_lab.help_stride"))
    mode = c3.radio(tr("conv_lab.padding_mode"), calc.PADDING_MODES, key="conv_lab_pad_mode", horizontal=True,
                    format_func=_labels("conv_lab.padding_", calc.PADDING_MODES).get,
                    help=tr("conv_lab.help_padding"))
    padding: int | str = mode
    if mode == "number":
        padding = c3.number_input(tr("conv_lab.padding"), min_value=0, max_value=calc.MAX_SIZE, value=3, step=1,
                                  key="conv_lab_pad")
    dilation = c4.number_input(tr("conv_lab.dilation"), min_value=1, max_value=calc.MAX_KERNEL, value=1, step=1,
                               key="conv_lab_dilation", help=tr("conv_lab.help_dilation"))
    groups = c4.number_input(tr("conv_lab.groups"), min_value=1, max_value=calc.MAX_CHANNELS, value=1, step=1,
                             key="conv_lab_groups", help=tr("conv_lab.help_groups"))
    bias = c2.checkbox(tr("conv_lab.bias"), value=False, key="conv_lab_bias", help=tr("conv_lab.help_bias"))

    settings = calc.ConvSettings(height, width, c_in, c_out, k_h, k_w, stride, padding, dilation, groups, bias)
    try:
        result = calc.conv_output(settings)
    except InputError as exc:
        show_error(exc)
        return
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(tr("conv_lab.output_shape"), " x ".join(str(n) for n in result.output_shape))
    m2.metric(tr("conv_lab.params"), _fmt(result.params),
              help=tr("conv_lab.params_help", weights=_fmt(result.weights), biases=_fmt(result.biases)))
    m3.metric(tr("conv_lab.macs"), _fmt(result.macs), help=tr("conv_lab.macs_help"))
    m4.metric(tr("conv_lab.rf_alone"), f"{result.receptive_field[0]} x {result.receptive_field[1]}")
    st.latex(result.h.latex())
    st.latex(result.w.latex())
    st.markdown("\n".join(f"- {tr(n.key, **n.params)}" for n in result.notes))
    shape, params = _torch_conv_shape(result.settings)
    agree = shape == result.output_shape and params == result.params
    (st.success if agree else st.error)(tr("conv_lab.torch_check" if agree else "conv_lab.torch_mismatch",
                                           shape=" x ".join(map(str, shape)), params=_fmt(params)))


# --- 2. the sliding window --------------------------------------------------------------------------

def _kernel_source() -> np.ndarray | pd.DataFrame:
    options = list(sliding.KERNELS) + ["custom"]
    choice = st.selectbox(tr("conv_lab.kernel"), options, index=options.index("sobel_x"), key="conv_lab_kernel",
                          format_func=_labels("conv_lab.kernel_", options).get)
    if choice != "custom":
        kernel = np.asarray(sliding.KERNELS[choice])
        st.caption(tr(f"conv_lab.kernel_{choice}_help"))
        return kernel
    st.caption(tr("conv_lab.custom_kernel_help", maximum=sliding.MAX_DEMO_KERNEL))
    return _editable_grid("conv_lab_kernel", np.asarray(sliding.KERNELS["sobel_x"]), sliding.MAX_DEMO_KERNEL)


def _editable_grid(prefix: str, example: np.ndarray, max_side: int) -> pd.DataFrame:
    """Rows and columns to choose, then a table to type into, starting from ``example`` (cut or zero-filled)."""
    c1, c2 = st.columns(2)
    rows = c1.number_input(tr("conv_lab.rows"), min_value=1, max_value=max_side, value=example.shape[0], step=1,
                           key=f"{prefix}_edit_rows")
    cols = c2.number_input(tr("conv_lab.cols"), min_value=1, max_value=max_side, value=example.shape[1], step=1,
                           key=f"{prefix}_edit_cols")
    start = np.zeros((rows, cols), dtype=example.dtype)
    r, c = min(rows, example.shape[0]), min(cols, example.shape[1])
    start[:r, :c] = example[:r, :c]
    frame = pd.DataFrame(start, columns=[str(i + 1) for i in range(cols)])
    # A new key per shape: changing the size starts a fresh table instead of mixing old edits in.
    return st.data_editor(frame, key=f"{prefix}_grid_{rows}x{cols}", hide_index=True)


def _steps_body(demo: sliding.SlidingConv, playing: bool) -> None:
    """The step slider and the three matrices. While playing, each (timed) rerun shows the next step."""
    steps = demo.steps
    if playing:
        current = st.session_state.get("conv_lab_step", 0)
        st.session_state["conv_lab_step"] = current + 1 if current < steps else 1
    if st.session_state.get("conv_lab_step", 1) > steps:
        st.session_state["conv_lab_step"] = 1
    if steps > 1:
        st.slider(tr("conv_lab.step"), 1, steps, key="conv_lab_step", disabled=playing)
    index = st.session_state.get("conv_lab_step", 1) - 1
    step = demo.step(index)
    p = demo.padding
    taps = [(r, c) for r in step.rows for c in step.cols]
    c1, c2, c3 = st.columns([3, 2, 2])
    c1.plotly_chart(_matrix_figure(demo.padded, title=tr("conv_lab.fig_padded", padding=p), highlight=taps,
                                   frame=(p, p, p + demo.input.shape[0] - 1, p + demo.input.shape[1] - 1)),
                    key="conv_lab_fig_padded")
    products_text = [[f"{_fmt(w)}×{_fmt(k)}<br>={_fmt(v)}" for w, k, v in zip(wr, kr, vr)]
                     for wr, kr, vr in zip(step.window, demo.kernel, step.products)]
    c2.plotly_chart(_matrix_figure(step.products, title=tr("conv_lab.fig_products"), text=products_text,
                                   colorscale="RdBu", zmid=0.0), key="conv_lab_fig_products")
    c3.plotly_chart(_matrix_figure(demo.output_until(index), title=tr("conv_lab.fig_output"),
                                   highlight=[(step.row, step.col)], colorscale="Greens"), key="conv_lab_fig_output")
    terms = " + ".join(f"({_fmt(v)})" for v in step.products.reshape(-1))
    st.markdown(tr("conv_lab.step_sum", step=index + 1, steps=steps, row=step.row + 1, col=step.col + 1,
                   terms=terms, total=_fmt(step.total)))


# Only the fragment reruns while playing; the rest of the page stays as it is.
_steps_playing = st.fragment(run_every=1.0)(_steps_body)
_steps_still = st.fragment(_steps_body)


@st.cache_data(max_entries=32, show_spinner=False)
def _filtered(image_id: str, _image, kernel: tuple[tuple[float, ...], ...], stride: int,
              dilation: int) -> sliding.FilteredImage:
    return sliding.filter_image(_image, kernel, stride=stride, dilation=dilation)


def sliding_window() -> None:
    st.markdown(tr("conv_lab.sliding_intro"))
    left, right = st.columns(2)
    with left:
        x = _grid_source("conv_lab_in", sliding.INPUTS, "conv_lab.input", "vertical_edge")
    with right:
        kernel = _kernel_source()
    c1, c2, c3 = st.columns(3)
    stride = c1.number_input(tr("conv_lab.stride"), min_value=1, max_value=sliding.MAX_DEMO_SIZE, value=1, step=1,
                             key="conv_lab_sl_stride")
    padding = c2.number_input(tr("conv_lab.padding"), min_value=0, max_value=sliding.MAX_DEMO_SIZE, value=0,
                              step=1, key="conv_lab_sl_pad")
    dilation = c3.number_input(tr("conv_lab.dilation"), min_value=1, max_value=sliding.MAX_DEMO_SIZE, value=1,
                               step=1, key="conv_lab_sl_dil")
    try:
        demo = sliding.sliding_conv(x, kernel, stride=stride, padding=padding, dilation=dilation)
    except InputError as exc:
        show_error(exc)
        return
    st.caption(tr("conv_lab.sliding_shape", h=demo.input.shape[0], w=demo.input.shape[1],
                  kh=demo.kernel.shape[0], kw=demo.kernel.shape[1], oh=demo.output.shape[0],
                  ow=demo.output.shape[1], steps=demo.steps))
    playing = st.toggle(tr("conv_lab.play"), key="conv_lab_play", help=tr("conv_lab.play_help"))
    (_steps_playing if playing else _steps_still)(demo, playing)

    st.subheader(tr("conv_lab.image_title"))
    st.markdown(tr("conv_lab.image_intro"))
    picked = image_input("conv_lab_image", "imagenet")
    if picked is None:
        return
    image, image_id = picked
    kernel_key = tuple(tuple(float(v) for v in row) for row in demo.kernel)
    result = _filtered(image_id, image, kernel_key, stride, dilation)
    c1, c2 = st.columns(2)
    c1.image(result.gray, caption=tr("conv_lab.image_gray", h=result.gray.shape[0], w=result.gray.shape[1]),
             clamp=True)
    caption = "conv_lab.image_abs" if result.signed else "conv_lab.image_clipped"
    c2.image(result.display, caption=tr(caption, h=result.display.shape[0], w=result.display.shape[1]))


# --- 3. pooling -------------------------------------------------------------------------------------

POOL_KINDS = ("max", "avg", "global_avg")
POOL_INPUTS = {"notes_example": sliding.INPUTS["notes_example"], "square": sliding.INPUTS["square"]}


def pooling_lab() -> None:
    st.markdown(tr("conv_lab.pool_intro"))
    left, right = st.columns([1, 1])
    with left:
        x = _grid_source("conv_lab_pool_in", POOL_INPUTS, "conv_lab.input", "notes_example")
    with right:
        kind = st.radio(tr("conv_lab.pool_kind"), POOL_KINDS, key="conv_lab_pool_kind",
                        horizontal=True, format_func=_labels("conv_lab.pool_", POOL_KINDS).get)
        c1, c2, c3 = st.columns(3)
        kernel = c1.number_input(tr("conv_lab.kernel_size"), min_value=1, max_value=sliding.MAX_DEMO_SIZE, value=2,
                                 step=1, key="conv_lab_pool_k", disabled=kind == "global_avg")
        stride = c2.number_input(tr("conv_lab.stride"), min_value=1, max_value=sliding.MAX_DEMO_SIZE, value=2,
                                 step=1, key="conv_lab_pool_s", disabled=kind == "global_avg")
        padding = c3.number_input(tr("conv_lab.padding"), min_value=0, max_value=sliding.MAX_DEMO_SIZE, value=0,
                                  step=1, key="conv_lab_pool_p", disabled=kind == "global_avg",
                                  help=tr("conv_lab.pool_padding_help"))
        ceil_mode = st.checkbox(tr("conv_lab.ceil_mode"), key="conv_lab_pool_ceil", disabled=kind == "global_avg",
                                help=tr("conv_lab.ceil_mode_help"))
        include_pad = st.checkbox(tr("conv_lab.count_include_pad"), value=True, key="conv_lab_pool_incl",
                                  disabled=kind != "avg", help=tr("conv_lab.count_include_pad_help"))
    try:
        grid = sliding.as_matrix(x, "input", max_side=sliding.MAX_DEMO_SIZE)
        out = pooling.pool2d(grid, kind, kernel, stride, padding, ceil_mode=ceil_mode,
                             count_include_pad=include_pad)
    except InputError as exc:
        show_error(exc)
        return
    if kind != "global_avg":
        removed = False
        for axis, size in (("H", grid.shape[0]), ("W", grid.shape[1])):
            latex, cut = pooling.output_size_latex(axis, size, kernel, stride, padding, ceil_mode=ceil_mode)
            st.latex(latex)
            removed = removed or cut
        if removed:
            st.info(tr("conv_lab.pool_ceil_rule"))
    reference = pooling.torch_pool2d(grid, kind, kernel, stride, padding, ceil_mode=ceil_mode,
                                     count_include_pad=include_pad)
    c1, c2 = st.columns(2)
    highlight = None
    if kind != "global_avg" and out.size > 1:
        if st.session_state.get("conv_lab_pool_pos", 1) > out.size:
            st.session_state["conv_lab_pool_pos"] = 1
        position = st.slider(tr("conv_lab.pool_position"), 1, out.size, key="conv_lab_pool_pos")
        row, col = divmod(min(position, out.size) - 1, out.shape[1])
        r0, r1 = pooling.window_bounds(grid.shape[0], kernel, stride, padding, row)
        q0, q1 = pooling.window_bounds(grid.shape[1], kernel, stride, padding, col)
        highlight = [(r, c) for r in range(r0, r1 + 1) for c in range(q0, q1 + 1)]
    c1.plotly_chart(_matrix_figure(grid, title=tr("conv_lab.fig_pool_input"), highlight=highlight),
                    key="conv_lab_fig_pool_in")
    out_highlight = [(row, col)] if highlight else None
    c2.plotly_chart(_matrix_figure(out, title=tr("conv_lab.fig_pool_output", h=out.shape[0], w=out.shape[1]),
                                   highlight=out_highlight, colorscale="Greens"), key="conv_lab_fig_pool_out")
    if np.allclose(out, reference):
        st.success(tr("conv_lab.pool_torch_check"))
    else:
        st.error(tr("conv_lab.pool_torch_mismatch"))
    with st.expander(tr("conv_lab.pool_code")):
        st.markdown(tr("conv_lab.pool_code_intro"))
        for fn in pooling.HOMEWORK_FUNCTIONS:
            st.code(inspect.getsource(fn), language="python")


# --- 4. receptive fields ----------------------------------------------------------------------------

RF_SOURCES = ("preset", "zoo", "custom")


@st.cache_data(max_entries=32, show_spinner=False)
def _zoo_stages(name: str) -> list[str]:
    return calc.zoo_stages(name)


@st.cache_data(max_entries=32, show_spinner=False)
def _zoo_layers(name: str, until: str) -> tuple[int, list[calc.Layer]]:
    return calc.zoo_chain_layers(name, until=until)


def _custom_layers() -> tuple[int, list[calc.Layer]] | None:
    kinds = {tr(f"calc.kind_{k}"): k for k in calc.LAYER_KINDS}
    names = {k: label for label, k in kinds.items()}
    cols = {"kind": tr("conv_lab.col_kind"), "kernel": "K", "stride": "S", "padding": "P", "dilation": "D",
            "ceil": tr("conv_lab.col_ceil")}
    start = pd.DataFrame([
        {cols["kind"]: names["conv"], "K": 7, "S": 2, "P": 3, "D": 1, cols["ceil"]: False},
        {cols["kind"]: names["maxpool"], "K": 3, "S": 2, "P": 1, "D": 1, cols["ceil"]: False},
        {cols["kind"]: names["conv"], "K": 3, "S": 1, "P": 1, "D": 1, cols["ceil"]: False},
    ])
    config = {cols["kind"]: st.column_config.SelectboxColumn(options=list(kinds), required=True),
              "K": st.column_config.NumberColumn(min_value=1, max_value=calc.MAX_KERNEL, step=1),
              "S": st.column_config.NumberColumn(min_value=1, max_value=calc.MAX_SIZE, step=1),
              "P": st.column_config.NumberColumn(min_value=0, max_value=calc.MAX_SIZE, step=1),
              "D": st.column_config.NumberColumn(min_value=1, max_value=calc.MAX_KERNEL, step=1)}
    st.caption(tr("conv_lab.chain_custom_help"))
    table = st.data_editor(start, key="conv_lab_rf_table", num_rows="dynamic", column_config=config, hide_index=True)
    size = st.number_input(tr("conv_lab.input_size"), min_value=1, max_value=calc.MAX_SIZE, value=224, step=1,
                           key="conv_lab_rf_size")
    layers = []
    for i, row in enumerate(table.to_dict("records")):
        kind = kinds.get(row.get(cols["kind"]))
        if kind is None:
            raise InputError("calc.error_layer_kind", row=i + 1, kind=row.get(cols["kind"]))
        ceil = row.get(cols["ceil"])
        layers.append(calc.Layer(kind, row.get("K"), row.get("S"), row.get("P"), row.get("D"),
                                 bool(ceil) if ceil == ceil else False))  # NaN != NaN: an empty cell
    return size, layers


def _field_figure(rows: list[calc.ChainRow]) -> go.Figure:
    size = rows[0].size_in
    box = calc.field_box(rows)
    fig = go.Figure()
    fig.add_shape(type="rect", x0=-0.5, y0=-0.5, x1=size - 0.5, y1=size - 0.5, line=dict(color="#333"),
                  fillcolor="rgba(200,200,200,0.25)")
    fig.add_shape(type="rect", x0=box.first - 0.5, y0=box.first - 0.5, x1=box.last + 0.5, y1=box.last + 0.5,
                  line=dict(color="#d62728", dash="dash", width=2))
    if not box.empty:
        fig.add_shape(type="rect", x0=box.first_clipped - 0.5, y0=box.first_clipped - 0.5,
                      x1=box.last_clipped + 0.5, y1=box.last_clipped + 0.5, line=dict(width=0),
                      fillcolor="rgba(214,39,40,0.3)")
    last = rows[-1]
    n = last.size_out
    if n <= 64:  # the centres of the output units: one dot per unit, spaced by the jump
        centres = [last.start_out + i * last.jump_out for i in range(n)]
        xs, ys = np.meshgrid(centres, centres)
        fig.add_trace(go.Scatter(x=xs.ravel(), y=ys.ravel(), mode="markers", marker=dict(size=4, color="#1f77b4"),
                                 name=tr("conv_lab.fig_rf_units"), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=[box.centre], y=[box.centre], mode="markers", marker=dict(size=10, color="#d62728"),
                             name=tr("conv_lab.fig_rf_unit", rf=last.rf_out), hoverinfo="skip"))
    pad = max(last.rf_out - size, 0) / 2 + 2
    fig.update_xaxes(range=[-pad - 0.5, size + pad - 0.5], title=tr("conv_lab.fig_rf_x"), constrain="domain")
    fig.update_yaxes(range=[size + pad - 0.5, -pad - 0.5], title=tr("conv_lab.fig_rf_y"), scaleanchor="x")
    fig.update_layout(title=tr("conv_lab.fig_rf_title", size=size, rf=last.rf_out, jump=last.jump_out),
                      height=520, margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h"),
                      showlegend=True)
    return fig


def receptive_fields() -> None:
    st.markdown(tr("conv_lab.rf_intro"))
    source = st.radio(tr("conv_lab.rf_source"), RF_SOURCES, horizontal=True, key="conv_lab_rf_source",
                      format_func=_labels("conv_lab.rf_source_", RF_SOURCES).get)
    try:
        if source == "preset":
            preset = st.selectbox(tr("conv_lab.rf_preset"), list(calc.CHAIN_PRESETS), key="conv_lab_rf_preset",
                                  format_func=_labels("calc.preset_", calc.CHAIN_PRESETS).get)
            size, layers = calc.CHAIN_PRESETS[preset]
            layers = list(layers)
        elif source == "zoo":
            c1, c2 = st.columns(2)
            names = model_names()
            name = c1.selectbox(tr("conv_lab.rf_model"), names, index=names.index("resnet34"), key="conv_lab_rf_model")
            stages = _zoo_stages(name)
            until = c2.selectbox(tr("conv_lab.rf_until"), stages, key=f"conv_lab_rf_until_{name}")
            size, layers = _zoo_layers(name, until)
        else:
            size, layers = _custom_layers()
        rows = calc.receptive_field_chain(layers, size)
    except InputError as exc:
        show_error(exc)
        return
    if not rows:
        st.info(tr("conv_lab.rf_empty"))
        return
    table = pd.DataFrame([{
        tr("conv_lab.col_layer"): r.layer.name or str(i + 1),
        tr("conv_lab.col_kind"): tr(f"calc.kind_{r.layer.kind}"),
        "K": r.layer.kernel, "S": r.layer.stride, "P": r.layer.padding, "D": r.layer.dilation,
        tr("conv_lab.col_size"): f"{r.size_in} → {r.size_out}",
        tr("conv_lab.col_jump"): r.jump_out,
        tr("conv_lab.col_rf"): r.rf_out,
    } for i, r in enumerate(rows)])
    st.dataframe(table, hide_index=True)
    last = rows[-1]
    st.markdown(tr("conv_lab.rf_summary", size=rows[0].size_in, out=last.size_out, rf=last.rf_out,
                   jump=last.jump_out, layers=len(rows)))
    st.plotly_chart(_field_figure(rows), key="conv_lab_fig_rf")
    st.caption(tr("conv_lab.rf_border_note"))

    st.subheader(tr("conv_lab.vgg_title"))
    c1, c2, c3 = st.columns(3)
    k = c1.number_input("K", min_value=1, max_value=31, value=3, step=1, key="conv_lab_vgg_k")
    n = c2.number_input(tr("conv_lab.vgg_count"), min_value=1, max_value=20, value=3, step=1, key="conv_lab_vgg_n")
    c = c3.number_input("C", min_value=1, max_value=4096, value=64, step=1, key="conv_lab_vgg_c")
    try:
        cmp = calc.stack_vs_single(k, n, c)
    except InputError as exc:
        show_error(exc)
        return
    st.markdown(tr("conv_lab.vgg_result", n=cmp.count, k=cmp.kernel, rf=cmp.receptive_field,
                   stacked_factor=cmp.stacked_factor, single_factor=cmp.single_factor, c=cmp.channels,
                   stacked=_fmt(cmp.stacked_weights), single=_fmt(cmp.single_weights),
                   relus=cmp.nonlinearities))


# --- 5. why convolution -----------------------------------------------------------------------------

def why_convolution() -> None:
    st.markdown(tr("conv_lab.why_intro"))
    c1, c2, c3 = st.columns(3)
    h = c1.number_input("H", min_value=1, max_value=calc.MAX_SIZE, value=224, step=1, key="conv_lab_why_h")
    w = c2.number_input("W", min_value=1, max_value=calc.MAX_SIZE, value=224, step=1, key="conv_lab_why_w")
    c = c3.number_input("C", min_value=1, max_value=calc.MAX_CHANNELS, value=3, step=1, key="conv_lab_why_c")
    c1, c2, c3 = st.columns(3)
    units = c1.number_input(tr("conv_lab.why_units"), min_value=1, max_value=calc.MAX_UNITS, value=1000, step=1,
                            key="conv_lab_why_units")
    k = c2.number_input("K", min_value=1, max_value=calc.MAX_KERNEL, value=3, step=1, key="conv_lab_why_k")
    filters = c3.number_input(tr("conv_lab.why_filters"), min_value=1, max_value=calc.MAX_CHANNELS, value=64,
                              step=1, key="conv_lab_why_filters")
    try:
        r = calc.fc_vs_conv(h, w, c, units, k, filters)
    except InputError as exc:
        show_error(exc)
        return
    m1, m2, m3 = st.columns(3)
    m1.metric(tr("conv_lab.why_fc_weights"), _fmt(r.fc_weights))
    m2.metric(tr("conv_lab.why_conv_weights"), _fmt(r.conv_weights))
    m3.metric(tr("conv_lab.why_ratio"), f"{r.ratio:,.0f} x")
    st.markdown(tr("conv_lab.why_result", h=r.height, w=r.width, c=r.channels, units=_fmt(r.units), k=r.kernel,
                   filters=r.filters, fc=_fmt(r.fc_weights), conv=_fmt(r.conv_weights), ratio=f"{r.ratio:,.0f}",
                   fc_macs=_fmt(r.fc_macs), conv_macs=_fmt(r.conv_macs)))
    fig = go.Figure(go.Bar(x=[tr("conv_lab.why_fc_bar"), tr("conv_lab.why_conv_bar")],
                           y=[float(r.fc_weights), float(r.conv_weights)],
                           text=[_fmt(r.fc_weights), _fmt(r.conv_weights)],
                           textposition="outside", marker_color=["#d62728", "#1f77b4"]))
    # A log axis from 1 weight, so that both bars keep their true proportion in orders of magnitude.
    top = math.log10(max(r.fc_weights, r.conv_weights)) * 1.12 + 0.3
    fig.update_yaxes(type="log", title=tr("conv_lab.why_axis"), range=[0, top])
    fig.update_layout(title=tr("conv_lab.why_chart_title"), height=380, margin=dict(l=10, r=10, t=50, b=10))
    st.plotly_chart(fig, key="conv_lab_fig_why")


st.title(tr("conv_lab.title"))
st.markdown(tr("conv_lab.intro"))
tab_calc, tab_slide, tab_pool, tab_rf, tab_why = st.tabs([
    tr("conv_lab.tab_calculator"), tr("conv_lab.tab_sliding"), tr("conv_lab.tab_pooling"),
    tr("conv_lab.tab_receptive"), tr("conv_lab.tab_why")])
with tab_calc:
    conv_calculator()
with tab_slide:
    sliding_window()
with tab_pool:
    pooling_lab()
with tab_rf:
    receptive_fields()
with tab_why:
    why_convolution()
