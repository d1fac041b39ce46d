"""Conv & pooling lab: the conv calculator, the sliding window, pooling, receptive fields, why convolution."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import streamlit as st

from resnet_viz.errors import InputError
from resnet_viz.lab import calc, parse, pooling, sliding
from resnet_viz.lab.parse import format_number as fmt
from resnet_viz.models.registry import model_names
from resnet_viz.render.plots import conv_lab as plots
from ui.common import current_language, show_error, tr
from ui.images import image_input

RF_SOURCES = ("preset", "zoo", "custom")
POOL_INPUTS = {name: sliding.INPUTS[name] for name in ("notes_example", "square")}


def _labels(prefix: str, options) -> dict[str, str]:
    """Option -> label (key ``<prefix><option>``), translated during the script run: pass ``.get`` as a
    format_func, so the widget keeps the session's language."""
    return {o: tr(f"{prefix}{o}") for o in options}


def _whole(where, label: str, key: str, value: int, maximum: int, minimum: int = 1, **kwargs) -> int:
    """A number input for a whole number (step 1)."""
    return where.number_input(label, min_value=minimum, max_value=maximum, value=value, step=1, key=key, **kwargs)


def _checked(fn, /, *args, **kwargs):
    """``fn(*args, **kwargs)``, or None once the InputError it raised is shown on the page."""
    try:
        return fn(*args, **kwargs)
    except InputError as exc:
        show_error(exc)
        return None


def _editable_grid(prefix: str, example: np.ndarray, max_side: int) -> pd.DataFrame:
    """Rows and columns to choose, then a table to type into, starting from ``example`` (cut or zero-filled)."""
    c1, c2 = st.columns(2)
    rows = _whole(c1, tr("conv_lab.rows"), f"{prefix}_edit_rows", example.shape[0], max_side)
    cols = _whole(c2, tr("conv_lab.cols"), f"{prefix}_edit_cols", example.shape[1], max_side)
    frame = pd.DataFrame(parse.start_grid(example, rows, cols), columns=[str(i + 1) for i in range(cols)])
    # A new key per shape: changing the size starts a fresh table instead of mixing old edits in.
    return st.data_editor(frame, key=f"{prefix}_grid_{rows}x{cols}", hide_index=True)


def _grid_source(prefix: str, presets: dict[str, tuple], label_key: str, default: str) -> np.ndarray | pd.DataFrame:
    """Preset / random / typed grid (an editable table). Returns the grid (possibly with empty cells)."""
    options = list(presets) + ["random", "custom"]
    choice = st.selectbox(tr(label_key), options, index=options.index(default), key=f"{prefix}_source",
                          format_func=_labels("conv_lab.input_", options).get)
    if choice == "random":
        c1, c2, c3 = st.columns(3)
        rows = _whole(c1, tr("conv_lab.rows"), f"{prefix}_rows", 6, sliding.MAX_DEMO_SIZE)
        cols = _whole(c2, tr("conv_lab.cols"), f"{prefix}_cols", 6, sliding.MAX_DEMO_SIZE)
        seed = _whole(c3, tr("conv_lab.seed"), f"{prefix}_seed", 0, 10**6, minimum=0)
        return sliding.random_input(rows, cols, seed=seed)
    if choice == "custom":
        st.caption(tr("conv_lab.custom_help", maximum=sliding.MAX_DEMO_SIZE))
        return _editable_grid(prefix, np.asarray(presets[default]), sliding.MAX_DEMO_SIZE)
    return np.asarray(presets[choice])


# --- 1. the conv calculator -------------------------------------------------------------------------

@st.cache_data(max_entries=64, show_spinner=False)
def _torch_conv_shape(settings: calc.ConvSettings) -> tuple[tuple[int, ...], int]:
    return calc.torch_conv_shape(settings)


def _conv_settings() -> calc.ConvSettings:
    c1, c2, c3, c4 = st.columns(4)
    height = _whole(c1, "H", "conv_lab_h", 224, calc.MAX_SIZE, help=tr("conv_lab.help_h"))
    width = _whole(c2, "W", "conv_lab_w", 224, calc.MAX_SIZE, help=tr("conv_lab.help_w"))
    c_in = _whole(c3, "C_in", "conv_lab_cin", 3, calc.MAX_CHANNELS, help=tr("conv_lab.help_cin"))
    c_out = _whole(c4, "C_out", "conv_lab_cout", 64, calc.MAX_CHANNELS, help=tr("conv_lab.help_cout"))
    c1, c2, c3, c4 = st.columns(4)
    if c1.checkbox(tr("conv_lab.square_kernel"), value=True, key="conv_lab_square"):
        k_h = k_w = _whole(c1, "K", "conv_lab_k", 7, calc.MAX_KERNEL, help=tr("conv_lab.help_k"))
    else:
        k_h = _whole(c1, "K_H", "conv_lab_kh", 7, calc.MAX_KERNEL, help=tr("conv_lab.help_k"))
        k_w = _whole(c1, "K_W", "conv_lab_kw", 7, calc.MAX_KERNEL, help=tr("conv_lab.help_k"))
    stride = _whole(c2, tr("conv_lab.stride"), "conv_lab_stride", 2, calc.MAX_SIZE, help=tr("conv_lab.help_stride"))
    mode = c3.radio(tr("conv_lab.padding_mode"), calc.PADDING_MODES, key="conv_lab_pad_mode", horizontal=True,
                    format_func=_labels("conv_lab.padding_", calc.PADDING_MODES).get,
                    help=tr("conv_lab.help_padding"))
    padding: int | str = mode
    if mode == "number":
        padding = _whole(c3, tr("conv_lab.padding"), "conv_lab_pad", 3, calc.MAX_SIZE, minimum=0)
    dilation = _whole(c4, tr("conv_lab.dilation"), "conv_lab_dilation", 1, calc.MAX_KERNEL,
                      help=tr("conv_lab.help_dilation"))
    groups = _whole(c4, tr("conv_lab.groups"), "conv_lab_groups", 1, calc.MAX_CHANNELS, help=tr("conv_lab.help_groups"))
    bias = c2.checkbox(tr("conv_lab.bias"), value=False, key="conv_lab_bias", help=tr("conv_lab.help_bias"))
    return calc.ConvSettings(height, width, c_in, c_out, k_h, k_w, stride, padding, dilation, groups, bias)


def conv_calculator() -> None:
    st.markdown(tr("conv_lab.calc_intro"))
    result = _checked(calc.conv_output, _conv_settings())
    if result is None:
        return
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(tr("conv_lab.output_shape"), " x ".join(str(n) for n in result.output_shape))
    m2.metric(tr("conv_lab.params"), fmt(result.params),
              help=tr("conv_lab.params_help", weights=fmt(result.weights), biases=fmt(result.biases)))
    m3.metric(tr("conv_lab.macs"), fmt(result.macs), help=tr("conv_lab.macs_help"))
    m4.metric(tr("conv_lab.rf_alone"), f"{result.receptive_field[0]} x {result.receptive_field[1]}")
    st.latex(result.h.latex())
    st.latex(result.w.latex())
    st.markdown("\n".join(f"- {tr(n.key, **n.params)}" for n in result.notes))
    shape, params = _torch_conv_shape(result.settings)
    agree = shape == result.output_shape and params == result.params
    (st.success if agree else st.error)(tr("conv_lab.torch_check" if agree else "conv_lab.torch_mismatch",
                                           shape=" x ".join(map(str, shape)), params=fmt(params)))


# --- 2. the sliding window --------------------------------------------------------------------------

def _kernel_source() -> np.ndarray | pd.DataFrame:
    options = list(sliding.KERNELS) + ["custom"]
    choice = st.selectbox(tr("conv_lab.kernel"), options, index=options.index("sobel_x"), key="conv_lab_kernel",
                          format_func=_labels("conv_lab.kernel_", options).get)
    if choice != "custom":
        st.caption(tr(f"conv_lab.kernel_{choice}_help"))
        return np.asarray(sliding.KERNELS[choice])
    st.caption(tr("conv_lab.custom_kernel_help", maximum=sliding.MAX_DEMO_KERNEL))
    return _editable_grid("conv_lab_kernel", np.asarray(sliding.KERNELS["sobel_x"]), sliding.MAX_DEMO_KERNEL)


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
    figures = plots.sliding_figures(demo, index, current_language())
    for where, fig, key in zip(st.columns([3, 2, 2]), figures, ("padded", "products", "output")):
        where.plotly_chart(fig, key=f"conv_lab_fig_{key}")
    st.markdown(tr("conv_lab.step_sum", step=index + 1, steps=steps, row=step.row + 1, col=step.col + 1,
                   terms=parse.sum_terms(step.products.reshape(-1)), total=fmt(step.total)))


# Only the fragment reruns while playing; the rest of the page stays as it is.
_steps_playing = st.fragment(run_every=1.0)(_steps_body)
_steps_still = st.fragment(_steps_body)


@st.cache_data(max_entries=32, show_spinner=False)
def _filtered(image_id: str, _image, kernel: tuple[tuple[float, ...], ...], stride: int,
              dilation: int) -> sliding.FilteredImage:
    return sliding.filter_image(_image, kernel, stride=stride, dilation=dilation)


def _filtered_image(kernel: np.ndarray, stride: int, dilation: int) -> None:
    st.subheader(tr("conv_lab.image_title"))
    st.markdown(tr("conv_lab.image_intro"))
    picked = image_input("conv_lab_image", "imagenet")
    if picked is None:
        return
    image, image_id = picked
    result = _filtered(image_id, image, tuple(tuple(float(v) for v in row) for row in kernel), stride, dilation)
    c1, c2 = st.columns(2)
    c1.image(result.gray, caption=tr("conv_lab.image_gray", h=result.gray.shape[0], w=result.gray.shape[1]),
             clamp=True)
    caption = "conv_lab.image_abs" if result.signed else "conv_lab.image_clipped"
    c2.image(result.display, caption=tr(caption, h=result.display.shape[0], w=result.display.shape[1]))


def sliding_window() -> None:
    st.markdown(tr("conv_lab.sliding_intro"))
    left, right = st.columns(2)
    with left:
        x = _grid_source("conv_lab_in", sliding.INPUTS, "conv_lab.input", "vertical_edge")
    with right:
        kernel = _kernel_source()
    c1, c2, c3 = st.columns(3)
    stride = _whole(c1, tr("conv_lab.stride"), "conv_lab_sl_stride", 1, sliding.MAX_DEMO_SIZE)
    padding = _whole(c2, tr("conv_lab.padding"), "conv_lab_sl_pad", 0, sliding.MAX_DEMO_SIZE, minimum=0)
    dilation = _whole(c3, tr("conv_lab.dilation"), "conv_lab_sl_dil", 1, sliding.MAX_DEMO_SIZE)
    demo = _checked(sliding.sliding_conv, x, kernel, stride=stride, padding=padding, dilation=dilation)
    if demo is None:
        return
    st.caption(tr("conv_lab.sliding_shape", h=demo.input.shape[0], w=demo.input.shape[1],
                  kh=demo.kernel.shape[0], kw=demo.kernel.shape[1], oh=demo.output.shape[0],
                  ow=demo.output.shape[1], steps=demo.steps))
    playing = st.toggle(tr("conv_lab.play"), key="conv_lab_play", help=tr("conv_lab.play_help"))
    (_steps_playing if playing else _steps_still)(demo, playing)
    _filtered_image(demo.kernel, stride, dilation)


# --- 3. pooling -------------------------------------------------------------------------------------

def _pool_settings() -> tuple[str, int, int, int, bool, bool]:
    """(kind, kernel, stride, padding, ceil mode, count_include_pad)."""
    kind = st.radio(tr("conv_lab.pool_kind"), pooling.POOL_KINDS, key="conv_lab_pool_kind",
                    horizontal=True, format_func=_labels("conv_lab.pool_", pooling.POOL_KINDS).get)
    fixed = kind == "global_avg"  # global average pooling has no window to set
    c1, c2, c3 = st.columns(3)
    kernel = _whole(c1, tr("conv_lab.kernel_size"), "conv_lab_pool_k", 2, sliding.MAX_DEMO_SIZE, disabled=fixed)
    stride = _whole(c2, tr("conv_lab.stride"), "conv_lab_pool_s", 2, sliding.MAX_DEMO_SIZE, disabled=fixed)
    padding = _whole(c3, tr("conv_lab.padding"), "conv_lab_pool_p", 0, sliding.MAX_DEMO_SIZE, minimum=0,
                     disabled=fixed, help=tr("conv_lab.pool_padding_help"))
    ceil_mode = st.checkbox(tr("conv_lab.ceil_mode"), key="conv_lab_pool_ceil", disabled=fixed,
                            help=tr("conv_lab.ceil_mode_help"))
    include_pad = st.checkbox(tr("conv_lab.count_include_pad"), value=True, key="conv_lab_pool_incl",
                              disabled=kind != "avg", help=tr("conv_lab.count_include_pad_help"))
    return kind, kernel, stride, padding, ceil_mode, include_pad


def pooling_lab() -> None:
    st.markdown(tr("conv_lab.pool_intro"))
    left, right = st.columns([1, 1])
    with left:
        x = _grid_source("conv_lab_pool_in", POOL_INPUTS, "conv_lab.input", "notes_example")
    with right:
        kind, kernel, stride, padding, ceil_mode, include_pad = _pool_settings()
    fixed = kind == "global_avg"
    grid = _checked(sliding.as_matrix, x, "input", max_side=sliding.MAX_DEMO_SIZE)
    if grid is None:
        return
    out = _checked(pooling.pool2d, grid, kind, kernel, stride, padding, ceil_mode=ceil_mode,
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
        position = st.slider(tr("conv_lab.pool_position"), 1, out.size, key="conv_lab_pool_pos")
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
        for fn in pooling.HOMEWORK_FUNCTIONS:
            st.code(inspect.getsource(fn), language="python")


# --- 4. receptive fields ----------------------------------------------------------------------------

@st.cache_data(max_entries=32, show_spinner=False)
def _zoo_stages(name: str) -> list[str]:
    return calc.zoo_stages(name)


@st.cache_data(max_entries=32, show_spinner=False)
def _zoo_layers(name: str, until: str) -> tuple[int, list[calc.Layer]]:
    return calc.zoo_chain_layers(name, until=until)


def _custom_layers() -> tuple[int, list[calc.Layer]]:
    kinds = {k: tr(f"calc.kind_{k}") for k in calc.LAYER_KINDS}
    headers = {"kind": tr("conv_lab.col_kind"), "ceil": tr("conv_lab.col_ceil")}
    start = pd.DataFrame(parse.chain_records(parse.CUSTOM_CHAIN_EXAMPLE, kinds)).rename(columns=headers)
    config = {headers["kind"]: st.column_config.SelectboxColumn(options=list(kinds.values()), required=True),
              "K": st.column_config.NumberColumn(min_value=1, max_value=calc.MAX_KERNEL, step=1),
              "S": st.column_config.NumberColumn(min_value=1, max_value=calc.MAX_SIZE, step=1),
              "P": st.column_config.NumberColumn(min_value=0, max_value=calc.MAX_SIZE, step=1),
              "D": st.column_config.NumberColumn(min_value=1, max_value=calc.MAX_KERNEL, step=1)}
    st.caption(tr("conv_lab.chain_custom_help"))
    table = st.data_editor(start, key="conv_lab_rf_table", num_rows="dynamic", column_config=config, hide_index=True)
    size = _whole(st, tr("conv_lab.input_size"), "conv_lab_rf_size", 224, calc.MAX_SIZE)
    records = table.rename(columns={label: name for name, label in headers.items()}).to_dict("records")
    return size, parse.chain_from_records(records, kinds)


def _chain_source() -> tuple[int, list[calc.Layer]]:
    source = st.radio(tr("conv_lab.rf_source"), RF_SOURCES, horizontal=True, key="conv_lab_rf_source",
                      format_func=_labels("conv_lab.rf_source_", RF_SOURCES).get)
    if source == "preset":
        preset = st.selectbox(tr("conv_lab.rf_preset"), list(calc.CHAIN_PRESETS), key="conv_lab_rf_preset",
                              format_func=_labels("calc.preset_", calc.CHAIN_PRESETS).get)
        size, layers = calc.CHAIN_PRESETS[preset]
        return size, list(layers)
    if source == "zoo":
        c1, c2 = st.columns(2)
        names = model_names()
        name = c1.selectbox(tr("conv_lab.rf_model"), names, index=names.index("resnet34"), key="conv_lab_rf_model")
        until = c2.selectbox(tr("conv_lab.rf_until"), _zoo_stages(name), key=f"conv_lab_rf_until_{name}")
        return _zoo_layers(name, until)
    return _custom_layers()


def _stack_vs_single() -> None:
    st.subheader(tr("conv_lab.vgg_title"))
    c1, c2, c3 = st.columns(3)
    k = _whole(c1, "K", "conv_lab_vgg_k", 3, 31)
    n = _whole(c2, tr("conv_lab.vgg_count"), "conv_lab_vgg_n", 3, 20)
    c = _whole(c3, "C", "conv_lab_vgg_c", 64, 4096)
    cmp = _checked(calc.stack_vs_single, k, n, c)
    if cmp is None:
        return
    st.markdown(tr("conv_lab.vgg_result", n=cmp.count, k=cmp.kernel, rf=cmp.receptive_field,
                   stacked_factor=cmp.stacked_factor, single_factor=cmp.single_factor, c=cmp.channels,
                   stacked=fmt(cmp.stacked_weights), single=fmt(cmp.single_weights), relus=cmp.nonlinearities))


def receptive_fields() -> None:
    st.markdown(tr("conv_lab.rf_intro"))
    try:
        size, layers = _chain_source()
        rows = calc.receptive_field_chain(layers, size)
    except InputError as exc:
        show_error(exc)
        return
    if not rows:
        st.info(tr("conv_lab.rf_empty"))
        return
    st.dataframe(pd.DataFrame(plots.chain_table(rows, current_language())), hide_index=True)
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
    h = _whole(c1, "H", "conv_lab_why_h", 224, calc.MAX_SIZE)
    w = _whole(c2, "W", "conv_lab_why_w", 224, calc.MAX_SIZE)
    c = _whole(c3, "C", "conv_lab_why_c", 3, calc.MAX_CHANNELS)
    c1, c2, c3 = st.columns(3)
    units = _whole(c1, tr("conv_lab.why_units"), "conv_lab_why_units", 1000, calc.MAX_UNITS)
    k = _whole(c2, "K", "conv_lab_why_k", 3, calc.MAX_KERNEL)
    filters = _whole(c3, tr("conv_lab.why_filters"), "conv_lab_why_filters", 64, calc.MAX_CHANNELS)
    r = _checked(calc.fc_vs_conv, h, w, c, units, k, filters)
    if r is None:
        return
    m1, m2, m3 = st.columns(3)
    m1.metric(tr("conv_lab.why_fc_weights"), fmt(r.fc_weights))
    m2.metric(tr("conv_lab.why_conv_weights"), fmt(r.conv_weights))
    m3.metric(tr("conv_lab.why_ratio"), f"{r.ratio:,.0f} x")
    st.markdown(tr("conv_lab.why_result", h=r.height, w=r.width, c=r.channels, units=fmt(r.units), k=r.kernel,
                   filters=r.filters, fc=fmt(r.fc_weights), conv=fmt(r.conv_weights), ratio=f"{r.ratio:,.0f}",
                   fc_macs=fmt(r.fc_macs), conv_macs=fmt(r.conv_macs)))
    st.plotly_chart(plots.weights_figure(r, current_language()), key="conv_lab_fig_why")


def main() -> None:
    st.title(tr("conv_lab.title"))
    st.markdown(tr("conv_lab.intro"))
    tabs = st.tabs([tr("conv_lab.tab_calculator"), tr("conv_lab.tab_sliding"), tr("conv_lab.tab_pooling"),
                    tr("conv_lab.tab_receptive"), tr("conv_lab.tab_why")])
    for tab, body in zip(tabs, (conv_calculator, sliding_window, pooling_lab, receptive_fields, why_convolution)):
        with tab:
            body()


main()
