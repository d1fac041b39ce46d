"""Hostile, broken and odd image uploads (issue 11), through ``resnet_viz.images.load_image``, the shared
``ui.images.image_input`` and every page that accepts an upload.

Odd but valid files must decode to the right pixels, size and orientation; invalid ones must give an
``ImageError`` whose message is one clear line in English and in Chinese; nothing may raise anything else.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from resnet_viz.errors import ImageError
from resnet_viz.images import MAX_BYTES, load_image
from tests.conftest import app_page, assert_no_exception
from tests.corpus import IMAGE_CASES, ImageCase
from ui.common import open_tab_key
from ui.conv_lab import TABS

ROOT = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u4e00-\u9fff]")
CASES = {c.name: c for c in IMAGE_CASES}
UPLOAD_PAGES = [p for p in ("pages/feature_maps.py", "pages/attribution.py", "pages/conv_lab.py",
                                 "pages/figure7.py")
                if (ROOT / p).is_file()]
OPEN_TAB = {"pages/conv_lab.py": {open_tab_key(TABS): "tab_sliding"}}  # only the open tab runs: the photo's tab


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    """Every case's bytes, made once for the whole module (the bomb and the big photo included)."""
    return {c.name: c.make() for c in IMAGE_CASES}


def expected_error(case: ImageCase, data: bytes) -> ImageError | None:
    try:
        load_image(data, case.filename)
    except ImageError as exc:
        return exc
    return None


def assert_clear(exc: ImageError, filename: str) -> None:
    for lang in ("en", "zh"):
        text = exc.message(lang)
        assert text.strip() and "\n" not in text and "Traceback" not in text and len(text) < 500, (lang, text)
        assert filename in text, (lang, text)  # the user learns which file was refused
    assert CJK.search(exc.message("zh")) and not CJK.search(exc.message("en"))


def test_corpus_has_25_cases_or_more():
    assert len(IMAGE_CASES) >= 25
    assert sum(1 for c in IMAGE_CASES if c.error) >= 10 and sum(1 for c in IMAGE_CASES if not c.error) >= 15


@pytest.mark.parametrize("name", list(CASES))
def test_load_image(name, files):
    case = CASES[name]
    data = files[name]
    assert len(data) <= MAX_BYTES
    if case.error:
        with pytest.raises(ImageError) as info:
            load_image(data, case.filename)
        assert info.value.key in case.error, (info.value.key, info.value.message("en"))
        assert_clear(info.value, case.filename)
    else:
        im = load_image(data, case.filename)
        assert im.mode == "RGB"
        if case.size:
            assert im.size == case.size
        if case.check:
            case.check(im)


def test_bomb_is_small_and_refused_before_decoding(files):
    data = files["decompression bomb: 20000 x 20000 1-bit PNG"]
    assert len(data) < 1_000_000  # a few hundred KB on disk ...
    start = time.perf_counter()
    with pytest.raises(ImageError) as info:
        load_image(data, "bomb.png")
    # ... refused from its header: decoding 400 megapixels would take seconds and 400 MB (checked loosely,
    # only to tell "read the header" from "decoded it"; the limit is generous for a busy machine)
    assert time.perf_counter() - start < 2.0
    assert info.value.key == "images.too_many_pixels" and "40.0" in info.value.message("en")


def test_wrong_extension_does_not_matter(files):
    """Formats are detected from the bytes, never from the name."""
    im = load_image(files["plain RGB PNG"], "photo.gif")
    assert im.size == (40, 30)
    with pytest.raises(ImageError):
        load_image(files["HTML named .png"], "page.jpg")


# ---------------------------------------------------------------- through the shared Streamlit input

def _input_script():
    import streamlit as st

    from ui.images import image_input

    got = image_input("pic", "cifar10")
    if got is None:
        st.text("none")
    else:
        image, ident = got
        st.text(f"{ident}|{image.size[0]}x{image.size[1]}|{image.mode}|{image.getpixel((0, 0))}")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_image_input_shows_each_case_correctly(lang, files):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_input_script, default_timeout=60)
    at.session_state["lang"] = lang
    at.run()
    sample = at.text[0].value
    assert sample.startswith("sample:cifar10/")
    for case in IMAGE_CASES:
        data = files[case.name]
        at.file_uploader(key="pic_upload").set_value((case.filename, data, "application/octet-stream")).run()
        assert not at.exception, (case.name, [e.value for e in at.exception])
        shown = at.text[0].value
        if case.error:
            exc = expected_error(case, data)
            assert exc is not None and [e.value for e in at.error] == [exc.message(lang)], case.name
            assert shown == sample, case.name  # the sample is shown instead, and the page goes on
        else:
            assert not at.error, (case.name, [e.value for e in at.error])
            im = load_image(data, case.filename)
            assert shown.startswith("upload:")
            assert shown.split("|")[1:] == [f"{im.size[0]}x{im.size[1]}", "RGB", str(im.getpixel((0, 0)))], case.name
    # removing the upload brings the sample back
    at.file_uploader(key="pic_upload").set_value(None).run()
    assert not at.exception and at.text[0].value == sample and not at.error


# ---------------------------------------------------------------- through every page with an upload

# All invalid files (cheap: refused before any forward pass) and the valid ones most likely to trip a
# page's own code (odd sizes and orientation; every mode is already RGB once image_input returns it).
PAGE_CASES = [c.name for c in IMAGE_CASES if c.error] + [
    "1 x 1 PNG", "2000 x 20 PNG", "20 x 2000 PNG", "EXIF-rotated JPEG (orientation 6)", "16-bit grayscale PNG",
    "4000 x 3000 photo (reduced to 2048 on the long side)"]


def _upload_widget(at):
    uploaders = [u for u in at.get("file_uploader") if str(getattr(u, "key", "") or "").endswith("_upload")
                 and u.key != "model_upload"]
    assert len(uploaders) == 1, [getattr(u, "key", None) for u in uploaders]
    return uploaders[0]


@pytest.mark.slow
@pytest.mark.parametrize("page", UPLOAD_PAGES)
def test_pages_survive_every_upload(page, files):
    at = app_page(page, lang="en", **OPEN_TAB.get(page, {}))  # AppTest formats labels outside the run: English
    assert_no_exception(at)
    key = _upload_widget(at).key
    for name in PAGE_CASES:
        case = CASES[name]
        data = files[name]
        at.file_uploader(key=key).set_value((case.filename, data, "application/octet-stream")).run()
        assert_no_exception(at)
        errors = [e.value for e in at.error]
        if case.error:
            assert expected_error(case, data).message("en") in errors, (page, name, errors)
        else:
            assert not errors, (page, name, errors)
