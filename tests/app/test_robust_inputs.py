"""Impossible inputs (issue 11): every number field and slider of every page at its extremes.

Values a user can type (0, negative, 10^9, a fraction where integers are meant) are sent to the page as
the browser would send them; the page must never raise, and each field must end inside its own bounds
(Streamlit keeps the last valid value) or the page must say what is wrong. Then each field alone at its
minimum and at its maximum (valid but extreme: the page must compute, or explain, without an exception),
and all of them at once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import app_page, assert_no_exception
from ui import architecture, conv_lab
from ui.common import open_tab_key

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("*.py") if not p.name.startswith("_"))
# Pages whose tabs run only when open (ui.common.lazy_tabs): each tab is visited as a page of its own.
LAZY_TABS = {"pages/architecture.py": (open_tab_key(architecture.TABS), architecture.TAB_NAMES),
             "pages/conv_lab.py": (open_tab_key(conv_lab.TABS), conv_lab.TAB_NAMES)}
VIEWS = [(page, tab) for page in PAGES for tab in (LAZY_TABS[page][1] if page in LAZY_TABS else (None,))]
IMPOSSIBLE = (0, -1, -10**9, 10**9, 2.5, 1e300)
# A floor on what the test must find, so a change in how fields are discovered cannot empty it silently.
AT_LEAST = {**{("pages/conv_lab.py", f"tab_{tab}"): n for tab, n in (
                ("calculator", 9), ("sliding", 4), ("multichannel", 5), ("pooling", 4), ("exercise", 1), ("shift", 2),
                ("receptive", 3), ("why", 6))},
            ("pages/architecture.py", "blocks"): 2,
            ("pages/architecture.py", "layers"): 1, ("pages/attribution.py", None): 1,
            ("pages/feature_maps.py", None): 2}


def _fields(at) -> list:
    """The page's number inputs and plain sliders that have a key (a page's own widgets all do)."""
    widgets = list(at.number_input) + list(at.slider)
    return [w for w in widgets if getattr(w, "key", None)]


def _get(at, widget):
    kind = at.number_input if widget.type == "number_input" else at.slider
    try:
        return kind(key=widget.key)
    except KeyError:
        return None  # the field is gone after the change (e.g. a mode switch): nothing to check


def _in_bounds(widget) -> bool:
    value = widget.value
    values = value if isinstance(value, (tuple, list)) else [value]
    lo = widget.min if widget.min is not None else float("-inf")
    hi = widget.max if widget.max is not None else float("inf")
    return all(v is None or lo <= v <= hi for v in values)


def _explained(at) -> bool:
    return bool(at.error or at.warning)


def _set(widget, value):
    if widget.type == "slider" and isinstance(widget.value, (tuple, list)):
        return widget.set_value((value, value))
    return widget.set_value(value)


def _check(at, what: str) -> None:
    assert_no_exception(at)
    for w in _fields(at):
        assert _in_bounds(w) or _explained(at), (what, w.key, w.value, w.min, w.max)


@pytest.mark.slow
@pytest.mark.parametrize("page, tab", VIEWS)
def test_every_number_field_at_its_extremes(page, tab):
    at = app_page(page, lang="en", **({LAZY_TABS[page][0]: tab} if tab else {}))
    assert_no_exception(at)
    fields = _fields(at)
    defaults = {w.key: w.value for w in fields}
    assert len(fields) >= AT_LEAST.get((page, tab), 0), [w.key for w in fields]
    if not fields:
        pytest.skip(f"{page} {tab or ''} has no number fields or sliders")

    # impossible values, all fields at once (one run each: the pages are re-run as a browser would)
    for value in IMPOSSIBLE:
        for w in _fields(at):
            if w.key in defaults:
                _set(w, value)
        at.run()
        _check(at, f"all fields = {value!r}")

    # every field alone at its minimum, then its maximum, the others at their defaults
    for key in defaults:
        for bound in ("min", "max"):
            widget = next((w for w in _fields(at) if w.key == key), None)
            if widget is None:
                continue
            for w in _fields(at):
                if w.key in defaults and w.key != key and w.value != defaults[w.key]:
                    _set(w, defaults[w.key])
            extreme = getattr(widget, bound)
            if extreme is None:
                continue
            _set(widget, extreme)
            at.run()
            _check(at, f"{key} = {bound} {extreme}")
            current = _get(at, widget)
            # a field in a form keeps its value until the form is submitted (the training lab's own tests submit)
            assert current is None or current.value == extreme or isinstance(current.value, (tuple, list)) \
                or _explained(at) or widget.form_id, (key, bound, current.value)

    # everything at its maximum at once (the heaviest valid request), then at its minimum
    for bound in ("max", "min"):
        for w in _fields(at):
            if getattr(w, bound) is not None:
                _set(w, getattr(w, bound))
        at.run()
        _check(at, f"all fields at {bound}")


@pytest.mark.parametrize("page", [p for p in PAGES if p.endswith(("gradient_flow.py", "figure7.py"))])
def test_select_sliders_at_both_ends(page):
    """Select sliders can only reach their listed options; both ends (the heaviest valid request included)
    must compute, or explain, without an exception."""
    at = app_page(page, lang="en")
    assert_no_exception(at)
    sliders = [s for s in at.select_slider if s.key]
    assert sliders
    for s in sliders:
        values = [int(o) for o in s.options]  # these pages offer numbers (depths, image counts)
        for value in (values[0], values[-1]):
            at.select_slider(key=s.key).set_value(value).run()
            assert_no_exception(at)
            assert at.select_slider(key=s.key).value == value
