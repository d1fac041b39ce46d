"""ui.common: widget state derived from the input follows a new input and keeps the student's choice otherwise."""

from __future__ import annotations


def _script():
    import streamlit as st

    from ui.common import follow_input

    image = st.session_state.get("image", "a")
    peak = {"a": 4, "b": 9}[image]  # what the page computed from the picture
    follow_input("unit", (image, "model"), peak)
    st.text(str(st.number_input("unit", 0, 20, key="unit")))


def test_follow_input_resets_on_a_new_input_only():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_script, default_timeout=30)
    at.run()
    assert at.text[0].value == "4"
    at.number_input(key="unit").set_value(7).run()
    assert at.text[0].value == "7"
    at.run()  # the same picture: the student's 7 stays
    assert at.text[0].value == "7"
    at.session_state["image"] = "b"  # a new picture: its own value
    at.run()
    assert at.text[0].value == "9"
    assert not at.exception and not at.warning
