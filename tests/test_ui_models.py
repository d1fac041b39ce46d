"""The shared model picker's fallback: an unavailable pick shows a translated reason and a working model."""

from streamlit.testing.v1 import AppTest


def _script():
    import streamlit as st

    from ui.models import current_model

    loaded = current_model()
    st.write(f"loaded:{loaded.name}:{loaded.source}")


def test_offline_pretrained_pick_falls_back_with_a_message():
    at = AppTest.from_function(_script, default_timeout=60)
    at.session_state["model_source"] = "pretrained:resnet50"
    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception
    assert at.error and "resnet50" in at.error[0].value and "下载" in at.error[0].value
    assert any(m.value.startswith("loaded:") for m in at.markdown)


def test_default_pick_loads():
    at = AppTest.from_function(_script, default_timeout=60)
    at.run()
    assert not at.exception and not at.error
    assert any(m.value.startswith("loaded:resnet20") for m in at.markdown)
