"""Language state, message helpers and small widget-state helpers shared by the pages."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar

import streamlit as st

from resnet_viz.errors import VizError
from resnet_viz.i18n import DEFAULT_LANGUAGE, LANGUAGE_NAMES, LANGUAGES, class_label, normalize_language, t

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


def show_error(exc: BaseException) -> None:
    """A clear message on the page for anything a user caused; never a traceback."""
    if isinstance(exc, VizError):
        st.error(exc.message(current_language()))
    else:
        st.error(tr("common.unexpected_error", kind=type(exc).__name__, detail=str(exc)[:300]))


def keep_valid(key: str, options: Sequence[object], default: object) -> None:
    """Set a widget's state to ``default`` when it holds none of ``options`` (first visit, or a value left by
    another model or page), before the widget is drawn."""
    if st.session_state.get(key) not in options:
        st.session_state[key] = default


def lazy_tabs(key: str, names: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Tabs of which only the open one runs: ``{name: container}`` of the open tab alone. A tab switch reruns the
    page. The open tab is kept by name (``key``), so a language switch, which changes every label, keeps it."""
    remembered = f"{key}_name"
    if st.session_state.get(remembered) not in names:
        st.session_state[remembered] = names[0]
    by_label = dict(zip(labels, names))
    st.session_state[key] = labels[list(names).index(st.session_state[remembered])]

    def switched() -> None:
        st.session_state[remembered] = by_label.get(st.session_state[key], names[0])

    tabs = st.tabs(list(labels), key=key, on_change=switched)
    return {name: tab for name, tab in zip(names, tabs) if tab.open}


def keep_labelled(key: str, labels: Mapping[Any, str], default: object) -> None:
    """``keep_valid`` for a select box whose labels depend on data (an image's top prediction, a channel's
    statistics, the language): when its labels change, its value is sent to the browser again.

    The browser shows the label a select box's value had when it was last set; a widget with a key keeps its id
    whatever its labels, so without this it would go on showing an old image's label for the same value.
    """
    keep_valid(key, list(labels), default)
    shown = hashlib.blake2s("\x1f".join(map(str, labels.items())).encode(), digest_size=8).hexdigest()
    if st.session_state.get(f"_labels_{key}") != shown:
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
