"""Architecture explorer: the paper's Figure 3 from the real modules, Table 1, Table 3's shortcut
options and Figure 5's blocks. Every number comes from resnet_viz.inspect.architecture (meta-device forward passes)."""

from __future__ import annotations

from ui.architecture import (
    DEFAULT_COLUMNS,
    DEFAULT_SHORTCUT,
    DETAIL_KEY,
    TAB_NAMES,
    TABS,
    cached_blocks,
    cached_changes,
    cached_layout,
    cached_options,
    cached_summary,
    cached_table1,
    follow_click,
)
from ui.common import current_language, keep_valid, lazy_tabs, show_error, tr

from functools import partial

import streamlit as st

from resnet_viz.errors import VizError
from resnet_viz.i18n import t
from resnet_viz.inspect.architecture import Summary
from resnet_viz.models.registry import MODELS, get_spec
from resnet_viz.render import tables
from resnet_viz.render.plots.figure3 import ColumnLayout, figure3, spec_title

NAMES = list(MODELS)
RESIDUAL = [n for n, s in MODELS.items() if s.residual]
SHORTCUTS = ["default", "A", "B", "C"]


# Format functions take the run's language: AppTest may call them after the run.
def model_name(name: str, lang: str) -> str:
    return t("architecture.pick_format", lang, title=spec_title(name, lang), name=name)


def option_name(option: str, lang: str) -> str:
    return t("architecture.shortcut_default" if option == "default" else f"architecture.option_{option}", lang)


def column_shortcut(name: str) -> str | None:
    choice = st.session_state.get("architecture_shortcut", DEFAULT_SHORTCUT)
    return None if choice == "default" or not get_spec(name).residual else choice


def _detail_choice(columns: list[ColumnLayout], event) -> str:
    """The "column:row" of the layer to detail: a click on a box selects it; the select box offers the same
    choice by keyboard."""
    options = [f"{c}:{b.row}" for c, column in enumerate(columns) for b in column.boxes]
    labels = {f"{c}:{b.row}": tr("architecture.detail_option", column=column.title, label=b.label,
                                 name=column.summary.rows[b.row].name)
              for c, column in enumerate(columns) for b in column.boxes}
    follow_click(columns, event, options)
    keep_valid(DETAIL_KEY, options, options[-1])
    return str(st.selectbox(tr("architecture.detail_pick"), options, key=DETAIL_KEY, persist_state="page",
                            format_func=labels.__getitem__, help=tr("architecture.detail_pick_help")))


def _changes_tables(columns: list[ColumnLayout], names: list[str], lang: str) -> None:
    with st.expander(tr("architecture.changes_title"), expanded=False):
        st.markdown(tr("architecture.changes_intro"))
        for column, name in zip(columns, names):
            changes = cached_changes(name, column_shortcut(name))
            st.markdown(f"**{column.title}**")
            st.table(tables.changes_table(changes, lang))


def figure3_tab(lang: str) -> None:
    names = []
    for i, col in enumerate(st.columns(3)):
        key = f"architecture_col_{i}"
        keep_valid(key, NAMES, DEFAULT_COLUMNS[i])
        names.append(col.selectbox(tr("architecture.column_pick", n=i + 1), NAMES, key=key, persist_state="page",
                                   format_func=partial(model_name, lang=lang)))
    opt_col, collapse_col = st.columns([2, 1])
    keep_valid("architecture_shortcut", SHORTCUTS, DEFAULT_SHORTCUT)
    opt_col.radio(tr("architecture.shortcut_pick"), SHORTCUTS, key="architecture_shortcut", persist_state="page",
                  horizontal=True, format_func=partial(option_name, lang=lang), help=tr("architecture.shortcut_help"))
    collapse = collapse_col.toggle(tr("architecture.collapse"), key="architecture_collapse", persist_state="page",
                                   help=tr("architecture.collapse_help"))
    try:
        columns = [cached_layout(n, column_shortcut(n), collapse, lang) for n in names]
    except VizError as exc:
        show_error(exc)
        return
    event = st.plotly_chart(figure3(columns, lang=lang), key="architecture_fig", on_select="rerun",
                            selection_mode="points", width="stretch", config={"displayModeBar": False})
    st.caption(tr("architecture.figure_caption"))
    c, r = (int(v) for v in _detail_choice(columns, event).split(":"))
    st.subheader(tr("architecture.detail_title", column=columns[c].title, name=columns[c].summary.rows[r].name))
    st.table(tables.layer_detail_table(columns[c].summary, r, lang))
    _changes_tables(columns, names, lang)


def table1_tab(lang: str) -> None:
    st.markdown(tr("architecture.table1_intro"))
    cols = cached_table1()
    st.table(tables.table1_table(cols, lang))
    by_depth = {c.depth: c for c in cols}
    if all(d in by_depth for d in (50, 101, 152)):
        st.info(tr("architecture.table1_v15", **{f"m{d}": f"{by_depth[d].macs / 1e9:.2f}" for d in (50, 101, 152)},
                   **{f"v{d}": f"{by_depth[d].macs_v1 / 1e9:.2f}" for d in (50, 101, 152)}))


def options_tab(lang: str) -> None:
    """Table 3: the shortcut options A, B and C of one residual net."""
    st.markdown(tr("architecture.options_intro"))
    keep_valid("architecture_opt_model", RESIDUAL, "resnet34")
    opt_model = st.selectbox(tr("architecture.options_model"), RESIDUAL, key="architecture_opt_model",
                             persist_state="page", format_func=partial(model_name, lang=lang))
    try:
        rows = cached_options(opt_model)
    except VizError as exc:
        show_error(exc)
        return
    st.table(tables.options_table(rows, lang))
    st.caption(tr("architecture.options_paper"))


def blocks_tab(lang: str) -> None:
    """Figure 5: a basic block next to a bottleneck block of the same width."""
    st.markdown(tr("architecture.blocks_intro"))
    w_col, s_col = st.columns(2)
    width = int(w_col.number_input(tr("architecture.blocks_width"), min_value=1, max_value=2048, value=64, step=16,
                                   key="architecture_block_width", persist_state="page"))
    size = int(s_col.number_input(tr("architecture.blocks_size"), min_value=1, max_value=512, value=56, step=1,
                                  key="architecture_block_size", persist_state="page"))
    try:
        blocks = cached_blocks(width, size)
    except VizError as exc:
        show_error(exc)
        return
    titles = ("architecture.blocks_basic", "architecture.blocks_bottleneck")
    for col, s, title_key in zip(st.columns(2), blocks, titles):
        with col:
            st.markdown(f"**{tr(title_key, w=width, w4=4 * width)}**")
            st.table(tables.block_convs_table(s, lang))
            st.metric(tr("architecture.blocks_params"), f"{s.params:,}")
            st.metric(tr("architecture.blocks_macs"), f"{s.macs / 1e6:.1f} M")
    st.caption(tr("architecture.blocks_caption"))


def _layer_tables(s: Summary, lang: str) -> None:
    st.markdown(tr("architecture.layers_totals", params=f"{s.params:,}", gmacs=f"{s.macs / 1e9:.3f}",
                   layers=s.weight_layers, size=s.input_size))
    st.dataframe(tables.layers_table(s, lang), hide_index=True, height=360, width="stretch")
    st.markdown(f"**{tr('architecture.stages_title')}**")
    st.table(tables.stages_table(s, lang))


def layers_tab(lang: str) -> None:
    """Every layer of one model, at any input size and shortcut option."""
    st.markdown(tr("architecture.layers_intro"))
    m_col, size_col, sc_col = st.columns(3)
    keep_valid("architecture_tbl_model", NAMES, "resnet34")
    tbl_model = m_col.selectbox(tr("architecture.layers_model"), NAMES, key="architecture_tbl_model",
                                persist_state="page", format_func=partial(model_name, lang=lang))
    spec = get_spec(tbl_model)
    tbl_size = size_col.number_input(tr("architecture.layers_size"), min_value=1, max_value=1024, value=None, step=1,
                                     key="architecture_tbl_size", persist_state="page",
                                     placeholder=tr("architecture.layers_size_default", size=spec.input_size))
    tbl_shortcut = sc_col.selectbox(tr("architecture.shortcut_pick"), SHORTCUTS, key="architecture_tbl_shortcut",
                                    persist_state="page", disabled=not spec.residual,
                                    format_func=partial(option_name, lang=lang))
    try:
        s = cached_summary(tbl_model, int(tbl_size) if tbl_size else None,
                           None if tbl_shortcut == "default" or not spec.residual else tbl_shortcut)
    except VizError as exc:
        show_error(exc)
        return
    _layer_tables(s, lang)


def main() -> None:
    lang = current_language()
    st.title(tr("architecture.title"))
    st.markdown(tr("architecture.intro"))
    tabs = {"figure3": figure3_tab, "table1": table1_tab, "options": options_tab, "blocks": blocks_tab,
            "layers": layers_tab}
    for name, container in lazy_tabs(TABS, TAB_NAMES, [tr(f"architecture.tab_{n}") for n in TAB_NAMES]).items():
        with container:
            tabs[name](lang)  # only the open tab runs: a first visit computes Figure 3 alone


main()
