"""Model scope, said where it matters: the classes and input size next to the predictions, a note and a way out
for a photo on a CIFAR-10 model, a picker ordered by family and depth with short labels, and a sidebar that
always shows the model in use."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from resnet_viz.checkpoints import find as loading
from resnet_viz.checkpoints.read import trained_epochs
from resnet_viz.i18n import t
from resnet_viz.models.registry import CIFAR10_CLASSES, IMAGENET_CLASSES, MODELS
from resnet_viz.render import tables
from tests.conftest import app_page, assert_no_exception

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def _no_shipped_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setattr(loading, "SHIPPED_DIR", tmp_path / "shipped")  # the default model: random ResNet-20
    before = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))  # no pretrained file cached: what a fresh machine has
    yield
    torch.hub.set_dir(before)


# ---------------------------------------------------------------- the words (resnet_viz.render.tables)

def test_model_order_is_family_then_dataset_then_depth():
    order = sorted(MODELS, key=lambda n: tables.model_order(MODELS[n]))
    assert order[:5] == ["plain20", "plain32", "plain44", "plain56", "plain110"]
    assert order.index("plain34") < order.index("resnet20") < order.index("resnet56") < order.index("resnet110")
    assert order.index("resnet1202") < order.index("resnet18") < order.index("resnet152") < order.index("vgg19")
    assert order[-1] == "vgg19"


def test_short_option_labels():
    assert tables.checkpoint_option("resnet20", "resnet20", 76.71, True) == "ResNet-20 · 76.7 %"
    assert tables.checkpoint_option("plain56", "plain56", None, True) == "plain-56"
    assert tables.checkpoint_option("resnet110", "mine", 93.0, False) == "ResNet-110 (mine) · 93.0 % · yours"
    assert tables.checkpoint_option("resnet20", "resnet20", 91.7, False, "zh") == "ResNet-20 · 91.7 % · 你的"
    assert tables.checkpoint_option("resnet20", "resnet20", 86.87, True, epochs=30) == "ResNet-20 · 86.9 % · 30 epochs"
    assert tables.checkpoint_option("plain56", "plain56", 40.7, True, "zh", 3.8462) == "plain-56 · 40.7 % · 3.8 轮"
    assert trained_epochs({"recipe": {"epochs": 30}}) == 30 and trained_epochs({"recipe": {}}) is None
    assert tables.epochs_span([30.0, 3.8462, None, 30]) == "3.8–30" and tables.epochs_span([30]) == "30"
    assert tables.epochs_span([None]) == "?"
    assert trained_epochs({}) is None and trained_epochs({"recipe": {"epochs": True}}) is None
    assert tables.pretrained_option("resnet50", True) == "ResNet-50 · ImageNet"
    assert tables.pretrained_option("vgg19", False, "zh") == "VGG-19 · ImageNet（需下载）"
    assert tables.pretrained_option("resnet56", False) == "ResNet-56 · chenyaofo (download)"  # CIFAR-10's
    assert tables.pretrained_option("resnet20", True, "zh") == "ResNet-20 · chenyaofo"


def test_model_scope_names_classes_and_size():
    cifar = tables.model_scope(CIFAR10_CLASSES, 32, "cifar10")
    assert cifar == ("This network knows 10 CIFAR-10 classes at 32 x 32 pixels: airplane, automobile, bird, cat, "
                     "deer, dog, frog, horse, ship, truck.")
    imagenet = tables.model_scope(IMAGENET_CLASSES, 224, "imagenet", "zh")
    assert imagenet.startswith("这个网络认识 1000 个 ImageNet 类别，输入为 224 x 224 像素：tench, goldfish")
    assert imagenet.endswith("ostrich, …。")
    own = tables.model_scope(("cat", "dog"), 64, "cifar10")  # a checkpoint with its own two classes
    assert own == "This network knows 2 classes at 64 x 64 pixels: cat, dog."


def test_target_labels_name_the_top_prediction():
    labels = tables.target_labels(CIFAR10_CLASSES, "truck", "65.8%", "en")
    assert labels[-1] == "The top prediction (truck, 65.8%)" and labels[9] == "9: truck" and len(labels) == 11


# ---------------------------------------------------------------- the sidebar picker

def _sidebar_script():
    import streamlit as st

    from ui.models import current_model, model_picker

    model_picker()
    loaded = current_model()
    st.text(f"loaded:{loaded.name}")


def _sidebar(**session):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_sidebar_script, default_timeout=60)
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    assert_no_exception(at)
    return at


def test_picker_is_ordered_short_and_explains_the_pick():
    picker = _sidebar().sidebar.selectbox(key="model_choice")
    pretrained = [o for o in picker.options if "ImageNet" in o]
    assert pretrained[:5] == [f"ResNet-{d} · ImageNet (download)" for d in (18, 34, 50, 101, 152)]
    assert pretrained[-1] == "VGG-19 · ImageNet (download)"
    assert all(len(o) <= 32 for o in picker.options), picker.options
    assert t("models.details_random", "en", model="ResNet-20") in picker.help


def _photo(seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_a_failed_pick_leaves_the_sidebar_on_the_model_in_use():
    at = _sidebar()
    at.sidebar.selectbox(key="model_choice").set_value("pretrained:resnet50").run()  # offline: cannot load
    assert_no_exception(at)
    assert at.sidebar.selectbox(key="model_choice").value == "random:resnet20"
    assert any("resnet50" in e.value for e in at.error)
    assert at.text[0].value == "loaded:resnet20"
    at.run()  # said once
    assert not at.error


def test_a_pick_that_fails_later_moves_the_sidebar_on_the_next_run():
    at = _sidebar(model_choice="pretrained:resnet34")
    assert at.error
    assert any(c.value.startswith("In use: ResNet-20") for c in at.sidebar.caption)
    at.run()
    assert at.sidebar.selectbox(key="model_choice").value == "random:resnet20"


def test_an_upload_pick_stays_while_it_waits():
    at = _sidebar(model_choice="upload")
    at.run()
    assert at.sidebar.selectbox(key="model_choice").value == "upload"  # its uploader stays
    assert at.sidebar.file_uploader(key="model_upload")
    assert any(c.value.startswith("In use: ResNet-20") for c in at.sidebar.caption)


# ---------------------------------------------------------------- next to the predictions

@pytest.mark.parametrize("page,key", [("pages/attribution.py", "attribution"),
                                      ("pages/feature_maps.py", "feature_maps")])
def test_scope_beside_the_predictions_in_both_languages(page, key):
    for lang in ("en", "zh"):
        at = app_page(page, lang=lang)
        assert_no_exception(at)
        scope = tables.model_scope(CIFAR10_CLASSES, 32, "cifar10", lang)
        assert scope in [c.value for c in at.caption]
        assert not at.info or t("models.photo_note", lang, count=10, dataset="CIFAR-10") not in at.info[0].value


def test_a_photo_on_a_cifar_model_says_so_offline_without_a_button():
    at = app_page("pages/attribution.py")
    at.file_uploader(key="attribution_upload").set_value(("photo.png", _photo(), "image/png")).run()
    assert_no_exception(at)
    assert t("models.photo_note", "en", count=10, dataset="CIFAR-10") in [i.value for i in at.info]
    assert "attribution_imagenet" not in _button_keys(at)  # offline, nothing downloaded


def _button_keys(at) -> list[str]:
    return [b.key for b in at.button]


def test_the_imagenet_button_switches_the_model_and_keeps_the_photo(monkeypatch):
    import ui.models
    from resnet_viz.checkpoints.read import load_random

    def load(source: str):
        if source == "pretrained:resnet18":  # as if its weights were downloaded
            return replace(load_random("resnet18"), source="pretrained")
        return load_random(source.split(":", 1)[1])

    monkeypatch.setattr(ui.models, "pretrained_cached", lambda name: name == "resnet18")
    monkeypatch.setattr(ui.models, "load_model", load)
    ui.models.model_cache.clear()
    at = app_page("pages/feature_maps.py", lang="zh")
    at.file_uploader(key="feature_maps_image_upload").set_value(("photo.png", _photo(), "image/png")).run()
    assert_no_exception(at)
    button = at.button(key="feature_maps_imagenet")
    assert button.label == t("models.switch_imagenet", "zh", model="ResNet-18")
    button.click().run()
    assert_no_exception(at)
    assert at.session_state["model_choice"] == "pretrained:resnet18"
    assert at.file_uploader(key="feature_maps_image_upload").value is not None  # the photo stays
    scope = tables.model_scope(IMAGENET_CLASSES, 224, "imagenet", "zh")
    assert scope in [c.value for c in at.caption]
    assert "feature_maps_imagenet" not in _button_keys(at)
    ui.models.model_cache.clear()


# ---------------------------------------------------------------- offline, and the student's own upload

def _akamaster_like(tmp_path) -> bytes:
    """A community checkpoint as people share them: a legacy-free torch.save dict with best_prec1 and a state dict
    under DataParallel's ``module.`` prefix (akamaster/pytorch_resnet_cifar10)."""
    from resnet_viz.checkpoints.read import load_random

    state = {f"module.{k}": v for k, v in load_random("resnet20", seed=3).model.state_dict().items()}
    path = tmp_path / "resnet20-12fca82f.th"
    torch.save({"best_prec1": 91.73, "state_dict": state}, path)
    return path.read_bytes()


def test_offline_the_photo_note_says_what_an_imagenet_net_needs_instead_of_a_switch(monkeypatch):
    import ui.models

    for blocker, env in (("switched_off", "1"), ("unreachable", "")):
        monkeypatch.setenv("RESNET_VIZ_OFFLINE", env)
        monkeypatch.setattr(ui.models, "download_blocker", lambda: "unreachable")  # no network here
        ui.models._download_probe.clear()
        at = app_page("pages/feature_maps.py")
        at.file_uploader(key="feature_maps_image_upload").set_value(("photo.png", _photo(), "image/png")).run()
        assert_no_exception(at)
        assert "feature_maps_imagenet" not in _button_keys(at)
        needs = [c.value for c in at.caption if c.value.startswith(t(f"models.imagenet_needs_{blocker}", "en")[:40])]
        assert needs and "resnet18-f37072fd.pth" in needs[0] and "ResNet-18" in needs[0], blocker
    ui.models._download_probe.clear()


def _scope_script():
    import streamlit as st

    from ui.models import current_model, model_picker, model_scope

    model_picker()
    loaded = current_model()
    model_scope(loaded, "upload:" + "0" * 64, "scope")  # a photo on the page
    st.text(f"loaded:{loaded.name}")


def test_a_switch_that_fails_keeps_the_students_upload_in_use_and_in_the_picker(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    import ui.models

    monkeypatch.setattr(ui.models, "imagenet_choice", lambda: "pretrained:resnet18")  # offered, then it fails
    at = AppTest.from_function(_scope_script, default_timeout=60)
    at.session_state["model_choice"] = "upload"
    at.run()
    at.sidebar.file_uploader(key="model_upload").set_value(("resnet20-12fca82f.th", _akamaster_like(tmp_path),
                                                            "application/octet-stream")).run()
    assert_no_exception(at)
    upload_choice = at.session_state["_model_in_use"]
    assert upload_choice.startswith("uploaded:") and at.text[0].value == "loaded:resnet20"
    at.button(key="scope_imagenet").click().run()  # offline: ResNet-18's weights cannot be loaded
    assert_no_exception(at)
    assert at.error and "resnet18" in at.error[0].value
    assert at.text[0].value == "loaded:resnet20"  # the student's network, not the default one
    picker = at.sidebar.selectbox(key="model_choice")
    assert picker.value == upload_choice
    assert t("models.uploaded_option", "en", model="ResNet-20") in picker.options
    assert t("models.upload_loaded", "en", model="resnet20", format="akamaster") not in [
        c.value for c in at.sidebar.caption]  # its uploader is gone; the model stays
    at.run()
    assert at.sidebar.selectbox(key="model_choice").value == upload_choice and at.text[0].value == "loaded:resnet20"


def test_an_upload_stays_in_the_picker_after_a_switch_that_works(tmp_path):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_scope_script, default_timeout=60)
    at.session_state["model_choice"] = "upload"
    at.run()
    at.sidebar.file_uploader(key="model_upload").set_value(("mine.th", _akamaster_like(tmp_path),
                                                            "application/octet-stream")).run()
    upload_choice = at.session_state["_model_in_use"]
    at.sidebar.selectbox(key="model_choice").set_value("random:resnet20").run()
    assert at.session_state["_model_in_use"] == "random:resnet20"
    picker = at.sidebar.selectbox(key="model_choice")
    assert t("models.uploaded_option", "en", model="ResNet-20") in picker.options  # still offered
    picker.set_value(upload_choice).run()
    assert_no_exception(at)
    assert at.session_state["_model_in_use"] == upload_choice and at.text[0].value == "loaded:resnet20"
