"""Every page in both languages, walked with AppTest: no text a student sees reads "None", "nan" or "inf", or keeps
an unfilled "{placeholder}" of the catalogue. Read from what Streamlit would send to the browser: markdown and
captions, widget labels, options and help, metrics, pictures' captions, tables' cells and the charts' titles, names,
tick labels and annotations (LaTeX, code and Plotly's own %{x} templates left out)."""

from __future__ import annotations

import json
import re

import pytest
from google.protobuf.json_format import MessageToDict

from tests.conftest import ROOT, app_page, assert_no_exception
from ui.navigation import PAGES

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

BAD_VALUE = re.compile(r"\b(None|nan|NaN|inf)\b")
PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
TEXT_KEYS = {"body", "label", "help", "options", "caption", "text", "placeholder", "rawValue", "rawValues",
             "content", "delta"}
CHART_KEYS = {"text", "name", "ticktext", "title", "customdata"}
SKIPPED = {"code", "latex", "html"}  # code is code; LaTeX braces are LaTeX's; html here is a style


def _strings(value, keys: set[str], under: bool = False):
    """The strings under ``keys`` anywhere in a decoded proto or chart spec."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, keys, k in keys)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, keys, under)
    elif isinstance(value, str) and under:
        yield value


def _chart_texts(spec: str):
    fig = json.loads(spec)
    for trace in fig.get("data", []):
        yield from _strings({k: v for k, v in trace.items() if k != "hovertemplate"}, CHART_KEYS)
    yield from _strings(fig.get("layout", {}), CHART_KEYS)


def shown_texts(at) -> list[str]:
    """Every text of the page as the browser would show it."""
    texts: list[str] = []

    def walk(node) -> None:
        for child in getattr(node, "children", {}).values():
            kind = getattr(child, "type", "")
            proto = getattr(child, "proto", None)
            if kind in ("table", "arrow_data_frame", "dataframe"):
                frame = child.value
                texts.extend(map(str, frame.columns))
                texts.extend(frame.astype(str).to_numpy().ravel().tolist())
            elif kind == "plotly_chart" and proto is not None:
                texts.extend(_chart_texts(proto.spec))
            elif kind not in SKIPPED and proto is not None:
                texts.extend(_strings(MessageToDict(proto), TEXT_KEYS))
            walk(child)

    walk(at._tree)
    return texts


def problems(texts: list[str]) -> list[str]:
    out = []
    for text in texts:
        prose = re.sub(r"\$[^$]*\$|%\{[^}]*\}", "", text)  # LaTeX math, Plotly's templates
        words = re.sub(r"`[^`]*`", "", prose)  # Python's `None` in inline code is a word of the code
        if BAD_VALUE.search(words) or PLACEHOLDER.search(prose):
            out.append(text[:160])
    return out


PAGE_FILES = [file for file, *_ in PAGES if (ROOT / file).is_file()]


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("page", PAGE_FILES)
def test_no_page_shows_none_nan_or_a_placeholder(page, lang):
    at = app_page(None if page == "pages/home.py" else page, lang=lang)
    assert_no_exception(at)
    texts = shown_texts(at)
    assert len(texts) > 10  # the walk reads the page
    assert not problems(texts), problems(texts)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_feature_map_views_and_a_photo(lang):
    import io

    from PIL import Image

    at = app_page("pages/feature_maps.py", lang=lang)
    buf = io.BytesIO()
    Image.new("RGB", (80, 60), (30, 120, 200)).save(buf, format="PNG")
    at.file_uploader(key="feature_maps_image_upload").set_value(("photo.png", buf.getvalue(), "image/png")).run()
    for view in ("layers", "anatomy", "compare", "input"):
        at.segmented_control(key="feature_maps_view").set_value(view).run()
        assert_no_exception(at)
        assert not problems(shown_texts(at)), (view, problems(shown_texts(at)))


def test_the_walk_finds_what_it_looks_for():
    assert problems(["Accuracy: None", "loss nan", "ratio = inf", "Hello {name}", "fine", "$C_{in}$ fine",
                     "%{y:.3f} fine", "set `x` to `None`", "`--out {out}` unfilled"]) == [
                         "Accuracy: None", "loss nan", "ratio = inf",
                                                                      "Hello {name}", "`--out {out}` unfilled"]
