"""The per-server queue as a page meets it: a student waits while another's heavy work runs, and is told so."""

from __future__ import annotations

import threading
import time

from streamlit.testing.v1 import AppTest


def _script():
    import streamlit as st

    from ui.work import heavy

    st.text(str(heavy(("test-heavy", st.session_state.get("n", 0)), lambda: 6 * 7)))


def test_a_waiting_student_is_told_how_many_are_ahead_then_gets_the_result(monkeypatch):
    import ui.work

    told = []
    monkeypatch.setattr(ui.work, "tr", lambda key, **params: told.append((key, params)) or key)
    queue = ui.work.server_queue()
    started, release = threading.Event(), threading.Event()

    def someone_else():
        with queue.turn():
            started.set()
            release.wait(20)

    other = threading.Thread(target=someone_else)
    other.start()
    started.wait(10)
    threading.Timer(1.0, release.set).start()
    at = AppTest.from_function(_script, default_timeout=60)
    at.session_state["n"] = time.time_ns()  # a key never run before
    at.run()
    other.join(10)
    assert not at.exception and at.text[0].value == "42"
    assert told == [("common.queue_waiting", {"n": 1})]

    told.clear()  # the same key again: most likely cached, so it does not queue behind anyone
    with queue.turn():
        at.run()
    assert at.text[0].value == "42" and told == []


def _stoppable_script():
    import streamlit as st

    from ui.work import stoppable

    state = st.session_state
    with stoppable("t_stop", "Stop", lambda: state.update(stopped=True), active=state.get("active", True)) as bar:
        bar.progress(0.5, text="half way")
        if state.get("fail"):
            raise RuntimeError("the work failed")
    st.text("after")


def test_stop_and_progress_are_gone_when_the_work_ends_or_fails():
    for session in ({}, {"active": False}, {"fail": True}):
        at = AppTest.from_function(_stoppable_script, default_timeout=60)
        for key, value in session.items():
            at.session_state[key] = value
        at.run()
        assert not at.button and not at.get("progress"), session  # both cleared, also on failure
        assert bool(at.exception) == ("fail" in session)
        assert ("after" in [t.value for t in at.text]) != ("fail" in session)
