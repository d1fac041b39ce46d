"""The conv & pooling lab's inputs, caches and lesson tabs.

Inputs: whole numbers, grids to pick, draw at random or type, the settings of a conv and of a pool, the layer chain
of the receptive-field tab (preset, zoo model or typed table), and the homework's deep links. Numbers are checked
where they are used (``resnet_viz.conv_lab`` raises InputError); ``checked`` shows such an error on the page instead
of a traceback. The lab's settings are therefore typed into ``setting`` inputs, which the widget does not bound: a
bounded number input silently keeps its last valid value when a student types 0 or a negative number, where the
lab's message says what is wrong.

Lesson tabs: pooling by hand (the homework, checked cell by cell), why pool, convolution over several channels, and
the one-pixel shift. Every number comes from ``resnet_viz.conv_lab``; this module only draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from resnet_viz.conv_lab import calc, handwritten, homework, multichannel, parse, pool_lesson, pooling, shift, sliding
from resnet_viz.conv_lab.parse import format_number as fmt
from resnet_viz.conv_lab.sliding import KERNELS
from resnet_viz.errors import InputError
from resnet_viz.images import load_sample, sample_images
from resnet_viz.models.registry import model_names
from resnet_viz.render import tables
from resnet_viz.render.plots import conv_lab as plots
from ui.common import current_language, kept_data_editor, open_tab, show_error, tr

RF_SOURCES = ("preset", "zoo", "custom")
POOL_INPUTS = {name: sliding.INPUTS[name] for name in ("notes_example", "square")}


def labels(prefix: str, options) -> dict[str, str]:
    """Option -> label (key ``<prefix><option>``), translated during the script run: pass ``.__getitem__`` as a
    format_func, so the widget keeps the session's language."""
    return {o: tr(f"{prefix}{o}") for o in options}


def whole(where, label: str, key: str, value: int, maximum: int, minimum: int = 1, **kwargs) -> int:
    """A number input for a whole number (step 1)."""
    return where.number_input(label, min_value=minimum, max_value=maximum, value=value, step=1, key=key,
                              persist_state="page", **kwargs)


def setting(where, label: str, key: str, value: int, **kwargs) -> int:
    """A whole number (step 1) that the widget does not bound: 0, negative and huge values reach
    ``resnet_viz.conv_lab``, whose InputError names the field and the allowed range."""
    return where.number_input(label, value=value, step=1, key=key, persist_state="page", **kwargs)


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
    return kept_data_editor(frame, key=f"{prefix}_grid_{rows}x{cols}", hide_index=True)


def grid_source(prefix: str, presets: dict[str, tuple], label_key: str, default: str) -> np.ndarray | pd.DataFrame:
    """Preset / random / typed grid (an editable table). Returns the grid (possibly with empty cells)."""
    options = list(presets) + ["random", "custom"]
    choice = st.selectbox(tr(label_key), options, index=options.index(default), key=f"{prefix}_source",
                          persist_state="page",
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
    if c1.checkbox(tr("conv_lab.square_kernel"), value=True, key="conv_lab_square", persist_state="page"):
        k_h = k_w = setting(c1, "K", "conv_lab_k", 7, help=tr("conv_lab.help_k"))
    else:
        k_h = setting(c1, "K_H", "conv_lab_kh", 7, help=tr("conv_lab.help_k"))
        k_w = setting(c1, "K_W", "conv_lab_kw", 7, help=tr("conv_lab.help_k"))
    stride = setting(c2, tr("conv_lab.stride"), "conv_lab_stride", 2, help=tr("conv_lab.help_stride"))
    mode = c3.radio(tr("conv_lab.padding_mode"), calc.PADDING_MODES, key="conv_lab_pad_mode", persist_state="page",
                    horizontal=True,
                    format_func=labels("conv_lab.padding_", calc.PADDING_MODES).get,
                    help=tr("conv_lab.help_padding"))
    padding: int | str = mode
    if mode == "number":
        padding = setting(c3, tr("conv_lab.padding"), "conv_lab_pad", 3)
    dilation = setting(c4, tr("conv_lab.dilation"), "conv_lab_dilation", 1,
                     help=tr("conv_lab.help_dilation"))
    groups = setting(c4, tr("conv_lab.groups"), "conv_lab_groups", 1, help=tr("conv_lab.help_groups"))
    bias = c2.checkbox(tr("conv_lab.bias"), value=False, key="conv_lab_bias", persist_state="page",
                       help=tr("conv_lab.help_bias"))
    return calc.ConvSettings(height, width, c_in, c_out, k_h, k_w, stride, padding, dilation, groups, bias)


@st.cache_data(max_entries=64, show_spinner=False)
def torch_conv_shape(settings: calc.ConvSettings) -> tuple[tuple[int, ...], int]:
    """The output shape and parameter count torch itself gives (the calculator's check)."""
    return calc.torch_conv_shape(settings)


# --- the sliding window -----------------------------------------------------------------------------

def kernel_source() -> np.ndarray | pd.DataFrame:
    options = list(sliding.KERNELS) + ["custom"]
    choice = st.selectbox(tr("conv_lab.kernel"), options, index=options.index("sobel_x"), key="conv_lab_kernel",
                          persist_state="page",
                          format_func=labels("conv_lab.kernel_", options).__getitem__)
    if choice != "custom":
        st.caption(tr(f"conv_lab.kernel_{choice}_help"))
        return np.asarray(sliding.KERNELS[choice])
    st.caption(tr("conv_lab.custom_kernel_help", maximum=sliding.MAX_DEMO_KERNEL))
    return editable_grid("conv_lab_kernel", np.asarray(sliding.KERNELS["sobel_x"]), sliding.MAX_DEMO_KERNEL)


@st.cache_data(max_entries=32, show_spinner=False)
def filtered(image_id: str, _image, kernel: tuple[tuple[float, ...], ...], stride: int,
             dilation: int) -> sliding.FilteredImage:
    """A picture filtered with the window's kernel, cached by the picture's id."""
    return sliding.filter_image(_image, kernel, stride=stride, dilation=dilation)


# --- pooling ----------------------------------------------------------------------------------------

def pool_settings() -> tuple[str, int, int, int, bool, bool]:
    """(kind, kernel, stride, padding, ceil mode, count_include_pad)."""
    kind = st.radio(tr("conv_lab.pool_kind"), pooling.POOL_KINDS, key="conv_lab_pool_kind", persist_state="page",
                    horizontal=True, format_func=labels("conv_lab.pool_", pooling.POOL_KINDS).__getitem__)
    fixed = kind == "global_avg"  # global average pooling has no window to set
    c1, c2, c3 = st.columns(3)
    kernel = setting(c1, tr("conv_lab.kernel_size"), "conv_lab_pool_k", 2, disabled=fixed)
    stride = setting(c2, tr("conv_lab.stride"), "conv_lab_pool_s", 2, disabled=fixed)
    padding = setting(c3, tr("conv_lab.padding"), "conv_lab_pool_p", 0,
                    disabled=fixed, help=tr("conv_lab.pool_padding_help"))
    ceil_mode = st.checkbox(tr("conv_lab.ceil_mode"), key="conv_lab_pool_ceil", persist_state="page", disabled=fixed,
                            help=tr("conv_lab.ceil_mode_help"))
    include_pad = st.checkbox(tr("conv_lab.count_include_pad"), value=True, key="conv_lab_pool_incl",
                              persist_state="page",
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
    table = kept_data_editor(start, key="conv_lab_rf_table", num_rows="dynamic", column_config=config, hide_index=True)
    size = setting(st, tr("conv_lab.input_size"), "conv_lab_rf_size", 224)
    return size, tables.chain_from_table(table.to_dict("records"), lang)


def chain_source() -> tuple[int, list[calc.Layer]]:
    """(input size, layers) of a preset chain, a zoo model up to a stage, or a typed table."""
    source = st.radio(tr("conv_lab.rf_source"), RF_SOURCES, horizontal=True, key="conv_lab_rf_source",
                      persist_state="page",
                      format_func=labels("conv_lab.rf_source_", RF_SOURCES).__getitem__)
    if source == "preset":
        preset = st.selectbox(tr("conv_lab.rf_preset"), list(calc.CHAIN_PRESETS), key="conv_lab_rf_preset",
                              persist_state="page",
                              format_func=labels("calc.preset_", calc.CHAIN_PRESETS).__getitem__)
        size, layers = calc.CHAIN_PRESETS[preset]
        return size, list(layers)
    if source == "zoo":
        c1, c2 = st.columns(2)
        names = model_names()
        name = c1.selectbox(tr("conv_lab.rf_model"), names, index=names.index("resnet34"), key="conv_lab_rf_model",
                            persist_state="page")
        until = c2.selectbox(tr("conv_lab.rf_until"), _zoo_stages(name), key=f"conv_lab_rf_until_{name}",
                             persist_state="page")
        return _zoo_layers(name, until)
    return _custom_layers()


# --- deep links from the homework page ----------------------------------------------------------------

PRESET_PARAM = "preset"
TABS = "conv_lab_tab"  # the lab's tabs (``lazy_tabs``): only the open one runs
TAB_NAMES = ("tab_calculator", "tab_sliding", "tab_multichannel", "tab_pooling", "tab_exercise", "tab_shift",
             "tab_receptive", "tab_why")  # in the order shown; each is also its label's catalogue key (conv_lab.<name>)
_FROM_HOMEWORK = "_conv_lab_from_homework"  # the homework link applied on this run


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


def homework_note() -> str | None:
    """On the run a homework link opened the lab: which question it came from and what was filled in (said once:
    after the student's first change the numbers are theirs)."""
    name = st.session_state.pop(_FROM_HOMEWORK, None)
    if name is None:
        return None
    question = tr(f"homework.{homework.LINK_QUESTIONS[name]}_title")
    return tr("conv_lab.from_homework_tab" if name in homework.TAB_LINKS else "conv_lab.from_homework",
              question=question)


def lab_preset() -> None:
    """Apply a homework deep link (``?preset=<name>``, see ``resnet_viz.conv_lab.homework.PRESETS``) once, before the
    lab's widgets are drawn: its values, and its tab opened."""
    name = st.query_params.get(PRESET_PARAM)
    if name is not None:
        del st.query_params[PRESET_PARAM]  # applied once: the student's own changes are not overwritten
        preset = homework.PRESETS.get(name)
        if preset is not None:
            tab, values = _preset_state(preset)
            st.session_state.update(values)
            open_tab(TABS, tab)
        elif name in homework.TAB_LINKS:
            open_tab(TABS, homework.TAB_LINKS[name])
        if name in homework.LINK_QUESTIONS:
            st.session_state[_FROM_HOMEWORK] = name


# --- pooling by hand --------------------------------------------------------------------------------

EXERCISE_KINDS = ("max", "avg")


def _answer_table(key: str, rows: int, cols: int) -> pd.DataFrame:
    """Empty text cells (a number column would show "None" in each): the checker reads what was typed."""
    empty = pd.DataFrame([[""] * cols for _ in range(rows)], columns=[str(i + 1) for i in range(cols)])
    config = {c: st.column_config.TextColumn(max_chars=12) for c in empty.columns}
    return kept_data_editor(empty, key=key, hide_index=True, column_config=config)


def pool_exercise() -> None:
    st.markdown(tr("conv_lab.ex_intro"))
    c1, c2, c3 = st.columns(3)
    size = c1.selectbox(tr("conv_lab.ex_size"), pool_lesson.EXERCISE_SIZES, key="conv_lab_ex_size",
                        persist_state="page",
                        format_func=lambda n: f"{n} x {n}")
    seed = c2.number_input(tr("conv_lab.ex_seed"), 0, 10**6, 1, 1, key="conv_lab_ex_seed", persist_state="page")
    kind = c3.radio(tr("conv_lab.ex_kind"), EXERCISE_KINDS, key="conv_lab_ex_kind", persist_state="page",
                    horizontal=True,
                    format_func=labels("conv_lab.pool_", EXERCISE_KINDS).__getitem__)
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
    if st.toggle(tr("conv_lab.ex_show_answer"), key="conv_lab_ex_show", persist_state="page"):
        st.plotly_chart(plots.matrix_figure(expected, title="", colorscale="Greens", height=240),
                        key="conv_lab_fig_ex_answer")
        st.caption(tr("conv_lab.ex_answer_caption", kind=tr(f"conv_lab.pool_{kind}")))
    with st.expander(tr("conv_lab.ex_code")):
        st.caption(tr("conv_lab.ex_code_intro"))
        st.code(handwritten.source("pooling", current_language()), language="python")


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
        (tr("conv_lab.why_pool_compress"), tr("conv_lab.why_pool_compress_without"),
         tr("conv_lab.why_pool_compress_with", k=w.kernel)),
        (tr("conv_lab.why_pool_rf"), tr("conv_lab.why_pool_rf_value", rf=w.rf_without),
         tr("conv_lab.why_pool_rf_value", rf=w.rf_with)),
    ]
    columns = [tr("conv_lab.why_pool_reason"), tr("conv_lab.why_pool_without"), tr("conv_lab.why_pool_with")]
    st.table(pd.DataFrame(rows, columns=columns).style.hide(axis="index"))  # sentences wrap; a data frame cut them
    st.caption(tr("conv_lab.why_pool_paper"))


# --- several channels -------------------------------------------------------------------------------

MC_SOURCES = ("random", "image")
MC_FILTERS = (*multichannel.FILTERS, "random")


def _mc_input() -> np.ndarray:
    source_name = st.radio(tr("conv_lab.mc_source"), MC_SOURCES, key="conv_lab_mc_source", persist_state="page",
                           horizontal=True,
                           format_func=labels("conv_lab.mc_source_", MC_SOURCES).__getitem__)
    c1, c2, c3 = st.columns(3)
    if source_name == "random":
        seed = c1.number_input(tr("conv_lab.seed"), 0, 10**6, 0, 1, key="conv_lab_mc_seed", persist_state="page")
        return multichannel.random_rgb(5, int(seed))
    samples = sample_images("cifar10")
    name = c1.selectbox(tr("conv_lab.mc_sample"), list(samples), key="conv_lab_mc_sample", persist_state="page")
    top = c2.number_input(tr("conv_lab.mc_top"), 0, 27, 12, 1, key="conv_lab_mc_top", persist_state="page")
    left = c3.number_input(tr("conv_lab.mc_left"), 0, 27, 12, 1, key="conv_lab_mc_left", persist_state="page")
    return multichannel.image_crop(np.asarray(load_sample(samples[name]).convert("RGB")), 5, int(top), int(left))


def _mc_settings() -> tuple[np.ndarray, float, int, int]:
    c1, c2, c3, c4 = st.columns([3, 1, 1, 1])
    name = c1.selectbox(tr("conv_lab.mc_filter"), MC_FILTERS, key="conv_lab_mc_filter", persist_state="page",
                        format_func=labels("conv_lab.mc_filter_", MC_FILTERS).__getitem__)
    weight = multichannel.random_filter(3) if name == "random" else np.array(multichannel.FILTERS[name], dtype=float)
    bias = c2.number_input(tr("conv_lab.mc_bias"), -100.0, 100.0, 0.0, 0.5, key="conv_lab_mc_bias",
                           persist_state="page")
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
                         persist_state="page",
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
    st.caption(tr("conv_lab.mc_notation"))
    st.markdown(tr("conv_lab.mc_lines"))
    st.code("\n".join(lines), language=None, wrap_lines=True)  # each line ends with its sum: never cut off
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
    st.caption(tr("conv_lab.shift_notes"))  # the notes say "invariant": said kindly, with the exact word
    st.caption(tr("conv_lab.shift_border"))
    left, right = st.columns(2)
    with left:
        x = grid_source("conv_lab_shift_in", shift.INPUTS, "conv_lab.input", "blob")
    with right:
        names = list(KERNELS)
        kernel = right.selectbox(tr("conv_lab.shift_kernel"), names, index=names.index("sobel_x"),
                                 key="conv_lab_shift_kernel", persist_state="page",
                                 format_func=labels("conv_lab.kernel_", names).__getitem__)
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
