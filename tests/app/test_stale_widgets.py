"""No stale select box: after a new picture (an upload, another sample) or another language, every select box
whose labels depend on data shows the label of its value now, not the one the browser showed before.

The browser keeps showing the label a select box's value had when the server last set it: a box whose id
stays the same (a keyed widget) and whose value is not sent again (``set_value``) goes on showing its old label
even though its options were relabelled. ``Browser`` replays that rule over AppTest's protos.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

from resnet_viz.checkpoints import find as loading
from resnet_viz.i18n import t
from tests.conftest import app_page, assert_no_exception

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _no_shipped_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setattr(loading, "SHIPPED_DIR", tmp_path / "shipped")  # the default model: random ResNet-20


class Browser:
    """The label each select box shows in a browser, run after run."""

    def __init__(self) -> None:
        self.shown: dict[str, str] = {}

    def see(self, at) -> None:
        for box in at.selectbox:
            proto = box.proto
            if proto.set_value:  # the server sent the value: the browser shows its label now
                self.shown[box.id] = proto.raw_value
            elif box.id not in self.shown:  # a new widget starts at its default
                self.shown[box.id] = box.options[proto.default]
            # otherwise the browser keeps what it showed

    def label(self, at, key: str) -> str:
        return self.shown[at.selectbox(key=key).id]


def _photo(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _caption(at, start: str) -> str:
    return next(c.value for c in at.caption if c.value.startswith(start))


def _explained(at, lang: str) -> tuple[str, str]:
    """(class name, probability) the attribution page says it explains."""
    pattern = re.escape(t("attribution.explained", lang, name="\0", index="\1", prob="\2"))
    pattern = pattern.replace("\0", "(.+)").replace("\1", r"\d+").replace("\2", "(.+)")
    match = re.fullmatch(pattern, _caption(at, t("attribution.explained", lang).split("{")[0]))
    assert match, "no explained-class caption"
    return match.group(1), match.group(2)


def _class_box_names_the_explained_class(at, browser: Browser, lang: str) -> None:
    assert_no_exception(at)
    browser.see(at)
    name, prob = _explained(at, lang)
    assert browser.label(at, "attribution_target") == t("attribution.target_top", lang, name=name, prob=prob)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_attribution_class_box_after_an_upload(lang):
    at = app_page("pages/attribution.py", lang=lang)
    browser = Browser()
    _class_box_names_the_explained_class(at, browser, lang)
    for seed in (1, 2):  # two photos: the top prediction changes with the picture
        at.file_uploader(key="attribution_upload").set_value((f"p{seed}.png", _photo(seed), "image/png")).run()
        _class_box_names_the_explained_class(at, browser, lang)


def test_attribution_class_box_after_switching_samples():
    at = app_page("pages/attribution.py")
    browser = Browser()
    _class_box_names_the_explained_class(at, browser, "en")
    samples = at.selectbox(key="attribution_sample_cifar10").options
    for name in samples[1:4]:
        at.selectbox(key="attribution_sample_cifar10").set_value(name).run()
        _class_box_names_the_explained_class(at, browser, "en")


def test_attribution_method_boxes_after_switching_language():
    at = app_page("pages/attribution.py")
    browser = Browser()
    browser.see(at)
    at.session_state["lang"] = "zh"
    at.query_params["lang"] = "zh"
    at.run()
    assert_no_exception(at)
    browser.see(at)
    assert browser.label(at, "attribution_method_right") == t("attribution.methods.saliency", "zh")
    assert browser.label(at, "attribution_sign_right_saliency") == t("attribution.signs.absolute", "zh")


def _channel_box_matches_its_caption(at, browser: Browser) -> None:
    assert_no_exception(at)
    browser.see(at)
    shown = browser.label(at, "feature_maps_channel_conv1")
    peak = re.search(r"\(value (-?[\d.]+)\)", _caption(at, "The channel laid over the input"))
    assert peak, "no strongest-unit caption"
    assert shown.endswith(f"max {peak.group(1)}"), (shown, peak.group(1))


def test_feature_maps_channel_box_after_an_upload_and_a_sample():
    at = app_page("pages/feature_maps.py")
    browser = Browser()
    _channel_box_matches_its_caption(at, browser)
    for seed in (1, 2):
        at.file_uploader(key="feature_maps_image_upload").set_value((f"p{seed}.png", _photo(seed), "image/png"))
        at.run()
        _channel_box_matches_its_caption(at, browser)
    at.file_uploader(key="feature_maps_image_upload").set_value(None).run()
    at.selectbox(key="feature_maps_image_sample_cifar10").select_index(2).run()
    _channel_box_matches_its_caption(at, browser)
