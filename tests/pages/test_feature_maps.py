"""The feature-map page in AppTest: samples, uploads (good, odd, broken, bombs), every view, both languages,
and no second forward pass when only the view changes."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from resnet_viz.checkpoints.find import SHIPPED_DIR
from resnet_viz.checkpoints.read import load_random
from resnet_viz.checkpoints.write import save_checkpoint
from resnet_viz.errors import ImageError
from resnet_viz.i18n import t
from resnet_viz.images import load_image
from resnet_viz.models.cifar import CifarNet
from tests.conftest import app_page, assert_no_exception

PAGE = "pages/feature_maps.py"


def _png(im: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


def _bomb() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _zh(at):
    """Keep the session in Chinese for the next run: after switch_page AppTest renders no sidebar, so the
    language switch's widget state is dropped and a rerun would fall back to English."""
    at.session_state["lang"] = "zh"
    return at


class _ForwardCounter:
    """Counts whole-network forward passes of CIFAR nets (a global hook, removed on exit)."""

    def __enter__(self):
        self.count = 0

        def hook(module, inputs):
            if isinstance(module, CifarNet):
                self.count += 1

        self.handle = torch.nn.modules.module.register_module_forward_pre_hook(hook)
        return self

    def __exit__(self, *exc):
        self.handle.remove()


def _save_pair(directory: Path) -> dict[str, Path]:
    paths = {}
    for name, seed in (("plain20", 1), ("resnet20", 2)):
        loaded = load_random(name, seed=seed)
        paths[name] = save_checkpoint(loaded.model, directory / name, {
            "model": name, "dataset": "CIFAR-10 (JPEG q75 copy)", "accuracy": 12.5 if name == "plain20" else 13.5,
            "classes": list(loaded.classes), "mean": list(loaded.mean), "std": list(loaded.std)})
    return paths


def test_upload_views_and_no_second_forward_pass():
    at = app_page(PAGE)
    assert_no_exception(at)
    assert at.title[0].value == t("feature_maps.title", "en")
    if not any(SHIPPED_DIR.glob("*.safetensors")):  # without shipped checkpoints the default is untrained
        assert any("untrained" in w.value for w in at.warning)

    rgba = np.zeros((60, 80, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = np.linspace(0, 255, 80, dtype=np.uint8)[None, :]
    at.file_uploader(key="feature_maps_image_upload").set_value(("my photo.png", _png(Image.fromarray(rgba, "RGBA")),
                                                       "image/png"))
    at.run()
    assert_no_exception(at)
    assert not at.error

    with _ForwardCounter() as counter:
        at.selectbox(key="feature_maps_layer").set_value("stage3_1").run()
        assert_no_exception(at)
        channels = at.selectbox(key="feature_maps_channel_stage3_1").options
        assert len(channels) == 64
        at.selectbox(key="feature_maps_channel_stage3_1").set_value(5).run()
        assert at.selectbox(key="feature_maps_channel_stage3_1").value == 5
        at.radio(key="feature_maps_order").set_value("index").run()
        at.segmented_control(key="feature_maps_view").set_value("anatomy").run()
        assert_no_exception(at)
        at.selectbox(key="feature_maps_block").set_value("stage2_1").run()
        at.selectbox(key="feature_maps_block_channel").set_value(7).run()
        assert_no_exception(at)
        assert len(at.get("plotly_chart")) == 2  # the four panels and the ratio chart
        at.segmented_control(key="feature_maps_view").set_value("input").run()
        assert_no_exception(at)
        assert counter.count == 0  # every view above came from the cached capture

    # the effective receptive field is a separate pass, only on request
    at.segmented_control(key="feature_maps_view").set_value("layers").run()
    with _ForwardCounter() as counter:
        at.toggle(key="feature_maps_erf").set_value(True).run()
        assert_no_exception(at)
    assert counter.count == 1
    erf_text = t("feature_maps.erf_caption", "en").split("{")[0]
    assert any(c.value.startswith(erf_text) for c in at.caption) or \
        any(i.value == t("feature_maps.erf_zero", "en") for i in at.info)


@pytest.mark.parametrize("name,data,key", [
    ("notes.jpg", b"these are not the pixels you are looking for", "images.not_image"),
    ("bomb.png", _bomb(), "images.too_many_pixels"),
    ("empty.gif", b"", "images.empty"),
])
def test_bad_uploads_show_a_message_and_keep_working(name, data, key):
    at = app_page(PAGE, lang="zh")
    assert at.title[0].value == t("feature_maps.title", "zh")
    at.file_uploader(key="feature_maps_image_upload").set_value((name, data, "application/octet-stream"))
    _zh(at).run()
    assert_no_exception(at)
    with pytest.raises(ImageError) as info:
        load_image(data, name)
    assert info.value.key == key
    assert [e.value for e in at.error] == [info.value.message("zh")]  # the Chinese message, naming the file
    assert name in at.error[0].value
    assert at.selectbox(key="feature_maps_layer").value == "conv1"  # the page went on with the sample image


@pytest.fixture
def no_shipped_checkpoints(tmp_path, monkeypatch):
    """The page must work from the user's folder alone, whatever assets/checkpoints holds."""
    from resnet_viz.checkpoints import find as loading

    monkeypatch.setattr(loading, "SHIPPED_DIR", tmp_path / "shipped")


@pytest.mark.usefixtures("no_shipped_checkpoints")
def test_plain_vs_residual_and_plain_anatomy(tmp_path):
    import streamlit as st

    st.cache_data.clear()  # checkpoint scans are cached for a minute
    paths = _save_pair(Path(os.environ["RESNET_VIZ_CHECKPOINTS"]))
    at = app_page(PAGE, model_choice=str(paths["plain20"]))
    assert_no_exception(at)
    at.segmented_control(key="feature_maps_view").set_value("anatomy").run()
    assert_no_exception(at)
    assert any(c.value == t("feature_maps.plain_no_split", "en") for c in at.info)
    at.segmented_control(key="feature_maps_view").set_value("compare").run()
    assert_no_exception(at)
    assert at.selectbox(key="feature_maps_pair").options == ["plain20 / resnet20"]
    text = " ".join(m.value for m in at.markdown)
    assert "CIFAR-10 (JPEG q75 copy)" in text and "12.50" in text and "13.50" in text
    assert len(at.get("plotly_chart")) == 1


@pytest.mark.usefixtures("no_shipped_checkpoints")
def test_compare_says_when_checkpoints_are_missing():
    import streamlit as st

    st.cache_data.clear()
    at = app_page(PAGE, feature_maps_view="compare")
    assert_no_exception(at)
    assert any(i.value == t("feature_maps.compare_missing", "en") for i in at.info)


def test_imagenet_model_with_photos(tmp_path):
    import streamlit as st

    st.cache_data.clear()
    loaded = load_random("resnet18")
    path = save_checkpoint(loaded.model, Path(os.environ["RESNET_VIZ_CHECKPOINTS"]) / "r18", {
        "model": "resnet18", "dataset": "random init (test)", "classes": list(loaded.classes),
        "mean": list(loaded.mean), "std": list(loaded.std)}, half=True)
    at = app_page(PAGE, lang="zh", model_choice=str(path))
    assert_no_exception(at)
    assert at.selectbox(key="feature_maps_image_sample_imagenet").value == "astronaut"  # the photos, not CIFAR images
    assert any(o.startswith("最大池化") for o in at.selectbox(key="feature_maps_layer").options)
    _zh(at)
    at.selectbox(key="feature_maps_layer").set_value("conv5_2").run()
    assert_no_exception(at)
    _zh(at)
    at.segmented_control(key="feature_maps_view").set_value("anatomy").run()
    _zh(at)
    at.selectbox(key="feature_maps_block").set_value("conv3_1").run()  # a projection shortcut
    assert_no_exception(at)
    assert at.title[0].value == t("feature_maps.title", "zh")
    assert any(t("feature_maps.shortcut_kind_projection", "zh") in c.value for c in at.caption)
    _zh(at)
    at.segmented_control(key="feature_maps_view").set_value("input").run()
    assert_no_exception(at)
    steps = " ".join(m.value for m in at.markdown)
    assert "256" in steps and "224" in steps and "0.485" in steps


# ---------------------------------------------------------------- values that follow the picture

PHOTO = Path(np.__file__).parent.parent / "matplotlib" / "mpl-data" / "sample_data" / "grace_hopper.jpg"


def _photo_bytes() -> tuple[str, bytes]:
    """A photo nobody on the project chose (matplotlib's sample), else a made-up one."""
    if PHOTO.is_file():
        return PHOTO.name, PHOTO.read_bytes()
    rng = np.random.default_rng(7)
    return "photo.png", _png(Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)))


def _caption_of(at, key: str, lang: str = "en") -> str:
    """The caption (st.caption, or a picture's) that ``key`` starts."""
    start = t(key, lang).split("{")[0]
    pictures = [i.caption for el in at.get("image") for i in el.proto.imgs]
    return next(c for c in [c.value for c in at.caption] + pictures if c.startswith(start))


def _numbers(text: str) -> list[str]:
    import re

    return re.findall(r"-?\d+(?:\.\d+)?", text)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_after_a_photo_over_a_sample_every_value_refers_to_the_photo(lang):
    at = app_page(PAGE, lang=lang)
    assert_no_exception(at)
    at.selectbox(key="feature_maps_layer").set_value("stage1_3").run()
    name, data = _photo_bytes()
    sample_unit = (at.number_input(key="feature_maps_row_stage1_3_" + str(at.selectbox(
        key="feature_maps_channel_stage1_3").value)).value,)
    at.file_uploader(key="feature_maps_image_upload").set_value((name, data, "image/jpeg")).run()
    assert_no_exception(at)
    grid = _numbers(_caption_of(at, "feature_maps.grid_caption", lang))
    channel = at.selectbox(key="feature_maps_channel_stage1_3").value
    assert str(channel) == grid[0]  # the picker starts where the photo's grid starts: its most active channel
    row, col, value, _ = _numbers(_caption_of(at, "feature_maps.strongest", lang))[:4]
    unit = (at.number_input(key=f"feature_maps_row_stage1_3_{channel}").value,
            at.number_input(key=f"feature_maps_col_stage1_3_{channel}").value)
    assert unit == (int(row), int(col))  # the receptive-field unit: the photo's strongest, not the sample's
    assert _numbers(_caption_of(at, "feature_maps.rf_caption", lang))[:2] == [row, col]
    picker = next(s for s in at.selectbox if s.label == t("images.sample", lang))
    assert picker.value == t("images.photo_option", lang, name=name) and picker.disabled  # not "airplane_1"
    assert sample_unit  # the sample had its own unit before


def test_a_unit_chosen_by_hand_stays_for_the_same_picture():
    at = app_page(PAGE)
    channel = at.selectbox(key="feature_maps_channel_conv1").value
    at.number_input(key=f"feature_maps_row_conv1_{channel}").set_value(3).run()
    at.radio(key="feature_maps_order").set_value("index").run()  # another widget: the picture is the same
    assert at.number_input(key=f"feature_maps_row_conv1_{channel}").value == 3
    assert _numbers(_caption_of(at, "feature_maps.rf_caption"))[0] == "3"


def test_the_colour_bar_says_where_its_colours_saturate():
    from resnet_viz.checkpoints.find import load_model
    from resnet_viz.images import load_sample, preprocess, sample_images
    from resnet_viz.inspect.feature_maps import beyond_scale, capture
    from resnet_viz.render import tables

    at = app_page(PAGE)
    caption = _caption_of(at, "feature_maps.colour_scale")
    loaded = load_model(str(SHIPPED_DIR / "resnet20.safetensors"))
    rec = capture(loaded.model, preprocess(load_sample(sample_images("cifar10")["airplane_1"]), loaded).tensor,
                  loaded.spec).layers["conv1"]
    share, top = beyond_scale(rec)
    assert top > rec.vmax and 0 < share <= 0.006  # the scale's top is the 99.5th percentile
    assert caption == tables.colour_scale_caption(rec, "en")
    assert t("feature_maps.colour_saturates", "en", high=f"{rec.vmax:.3g}", top=f"{top:.3g}",
             share=f"{100 * share:.2g}") in caption


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_zero_padded_channel_of_an_option_a_block_says_so(lang):
    at = app_page(PAGE, lang=lang)
    at.segmented_control(key="feature_maps_view").set_value("anatomy").run()
    at.selectbox(key="feature_maps_block").set_value("stage2_1").run()
    box = at.selectbox(key="feature_maps_block_channel")
    assert t("feature_maps.channel_padded", lang, channel=2) in box.options  # option A: 8 zero channels each side
    assert t("feature_maps.channel_padded", lang, channel=23) not in box.options
    box.set_value(2).run()
    assert_no_exception(at)
    texts = [c.value for c in at.caption]
    assert t("feature_maps.anatomy_caption_padded", lang, block="stage2_1", channel=2, count=16, in_channels=16,
             out_channels=32) in texts
    assert not any("inf" in c for c in texts)
    at.selectbox(key="feature_maps_block_channel").set_value(12).run()  # one of x's own channels: a ratio
    start = t("feature_maps.anatomy_caption", lang, block="stage2_1", ratio="\0", shortcut="").split("\0")[0]
    assert any(c.value.startswith(start) for c in at.caption)
