"""The architecture page's caches (meta-device summaries per model, input size and shortcut; Figure 3's columns;
Table 1, Table 3 and Figure 5) and what a click on Figure 3 selects.

``summarize`` is looked up on ``resnet_viz.inspect.architecture`` at each call, so a test can replace it there.
"""

from __future__ import annotations

import streamlit as st

from resnet_viz.i18n import LANGUAGES
from resnet_viz.inspect import architecture
from resnet_viz.inspect.architecture import Summary, Table1Column
from resnet_viz.models.registry import get_spec
from resnet_viz.render.plots.figure3 import ColumnLayout, column_layout, selected_box

DEFAULT_COLUMNS = ("vgg19", "plain34", "resnet34")
DEFAULT_SHORTCUT = "A"  # the paper's Figure 3 and Table 2: ResNet-34 with option A, as many parameters as plain-34
DETAIL_KEY = "architecture_detail"  # the select box of the layer to detail
TABS = "architecture_tab"  # the page's tabs (``lazy_tabs``): only the open one runs
TAB_NAMES = ("figure3", "table1", "options", "blocks", "layers")  # in the order shown; labels: architecture.tab_<name>
_LAST_CLICK_KEY = "_architecture_last_click"  # the box a click selected last: the same event is not applied twice


@st.cache_data(max_entries=96, show_spinner=False)
def cached_summary(name: str, input_size: int | None, shortcut: str | None, variant: str = "") -> Summary:
    """One entry per (model, input size, shortcut): changing one column never recomputes the others."""
    return architecture.summarize(name, input_size=input_size, shortcut=shortcut, variant=variant)


@st.cache_data(max_entries=48, show_spinner=False)
def cached_layout(name: str, shortcut: str | None, collapse: bool, language: str) -> ColumnLayout:
    return column_layout(cached_summary(name, None, shortcut), collapse=collapse, lang=language)


@st.cache_data(max_entries=48, show_spinner=False)
def cached_changes(name: str, shortcut: str | None) -> list[dict]:
    """Where a Figure 3 column's feature map changes size or width (from the cached summary)."""
    return architecture.dimension_changes(cached_summary(name, None, shortcut))


@st.cache_data(max_entries=4, show_spinner=False)
def cached_table1() -> list[Table1Column]:
    return architecture.table1()


@st.cache_data(max_entries=16, show_spinner=False)
def cached_options(name: str) -> list[dict]:
    return architecture.shortcut_options(name)


@st.cache_data(max_entries=16, show_spinner=False)
def cached_blocks(width: int, size: int) -> tuple[Summary, Summary]:
    return architecture.block_pair(width, size)


def default_shortcut(name: str) -> str | None:
    return DEFAULT_SHORTCUT if get_spec(name).residual else None


def warm_up() -> None:
    """The page's first view, the same for every student (ui/warmup.py runs it once per server): Figure 3's three
    default columns in both languages and Table 1."""
    for name in DEFAULT_COLUMNS:
        for language in LANGUAGES:
            cached_layout(name, default_shortcut(name), False, language)
    cached_table1()


def follow_click(columns: list[ColumnLayout], event, options: list[str]) -> None:
    """Before the detail select box is drawn: a click on a Figure 3 box (``event``, the chart's selection) makes its
    "column:row" the box's value, once per click; with no box selected, the same box clicked again selects it
    again."""
    try:
        points = list(event.selection.points) if event else []
    except AttributeError:
        points = list((event or {}).get("selection", {}).get("points", []))
    if not points:
        st.session_state.pop(_LAST_CLICK_KEY, None)
        return
    hit = selected_box(columns, dict(points[0]))
    click = f"{hit[0]}:{hit[1]}" if hit else None
    if click and click in options and click != st.session_state.get(_LAST_CLICK_KEY):
        st.session_state[_LAST_CLICK_KEY] = click
        st.session_state[DETAIL_KEY] = click
