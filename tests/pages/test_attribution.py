"""The attribution page in AppTest: samples, an upload, a broken upload, every method, both languages,
plain against residual with self-made checkpoints, and the shared model left untouched."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from resnet_viz.checkpoints import find as loading
from resnet_viz.checkpoints.write import save_checkpoint
from resnet_viz.models.registry import get_spec
from tests.conftest import app_page, assert_no_exception

PAGE = "pages/attribution.py"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _no_shipped_checkpoints(tmp_path, monkeypatch):
    """The reference checkpoints are being trained: the page must not depend on them here."""
    monkeypatch.setattr(loading, "SHIPPED_DIR", tmp_path / "shipped")  # the checkpoint list follows the folders


def _images(at):
    return at.get("image")


def _texts(at) -> str:
    texts = [e.value for kind in ("caption", "info", "markdown", "error") for e in at.get(kind)]
    return " ".join(texts + [c for image in _images(at) for c in image.captions])


def _png(size=(40, 30), seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_default_page_shows_cam_strip_methods_and_download():
    at = app_page(PAGE)
    assert_no_exception(at)
    assert not at.error
    assert at.title[0].value == "Where is the network looking?"
    # input, overlay, raw map, three CIFAR stages, two compared methods
    assert len(_images(at)) == 8
    text = _texts(at)
    assert "stage1: 32 × 32" in text and "stage3: 8 × 8" in text
    assert "The raw map at stage3: 8 × 8 cells" in text
    assert at.get("download_button")
    assert at.selectbox(key="attribution_layer").value == "stage3"
    assert "Weights for plain20 and resnet20 were not both found" in text


def test_chinese_page():
    at = app_page(PAGE, lang="zh")
    assert_no_exception(at)
    assert at.title[0].value == "网络在看哪里？"
    assert "阶段条带" in " ".join(s.value for s in at.subheader)


def test_upload_and_broken_upload():
    at = app_page(PAGE)
    at.file_uploader(key="attribution_upload").set_value(("mine.png", _png(), "image/png")).run()
    assert_no_exception(at)
    assert not at.error and len(_images(at)) == 8
    at.file_uploader(key="attribution_upload").set_value(("broken.png", b"\x89PNG not really", "image/png")).run()
    assert_no_exception(at)
    assert at.error  # a clear message, and the sample is shown instead
    assert len(_images(at)) == 8


def test_every_method_target_and_layer():
    at = app_page(PAGE)
    at.selectbox(key="attribution_method_left").set_value("integrated_gradients")
    at.selectbox(key="attribution_method_right").set_value("occlusion").run()
    assert_no_exception(at)
    at.slider(key="attribution_ig_steps").set_value(4)
    at.slider(key="attribution_occ_window").set_value(16)
    at.slider(key="attribution_occ_stride").set_value(16).run()
    assert_no_exception(at)
    text = _texts(at)
    assert "Forward passes for Integrated Gradients: 6." in text and "Forward passes for Occlusion: 5." in text
    assert "Completeness check" in text
    at.selectbox(key="attribution_method_left").set_value("guided_grad_cam")
    at.selectbox(key="attribution_sign_right_occlusion").set_value("negative").run()
    assert_no_exception(at)
    at.selectbox(key="attribution_target").set_value(7)
    at.selectbox(key="attribution_layer").set_value("stage2_1").run()
    assert_no_exception(at)
    assert not at.error
    assert "Explaining class horse (index 7)" in _texts(at)
    assert "The raw map at stage2_1: 16 × 16 cells" in _texts(at)


def _save_pair() -> None:
    user_dir = Path(os.environ["RESNET_VIZ_CHECKPOINTS"])
    for name in ("plain20", "resnet20"):
        torch.manual_seed(0)
        save_checkpoint(get_spec(name).build(), user_dir / name,
                        {"model": name, "dataset": "CIFAR-10 (JPEG q75 copy)", "accuracy": 50.0})


def test_plain_against_residual_with_checkpoints():
    _save_pair()
    at = app_page(PAGE)
    assert_no_exception(at)
    assert not at.error
    text = _texts(at)
    assert "plain20 (plain20.safetensors): probability of" in text
    assert "resnet20 (resnet20.safetensors): probability of" in text
    assert "test accuracy 50.0% on CIFAR-10 (JPEG q75 copy)" in text
    assert len(_images(at)) == 10


def test_the_default_view_explains_in_two_passes(monkeypatch):
    """ResNet-20 (with its stage strip) and plain-20: the pair's ResNet-20 is the explanation already made."""
    import streamlit as st

    from resnet_viz.explain import attribution

    _save_pair()
    real, calls = attribution.explain, []

    def counting(model, *args, **kwargs):
        calls.append(type(model).__name__)
        return real(model, *args, **kwargs)

    monkeypatch.setattr(attribution, "explain", counting)
    st.cache_data.clear()
    at = app_page(PAGE)
    assert_no_exception(at)
    text = _texts(at)
    assert "plain20 (plain20.safetensors): probability of" in text
    assert "resnet20 (resnet20.safetensors): probability of" in text
    assert len(calls) == 2, calls
    at.selectbox(key="attribution_layer").set_value("stage2_1").run()  # another layer: one pass, the pair's kept
    assert_no_exception(at)
    assert len(calls) == 3, calls
    assert "resnet20 (resnet20.safetensors): probability of" in _texts(at)


def test_the_shared_model_is_left_as_found():
    at = app_page(PAGE)
    assert_no_exception(at)
    from ui.models import load_cached

    model = load_cached("random:resnet20").model
    assert not model.training and all(p.requires_grad for p in model.parameters())
    assert all(p.grad is None for p in model.parameters())
    assert not any(m._forward_hooks or m._backward_hooks or m._forward_pre_hooks for m in model.modules())


def test_imagenet_model_on_a_photo():
    user_dir = Path(os.environ["RESNET_VIZ_CHECKPOINTS"])
    torch.manual_seed(0)
    path = save_checkpoint(get_spec("resnet18").build(), user_dir / "resnet18", {"model": "resnet18"}, half=True)
    at = app_page(PAGE, model_choice=str(path))
    assert_no_exception(at)
    assert not at.error
    text = _texts(at)
    assert "resnet18 (resnet18.safetensors)" in text
    for stage, side in (("conv2_x", 56), ("conv3_x", 28), ("conv4_x", 14), ("conv5_x", 7)):
        assert f"{stage}: {side} × {side}" in text
    assert "The raw map at conv5_x: 7 × 7 cells" in text and "224 × 224 pixels" in text
    assert "Weights for plain34 and resnet34 were not both found" in text
    assert len(_images(at)) == 9  # input, overlay, raw map, four stages, two methods
    at.selectbox(key="attribution_target").set_value(281).run()  # ImageNet class 281: tabby cat
    assert_no_exception(at)
    assert "Explaining class tabby (index 281)" in _texts(at)


def test_a_layer_change_recomputes_only_the_maps_that_depend_on_the_layer(monkeypatch):
    """Guided Grad-CAM, which depends on the layer, is computed again on a layer change. Saliency never runs a pass
    of its own: Grad-CAM's backward gives it (one pass per class and layer, where there were two)."""
    from dataclasses import replace

    from resnet_viz.explain.methods import METHODS

    calls: list[str] = []
    for name in ("saliency", "guided_grad_cam"):
        real = METHODS[name].run

        def counting(*args, _real=real, _name=name, **kwargs):
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setitem(METHODS, name, replace(METHODS[name], run=counting))
    at = app_page(PAGE)
    at.selectbox(key="attribution_method_left").set_value("guided_grad_cam").run()
    assert_no_exception(at)
    assert calls == ["guided_grad_cam"]
    at.selectbox(key="attribution_layer").set_value("stage2_1").run()
    assert_no_exception(at)
    assert calls == ["guided_grad_cam", "guided_grad_cam"]
    assert "Saliency" in _texts(at)
