"""Language state, message helpers and small widget-state helpers shared by the pages."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd
import streamlit as st

from resnet_viz.errors import VizError
from resnet_viz.i18n import DEFAULT_LANGUAGE, LANGUAGE_NAMES, LANGUAGES, class_label, normalize_language, plural, t

if TYPE_CHECKING:
    from streamlit.proto.WidgetStates_pb2 import WidgetState

T = TypeVar("T")

_STATE_KEY = "lang"  # plain session state (not a widget's), so it survives runs that draw no sidebar
_SWITCH_KEY = "lang_switch"


def _browser_language() -> str | None:
    try:
        return normalize_language(st.context.locale)
    except Exception:  # AppTest and old clients have no locale
        return None


def sync_language() -> str:
    """Decide the language once per run: ``?lang=`` first, then the switch, then the browser locale.

    The result is written back to ``?lang=`` so that the URL in the address bar can be shared.
    """
    from_url = normalize_language(st.query_params.get("lang"))
    if from_url and from_url != st.session_state.get(_STATE_KEY):
        st.session_state[_STATE_KEY] = from_url
    elif _STATE_KEY not in st.session_state:
        st.session_state[_STATE_KEY] = _browser_language() or DEFAULT_LANGUAGE
    lang = st.session_state[_STATE_KEY]
    if st.query_params.get("lang") != lang:
        st.query_params["lang"] = lang
    return lang


def language_switch() -> None:
    """The English / 中文 switch; it writes ``?lang=`` itself so the URL wins on the next run."""

    def _changed() -> None:
        st.session_state[_STATE_KEY] = st.session_state[_SWITCH_KEY]
        st.query_params["lang"] = st.session_state[_SWITCH_KEY]

    st.session_state[_SWITCH_KEY] = current_language()
    st.sidebar.radio("Language / 语言", LANGUAGES, format_func=LANGUAGE_NAMES.get, key=_SWITCH_KEY,
                     horizontal=True, on_change=_changed)


def current_language() -> str:
    lang = st.session_state.get(_STATE_KEY, DEFAULT_LANGUAGE)
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def class_name(name: str) -> str:
    """A class name in the current language (CIFAR-10's ten are translated; the model keeps its own names)."""
    return class_label(name, current_language())


def tr(key: str, /, **params: object) -> str:
    """``t`` in the current session's language."""
    return t(key, current_language(), **params)


def trn(key: str, count: int, /, **params: object) -> str:
    """``plural`` in the current session's language: "1 block", "2 blocks"."""
    return plural(key, count, current_language(), **params)


def show_error(exc: BaseException) -> None:
    """A clear message on the page for anything a user caused; never a traceback."""
    if isinstance(exc, VizError):
        st.error(exc.message(current_language()))
    else:
        st.error(tr("common.unexpected_error", kind=type(exc).__name__, detail=str(exc)[:300]))


def keep_valid(key: str, options: Sequence[object], default: object) -> None:
    """Set a widget's state to ``default`` when it holds none of ``options`` (first visit, or a value left by
    another model or page), before the widget is drawn; not when the browser holds one of ``options`` for it that this
    session has not seen yet (``held_by_browser``): the widget takes that one when it is drawn."""
    if st.session_state.get(key) not in options and not holds_one_of(held_by_browser(key), options):
        st.session_state[key] = default


def holds_one_of(held: WidgetState | None, options: Sequence[object]) -> bool:
    """Whether a value the browser holds names one of ``options`` (a label a page formats itself cannot be checked
    here: ``keep_labelled`` maps those)."""
    if held is None:
        return False
    kind = held.WhichOneof("value")
    texts = {str(option) for option in options}
    if kind == "string_value":
        return held.string_value in texts
    if kind in ("string_array_value", "double_array_value", "int_array_value"):
        values = list(getattr(held, kind).data)
        return bool(values) and all(str(v) in texts or v in options for v in values)
    if kind in ("bool_value", "int_value", "double_value"):
        return getattr(held, kind) in options
    return False


def held_by_browser(key: str) -> WidgetState | None:
    """What the browser holds for the widget ``key`` when this session has not drawn it yet: a tab whose replica
    went away and that reconnected to another one. Its new session learns the value only when the widget is drawn
    (Streamlit maps a key to its widget then, from ids that end with the key), too late for ``keep_valid``."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    from streamlit.runtime.state.common import user_key_from_element_id
    from streamlit.runtime.state.session_state import Serialized

    ctx = get_script_run_ctx()
    if ctx is None or key in st.session_state:
        return None
    incoming = ctx.session_state._state._new_widget_state.states  # Streamlit's record of the run's widget states
    return next((state.value for wid, state in incoming.items()
                 if user_key_from_element_id(wid) == key and isinstance(state, Serialized)), None)


def label_held_by_browser(key: str) -> str | None:
    """The label the browser shows for the select box ``key`` (``held_by_browser``)."""
    held = held_by_browser(key)
    return held.string_value if held is not None and held.WhichOneof("value") == "string_value" else None


def open_tab_key(key: str) -> str:
    """The session key that keeps the open tab of ``lazy_tabs(key, ...)`` by name."""
    return f"{key}_name"


def open_tab(key: str, name: str) -> None:
    """Open the tab ``name`` of ``lazy_tabs(key, ...)`` on its next draw (a deep link's tab)."""
    st.session_state[open_tab_key(key)] = name


def lazy_tabs(key: str, names: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Tabs of which only the open one runs: ``{name: container}`` of the open tab alone. A tab switch reruns the
    page. The open tab is kept by name (``open_tab_key(key)``), so a language switch, which changes every label,
    keeps it.

    Streamlit drops the state of a widget that a run does not draw, so a widget in a closed tab would lose what the
    student set: give every keyed widget in these tabs ``persist_state="page"``, and draw a data editor with
    ``kept_data_editor``."""
    remembered = open_tab_key(key)
    if st.session_state.get(remembered) not in names:
        st.session_state[remembered] = names[0]
    by_label = dict(zip(labels, names))
    st.session_state[key] = labels[list(names).index(st.session_state[remembered])]

    def switched() -> None:
        st.session_state[remembered] = by_label.get(st.session_state[key], names[0])

    tabs = st.tabs(list(labels), key=key, on_change=switched)
    return {name: tab for name, tab in zip(names, tabs) if tab.open}


def kept_data_editor(data: pd.DataFrame, *, key: str, **kwargs: Any) -> pd.DataFrame:
    """``st.data_editor(data, key=key, ...)`` whose edits outlive a run that does not draw it (a closed tab of
    ``lazy_tabs``). Streamlit keeps no data editor's state once it is not drawn (``persist_state`` does not apply to
    it, nor may session state set it), so the edited table is kept, and a table drawn again starts from it. New
    ``data`` (another language's labels) starts afresh, as the editor itself would."""
    drawn, kept, given = f"_{key}_drawn", f"_{key}_kept", f"_{key}_given"
    fingerprint = (tuple(data.columns), int(pd.util.hash_pandas_object(data, index=True).sum()))
    if st.session_state.get(given) != fingerprint:
        st.session_state[given] = fingerprint
        st.session_state.pop(kept, None)
        st.session_state.pop(drawn, None)
    if key not in st.session_state or drawn not in st.session_state:  # first drawn, or drawn again
        st.session_state[drawn] = st.session_state.get(kept, data)
    edited = st.data_editor(st.session_state[drawn], key=key, **kwargs)
    st.session_state[kept] = edited
    return edited


def follow_input(key: str, source: Hashable, value: object) -> None:
    """A widget whose value was computed from the input (an image's strongest unit, its most active channel):
    when ``source``, what it was computed from (the image and the model), differs from last time, the widget is set
    to ``value``, computed for the new input; for the same input the student's own choice stays. Call it before the
    widget is drawn, and draw the widget without a ``value``/``index`` of its own."""
    mark = f"_source_{key}"
    if st.session_state.get(mark) != source or key not in st.session_state:
        st.session_state[mark] = source
        st.session_state[key] = value


def keep_labelled(key: str, labels: Mapping[Any, str], default: object) -> None:
    """``keep_valid`` for a select box whose labels depend on data (an image's top prediction, a channel's
    statistics, the language): when its labels change, its value is sent to the browser again.

    The browser shows the label a select box's value had when it was last set; a widget with a key keeps its id
    whatever its labels, so without this it would go on showing an old image's label for the same value.
    """
    held = label_held_by_browser(key)
    if held is not None:  # a tab new to this server: its value, unless its label is gone
        st.session_state[key] = {v: k for k, v in labels.items()}.get(held, default)
    keep_valid(key, list(labels), default)
    shown = hashlib.blake2s("\x1f".join(map(str, labels.items())).encode(), digest_size=8).hexdigest()
    if key in st.session_state and st.session_state.get(f"_labels_{key}") != shown:
        st.session_state[f"_labels_{key}"] = shown
        st.session_state[key] = st.session_state[key]  # a value set this run is sent with its current label


def session_memo(name: str, key: Hashable, compute: Callable[[], T], *, entries: int) -> T:
    """``compute()`` kept in this session's state under ``name`` (the ``entries`` last used keys).

    For work that draws on the page while it runs (a progress bar): st.cache_data could not replay that on a hit.
    """
    memo = st.session_state.setdefault(name, OrderedDict())
    if key in memo:
        memo.move_to_end(key)
        return memo[key]
    value = compute()
    memo[key] = value
    while len(memo) > entries:
        memo.popitem(last=False)
    return value


def picture(png: bytes, *, caption: str | None = None, where=None) -> None:
    """Show PNG bytes at the column's width. ``output_format="PNG"`` makes st.image pass them through: on
    "auto" it decodes them and encodes a JPEG again on every rerun."""
    (where or st).image(png, caption=caption, width="stretch", output_format="PNG")


@st.cache_data(max_entries=8, show_spinner=False)
def _command_example(which: str, lang: str) -> tuple[str, str]:
    from resnet_viz.student.demo import example  # torch and the zoo: only for the pages that show the commands

    return example(which, lang)


def command_example(which: str) -> None:
    """One of the ``check`` / ``convert`` commands on the project's own example (``resnet_viz.student.demo``): the
    line a student types, and what it prints, computed once per process and language (Homework, Hand-written
    ResNet)."""
    with st.spinner(tr("common.command_running")):
        command, output = _command_example(which, current_language())
    st.code(command, language="bash", wrap_lines=True)
    st.caption(tr(f"common.command_prints_{which}"))
    st.code(output, language="text", wrap_lines=True)
# The app's one style block (app.py draws it on every page): what makes a page read on a phone's 390 pixels.
STYLE = """<style>
/* a page link's label wraps instead of being cut mid-word (the menu, Home's cards, the homework's links) */
[data-testid="stPageLink-NavLink"] span, [data-testid="stPageLink-NavLink"] p {
    white-space: normal !important; overflow: visible !important; }
/* a formula wider than its column scrolls inside its own box */
.katex-display { overflow-x: auto; overflow-y: hidden; }
/* Figure 3's columns keep a small laptop's width on a phone, and the chart scrolls sideways */
.st-key-architecture_fig { overflow-x: auto; }
.st-key-architecture_fig > div { min-width: 560px; }
/* a static table's cells keep a few characters' width (Table 6 on a phone: a word a line, not a character); the
   table scrolls sideways instead */
[data-testid="stTable"] th, [data-testid="stTable"] td { min-width: 4.5em; }
/* on a phone, a tap shows Plotly's toolbar over the chart's title and legend: there it stays hidden */
@media (max-width: 640px) { .modebar-container { display: none !important; } }
</style>"""


def page_style() -> None:
    st.html(STYLE)
