"""The Conv & pooling lab's inputs: whole numbers, grids to pick, draw at random or type, the settings of a conv
and of a pool, and the layer chain of the receptive-field tab (preset, zoo model or typed table).

Numbers are checked where they are used (``resnet_viz.lab`` raises InputError); ``checked`` shows such an error
on the page instead of a traceback. The lab's settings are therefore typed into ``setting`` inputs, which the widget
does not bound: a bounded number input silently keeps its last valid value when a student types 0 or a negative
number, where the lab's message says what is wrong.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from resnet_viz.errors import InputError
from resnet_viz.lab import calc, homework, parse, pooling, sliding
from resnet_viz.models.registry import model_names
from resnet_viz.render import tables
from ui.common import current_language, show_error, tr

RF_SOURCES = ("preset", "zoo", "custom")
POOL_INPUTS = {name: sliding.INPUTS[name] for name in ("notes_example", "square")}


def labels(prefix: str, options) -> dict[str, str]:
    """Option -> label (key ``<prefix><option>``), translated during the script run: pass ``.__getitem__`` as a
    format_func, so the widget keeps the session's language."""
    return {o: tr(f"{prefix}{o}") for o in options}


def whole(where, label: str, key: str, value: int, maximum: int, minimum: int = 1, **kwargs) -> int:
    """A number input for a whole number (step 1)."""
    return where.number_input(label, min_value=minimum, max_value=maximum, value=value, step=1, key=key, **kwargs)


def setting(where, label: str, key: str, value: int, **kwargs) -> int:
    """A whole number (step 1) that the widget does not bound: 0, negative and huge values reach
    ``resnet_viz.lab``, whose InputError names the field and the allowed range."""
    return where.number_input(label, value=value, step=1, key=key, **kwargs)


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
                          format_func=labels("conv_lab.input_", options).__getitem__)
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
    height = setting(c1, "H", "conv_lab_h", 224, help=tr("conv_lab.help_h"))
    width = setting(c2, "W", "conv_lab_w", 224, help=tr("conv_lab.help_w"))
    c_in = setting(c3, "C_in", "conv_lab_cin", 3, help=tr("conv_lab.help_cin"))
    c_out = setting(c4, "C_out", "conv_lab_cout", 64, help=tr("conv_lab.help_cout"))
    c1, c2, c3, c4 = st.columns(4)
    if c1.checkbox(tr("conv_lab.square_kernel"), value=True, key="conv_lab_square"):
        k_h = k_w = setting(c1, "K", "conv_lab_k", 7, help=tr("conv_lab.help_k"))
    else:
        k_h = setting(c1, "K_H", "conv_lab_kh", 7, help=tr("conv_lab.help_k"))
        k_w = setting(c1, "K_W", "conv_lab_kw", 7, help=tr("conv_lab.help_k"))
    stride = setting(c2, tr("conv_lab.stride"), "conv_lab_stride", 2, help=tr("conv_lab.help_stride"))
    mode = c3.radio(tr("conv_lab.padding_mode"), calc.PADDING_MODES, key="conv_lab_pad_mode", horizontal=True,
                    format_func=labels("conv_lab.padding_", calc.PADDING_MODES).get,
                    help=tr("conv_lab.help_padding"))
    padding: int | str = mode
    if mode == "number":
        padding = setting(c3, tr("conv_lab.padding"), "conv_lab_pad", 3)
    dilation = setting(c4, tr("conv_lab.dilation"), "conv_lab_dilation", 1,
                     help=tr("conv_lab.help_dilation"))
    groups = setting(c4, tr("conv_lab.groups"), "conv_lab_groups", 1, help=tr("conv_lab.help_groups"))
    bias = c2.checkbox(tr("conv_lab.bias"), value=False, key="conv_lab_bias", help=tr("conv_lab.help_bias"))
    return calc.ConvSettings(height, width, c_in, c_out, k_h, k_w, stride, padding, dilation, groups, bias)


# --- the sliding window -----------------------------------------------------------------------------

def kernel_source() -> np.ndarray | pd.DataFrame:
    options = list(sliding.KERNELS) + ["custom"]
    choice = st.selectbox(tr("conv_lab.kernel"), options, index=options.index("sobel_x"), key="conv_lab_kernel",
                          format_func=labels("conv_lab.kernel_", options).__getitem__)
    if choice != "custom":
        st.caption(tr(f"conv_lab.kernel_{choice}_help"))
        return np.asarray(sliding.KERNELS[choice])
    st.caption(tr("conv_lab.custom_kernel_help", maximum=sliding.MAX_DEMO_KERNEL))
    return editable_grid("conv_lab_kernel", np.asarray(sliding.KERNELS["sobel_x"]), sliding.MAX_DEMO_KERNEL)


# --- pooling ----------------------------------------------------------------------------------------

def pool_settings() -> tuple[str, int, int, int, bool, bool]:
    """(kind, kernel, stride, padding, ceil mode, count_include_pad)."""
    kind = st.radio(tr("conv_lab.pool_kind"), pooling.POOL_KINDS, key="conv_lab_pool_kind",
                    horizontal=True, format_func=labels("conv_lab.pool_", pooling.POOL_KINDS).__getitem__)
    fixed = kind == "global_avg"  # global average pooling has no window to set
    c1, c2, c3 = st.columns(3)
    kernel = setting(c1, tr("conv_lab.kernel_size"), "conv_lab_pool_k", 2, disabled=fixed)
    stride = setting(c2, tr("conv_lab.stride"), "conv_lab_pool_s", 2, disabled=fixed)
    padding = setting(c3, tr("conv_lab.padding"), "conv_lab_pool_p", 0,
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
    # K, S, P, D unbounded in the table: the chain's check names an impossible value instead of ignoring it
    config = {headers["kind"]: st.column_config.SelectboxColumn(options=list(kinds.values()), required=True),
              **{name: st.column_config.NumberColumn(step=1) for name in ("K", "S", "P", "D")}}
    st.caption(tr("conv_lab.chain_custom_help"))
    table = st.data_editor(start, key="conv_lab_rf_table", num_rows="dynamic", column_config=config, hide_index=True)
    size = setting(st, tr("conv_lab.input_size"), "conv_lab_rf_size", 224)
    return size, tables.chain_from_table(table.to_dict("records"), lang)


def chain_source() -> tuple[int, list[calc.Layer]]:
    """(input size, layers) of a preset chain, a zoo model up to a stage, or a typed table."""
    source = st.radio(tr("conv_lab.rf_source"), RF_SOURCES, horizontal=True, key="conv_lab_rf_source",
                      format_func=labels("conv_lab.rf_source_", RF_SOURCES).__getitem__)
    if source == "preset":
        preset = st.selectbox(tr("conv_lab.rf_preset"), list(calc.CHAIN_PRESETS), key="conv_lab_rf_preset",
                              format_func=labels("calc.preset_", calc.CHAIN_PRESETS).__getitem__)
        size, layers = calc.CHAIN_PRESETS[preset]
        return size, list(layers)
    if source == "zoo":
        c1, c2 = st.columns(2)
        names = model_names()
        name = c1.selectbox(tr("conv_lab.rf_model"), names, index=names.index("resnet34"), key="conv_lab_rf_model")
        until = c2.selectbox(tr("conv_lab.rf_until"), _zoo_stages(name), key=f"conv_lab_rf_until_{name}")
        return _zoo_layers(name, until)
    return _custom_layers()


# --- deep links from the homework page ----------------------------------------------------------------

PRESET_PARAM = "preset"
_PRESET_TAB = "_conv_lab_preset_tab"


def _preset_state(preset: calc.ConvSettings | homework.StackPreset) -> tuple[str, dict[str, object]]:
    """(tab key, widget values) of a homework preset."""
    if isinstance(preset, homework.StackPreset):
        return "tab_receptive", {"conv_lab_vgg_k": preset.kernel, "conv_lab_vgg_n": preset.count,
                                 "conv_lab_vgg_c": preset.channels}
    mode = preset.padding if isinstance(preset.padding, str) else "number"
    values: dict[str, object] = {
        "conv_lab_h": preset.height, "conv_lab_w": preset.width, "conv_lab_cin": preset.in_channels,
        "conv_lab_cout": preset.out_channels, "conv_lab_square": True, "conv_lab_k": preset.kernel_h,
        "conv_lab_stride": preset.stride, "conv_lab_pad_mode": mode, "conv_lab_dilation": preset.dilation,
        "conv_lab_groups": preset.groups, "conv_lab_bias": preset.bias}
    if mode == "number":
        values["conv_lab_pad"] = preset.padding
    return "tab_calculator", values


def lab_preset() -> str | None:
    """Apply a homework deep link (``?preset=<name>``, see ``resnet_viz.lab.homework.PRESETS``) once, before the
    lab's widgets are drawn, and return the label of the tab to open (the last preset's, for the session)."""
    name = st.query_params.get(PRESET_PARAM)
    if name is not None:
        del st.query_params[PRESET_PARAM]  # applied once: the student's own changes are not overwritten
        preset = homework.PRESETS.get(name)
        if preset is not None:
            tab, values = _preset_state(preset)
            st.session_state.update(values)
            st.session_state[_PRESET_TAB] = tab
        elif name in homework.TAB_LINKS:
            st.session_state[_PRESET_TAB] = homework.TAB_LINKS[name]
    opened = st.session_state.get(_PRESET_TAB)
    return tr(f"conv_lab.{opened}") if opened else None
