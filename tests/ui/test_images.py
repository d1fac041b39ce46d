"""ui.images: the picker says which picture is in use (a sample's name, or the photo's), and a sample chosen before
a photo comes back when the photo goes."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from resnet_viz.i18n import t


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def _script():
    import streamlit as st

    from ui.images import image_input

    page = st.session_state.get("page", "first")
    got = image_input(page, "cifar10")
    st.text("none" if got is None else got[1])


def _picker(at, lang: str = "en"):
    return next(s for s in at.selectbox if s.label == t("images.sample", lang))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_picker_names_the_photo_in_use_and_gives_the_sample_back_after(lang):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_script, default_timeout=60)
    at.session_state["lang"] = lang
    at.run()
    at.selectbox(key="first_sample_cifar10").set_value("frog_2").run()
    assert at.text[0].value == "sample:cifar10/frog_2" and not _picker(at, lang).disabled
    at.file_uploader(key="first_upload").set_value(("mine.png", _png(), "image/png")).run()
    assert at.text[0].value.startswith("upload:")
    picker = _picker(at, lang)
    assert picker.value == t("images.photo_option", lang, name="mine.png") and picker.disabled
    assert picker.help == t("images.photo_way_back_here", lang)
    at.session_state["page"] = "second"  # the photo follows to another page: its picker says so too
    at.run()
    assert _picker(at, lang).value == t("images.photo_option", lang, name="mine.png")
    assert _picker(at, lang).help == t("images.photo_way_back_button", lang)
    at.session_state["page"] = "first"
    at.run()
    at.file_uploader(key="first_upload").set_value(("mine.png", _png(), "image/png")).run()
    at.file_uploader(key="first_upload").set_value(None).run()  # removed: the sample chosen before is back
    assert at.text[0].value == "sample:cifar10/frog_2"
    assert _picker(at, lang).value == "frog_2" and not _picker(at, lang).disabled
