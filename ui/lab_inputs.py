"""The Conv & pooling lab's inputs: whole numbers, grids to pick, draw at random or type, the settings of a conv
and of a pool, and the layer chain of the receptive-field tab (preset, zoo model or typed table).

Numbers are checked where they are used (``resnet_viz.lab`` raises InputError); ``checked`` shows such an error
on the page instead of a traceback.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from resnet_viz.errors import InputError
from resnet_viz.lab import calc, parse, pooling, sliding
from resnet_viz.models.registry import model_names
from resnet_viz.render import tables
from ui.common import current_language, show_error, tr

RF_SOURCES = ("preset", "zoo", "custom")
POOL_INPUTS = {name: sliding.INPUTS[name] for name in ("notes_example", "square")}


def labels(prefix: str, options) -> dict[str, str]:
    """Option -> label (key ``<prefix><option>``), translated during the script run: pass ``.get`` as a
    format_func, so the widget keeps the session's language."""
    return {o: tr(f"{prefix}{o}") for o in options}


def whole(where, label: str, key: str, value: int, maximum: int, minimum: int = 1, **kwargs) -> int:
    """A number input for a whole number (step 1)."""
    return where.number_input(label, min_value=minimum, max_value=maximum, value=value, step=1, key=key, **kwargs)


def checked(fn, /, *args, **kwargs):
    """``fn(*args, **kwargs)``, or None once the InputError it raised is shown on the page."""
    try:
        return fn(*args, **kwargs)
    except InputError as exc:
        show_error(exc)
        return None


def editable_grid(prefix: str, example: np.ndarray, max_side: int) -> pd.DataFrame:
    """Rows and columns to choose, then a table to type into, starting from ``example`` (cut or zero-filled)."""
    c1, c2 = st.columns(2)
    rows = whole(c1, tr("conv_lab.rows"), f"{prefix}_edit_rows", example.shape[0], max_side)
    cols = whole(c2, tr("conv_lab.cols"), f"{prefix}_edit_cols", example.shape[1], max_side)
    frame = pd.DataFrame(parse.start_grid(example, rows, cols), columns=[str(i + 1) for i in range(cols)])
    # A new key per shape: changing the size starts a fresh table instead of mixing old edits in.
    return st.data_editor(frame, key=f"{prefix}_grid_{rows}x{cols}", hide_index=True)


def grid_source(prefix: str, presets: dict[str, tuple], label_key: str, default: str) -> np.ndarray | pd.DataFrame:
    """Preset / random / typed grid (an editable table). Returns the grid (possibly with empty cells)."""
    options = list(presets) + ["random", "custom"]
    choice = st.selectbox(tr(label_key), options, index=options.index(default), key=f"{prefix}_source",
                          format_func=labels("conv_lab.input_", options).get)
    if choice == "random":
        c1, c2, c3 = st.columns(3)
        rows = whole(c1, tr("conv_lab.rows"), f"{prefix}_rows", 6, sliding.MAX_DEMO_SIZE)
        cols = whole(c2, tr("conv_lab.cols"), f"{prefix}_cols", 6, sliding.MAX_DEMO_SIZE)
        seed = whole(c3, tr("conv_lab.seed"), f"{prefix}_seed", 0, 10**6, minimum=0)
        return sliding.random_input(rows, cols, seed=seed)
    if choice == "custom":
        st.caption(tr("conv_lab.custom_help", maximum=sliding.MAX_DEMO_SIZE))
        return editable_grid(prefix, np.asarray(presets[default]), sliding.MAX_DEMO_SIZE)
    return np.asarray(presets[choice])


# --- the conv calculator ----------------------------------------------------------------------------

def conv_settings() -> calc.ConvSettings:
    c1, c2, c3, c4 = st.columns(4)
    height = whole(c1, "H", "conv_lab_h", 224, calc.MAX_SIZE, help=tr("conv_lab.help_h"))
    width = whole(c2, "W", "conv_lab_w", 224, calc.MAX_SIZE, help=tr("conv_lab.help_w"))
    c_in = whole(c3, "C_in", "conv_lab_cin", 3, calc.MAX_CHANNELS, help=tr("conv_lab.help_cin"))
    c_out = whole(c4, "C_out", "conv_lab_cout", 64, calc.MAX_CHANNELS, help=tr("conv_lab.help_cout"))
    c1, c2, c3, c4 = st.columns(4)
    if c1.checkbox(tr("conv_lab.square_kernel"), value=True, key="conv_lab_square"):
        k_h = k_w = whole(c1, "K", "conv_lab_k", 7, calc.MAX_KERNEL, help=tr("conv_lab.help_k"))
    else:
        k_h = whole(c1, "K_H", "conv_lab_kh", 7, calc.MAX_KERNEL, help=tr("conv_lab.help_k"))
        k_w = whole(c1, "K_W", "conv_lab_kw", 7, calc.MAX_KERNEL, help=tr("conv_lab.help_k"))
    stride = whole(c2, tr("conv_lab.stride"), "conv_lab_stride", 2, calc.MAX_SIZE, help=tr("conv_lab.help_stride"))
    mode = c3.radio(tr("conv_lab.padding_mode"), calc.PADDING_MODES, key="conv_lab_pad_mode", horizontal=True,
                    format_func=labels("conv_lab.padding_", calc.PADDING_MODES).get,
                    help=tr("conv_lab.help_padding"))
    padding: int | str = mode
    if mode == "number":
        padding = whole(c3, tr("conv_lab.padding"), "conv_lab_pad", 3, calc.MAX_SIZE, minimum=0)
    dilation = whole(c4, tr("conv_lab.dilation"), "conv_lab_dilation", 1, calc.MAX_KERNEL,
                     help=tr("conv_lab.help_dilation"))
    groups = whole(c4, tr("conv_lab.groups"), "conv_lab_groups", 1, calc.MAX_CHANNELS, help=tr("conv_lab.help_groups"))
    bias = c2.checkbox(tr("conv_lab.bias"), value=False, key="conv_lab_bias", help=tr("conv_lab.help_bias"))
    return calc.ConvSettings(height, width, c_in, c_out, k_h, k_w, stride, padding, dilation, groups, bias)


# --- the sliding window -----------------------------------------------------------------------------

def kernel_source() -> np.ndarray | pd.DataFrame:
    options = list(sliding.KERNELS) + ["custom"]
    choice = st.selectbox(tr("conv_lab.kernel"), options, index=options.index("sobel_x"), key="conv_lab_kernel",
                          format_func=labels("conv_lab.kernel_", options).get)
    if choice != "custom":
        st.caption(tr(f"conv_lab.kernel_{choice}_help"))
        return np.asarray(sliding.KERNELS[choice])
    st.caption(tr("conv_lab.custom_kernel_help", maximum=sliding.MAX_DEMO_KERNEL))
    return editable_grid("conv_lab_kernel", np.asarray(sliding.KERNELS["sobel_x"]), sliding.MAX_DEMO_KERNEL)


# --- pooling ----------------------------------------------------------------------------------------

def pool_settings() -> tuple[str, int, int, int, bool, bool]:
    """(kind, kernel, stride, padding, ceil mode, count_include_pad)."""
    kind = st.radio(tr("conv_lab.pool_kind"), pooling.POOL_KINDS, key="conv_lab_pool_kind",
                    horizontal=True, format_func=labels("conv_lab.pool_", pooling.POOL_KINDS).get)
    fixed = kind == "global_avg"  # global average pooling has no window to set
    c1, c2, c3 = st.columns(3)
    kernel = whole(c1, tr("conv_lab.kernel_size"), "conv_lab_pool_k", 2, sliding.MAX_DEMO_SIZE, disabled=fixed)
    stride = whole(c2, tr("conv_lab.stride"), "conv_lab_pool_s", 2, sliding.MAX_DEMO_SIZE, disabled=fixed)
    padding = whole(c3, tr("conv_lab.padding"), "conv_lab_pool_p", 0, sliding.MAX_DEMO_SIZE, minimum=0,
                    disabled=fixed, help=tr("conv_lab.pool_padding_help"))
    ceil_mode = st.checkbox(tr("conv_lab.ceil_mode"), key="conv_lab_pool_ceil", disabled=fixed,
                            help=tr("conv_lab.ceil_mode_help"))
    include_pad = st.checkbox(tr("conv_lab.count_include_pad"), value=True, key="conv_lab_pool_incl",
                              disabled=kind != "avg", help=tr("conv_lab.count_include_pad_help"))
    return kind, kernel, stride, padding, ceil_mode, include_pad


# --- receptive fields -------------------------------------------------------------------------------

@st.cache_data(max_entries=32, show_spinner=False)
def _zoo_stages(name: str) -> list[str]:
    return calc.zoo_stages(name)


@st.cache_data(max_entries=32, show_spinner=False)
def _zoo_layers(name: str, until: str) -> tuple[int, list[calc.Layer]]:
    return calc.zoo_chain_layers(name, until=until)


def _custom_layers() -> tuple[int, list[calc.Layer]]:
    lang = current_language()
    kinds, headers = tables.chain_kind_labels(lang), tables.chain_headers(lang)
    start = pd.DataFrame(tables.custom_chain_records(lang))
    config = {headers["kind"]: st.column_config.SelectboxColumn(options=list(kinds.values()), required=True),
              "K": st.column_config.NumberColumn(min_value=1, max_value=calc.MAX_KERNEL, step=1),
              "S": st.column_config.NumberColumn(min_value=1, max_value=calc.MAX_SIZE, step=1),
              "P": st.column_config.NumberColumn(min_value=0, max_value=calc.MAX_SIZE, step=1),
              "D": st.column_config.NumberColumn(min_value=1, max_value=calc.MAX_KERNEL, step=1)}
    st.caption(tr("conv_lab.chain_custom_help"))
    table = st.data_editor(start, key="conv_lab_rf_table", num_rows="dynamic", column_config=config, hide_index=True)
    size = whole(st, tr("conv_lab.input_size"), "conv_lab_rf_size", 224, calc.MAX_SIZE)
    return size, tables.chain_from_table(table.to_dict("records"), lang)


def chain_source() -> tuple[int, list[calc.Layer]]:
    """(input size, layers) of a preset chain, a zoo model up to a stage, or a typed table."""
    source = st.radio(tr("conv_lab.rf_source"), RF_SOURCES, horizontal=True, key="conv_lab_rf_source",
                      format_func=labels("conv_lab.rf_source_", RF_SOURCES).get)
    if source == "preset":
        preset = st.selectbox(tr("conv_lab.rf_preset"), list(calc.CHAIN_PRESETS), key="conv_lab_rf_preset",
                              format_func=labels("calc.preset_", calc.CHAIN_PRESETS).get)
        size, layers = calc.CHAIN_PRESETS[preset]
        return size, list(layers)
    if source == "zoo":
        c1, c2 = st.columns(2)
        names = model_names()
        name = c1.selectbox(tr("conv_lab.rf_model"), names, index=names.index("resnet34"), key="conv_lab_rf_model")
        until = c2.selectbox(tr("conv_lab.rf_until"), _zoo_stages(name), key=f"conv_lab_rf_until_{name}")
        return _zoo_layers(name, until)
    return _custom_layers()
