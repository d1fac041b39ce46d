"""The shared model picker's fallback: an unavailable pick shows a translated reason and a working model."""

from streamlit.testing.v1 import AppTest


def _script():
    import streamlit as st

    from ui.models import current_model

    loaded = current_model()
    st.write(f"loaded:{loaded.name}:{loaded.source}")


def test_offline_pretrained_pick_falls_back_with_a_message():
    at = AppTest.from_function(_script, default_timeout=60)
    at.session_state["model_choice"] = "pretrained:resnet50"
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


def test_model_key_tells_weights_and_preprocessing_apart():
    from dataclasses import replace

    from resnet_viz.checkpoints.identity import model_key
    from resnet_viz.checkpoints.read import load_random

    a, same, other = load_random("resnet20", seed=0), load_random("resnet20", seed=0), load_random("resnet20", seed=1)
    assert model_key(a) == model_key(same)  # two objects, the same weights: results can be shared
    assert model_key(a) != model_key(other)
    for change in ({"mean": (0.5, 0.5, 0.5)}, {"std": (0.2, 0.2, 0.2)}, {"resize_size": 36},
                   {"classes": a.classes[:5]}):
        assert model_key(replace(a, **change)) != model_key(a), change


def test_a_cached_model_is_hashed_once_when_loaded(monkeypatch):
    from resnet_viz.checkpoints.identity import model_key
    from resnet_viz.checkpoints.read import load_random
    from ui.models import load_cached, model_cache

    model_cache.clear()
    loaded = load_cached("random:plain20")

    def no_second_hash(*args, **kwargs):
        raise AssertionError("the weights were hashed after loading")

    monkeypatch.setattr(loaded.model, "state_dict", no_second_hash)
    assert model_key(loaded) == model_key(load_cached("random:plain20")) == model_key(load_random("plain20"))


def test_twin_checkpoints_and_weights_sources(tmp_path, monkeypatch):
    import os
    from pathlib import Path

    from resnet_viz.checkpoints import find
    from resnet_viz.checkpoints.read import load_random
    from resnet_viz.checkpoints.write import save_checkpoint
    from ui.models import twin_checkpoints, weights_source

    monkeypatch.setattr(find, "SHIPPED_DIR", tmp_path / "shipped")  # only what this test writes
    user_dir = Path(os.environ["RESNET_VIZ_CHECKPOINTS"])
    paths = {name: str(save_checkpoint(load_random(name).model, user_dir / name, {"model": name}))
             for name in ("resnet56", "plain56", "resnet20", "plain20", "resnet32")}
    assert twin_checkpoints() == [("plain20", paths["plain20"], "resnet20", paths["resnet20"]),
                                  ("plain56", paths["plain56"], "resnet56", paths["resnet56"])]
    assert weights_source("resnet32") == paths["resnet32"]
    assert weights_source("plain32") is None  # no checkpoint, and the zoo has no pretrained plain net
    assert weights_source("resnet34") is None  # offline, nothing downloaded


def test_the_model_cache_is_bounded_by_bytes(monkeypatch):
    from ui.models import load_cached, model_cache

    monkeypatch.setenv("RESNET_VIZ_MODEL_CACHE_MB", "2")  # room for one ResNet-20 (1.1 MB) but not two
    model_cache.clear()
    first = load_cached("random:resnet20")
    assert load_cached("random:resnet20") is first  # one shared object while it stays
    load_cached("random:plain20")
    cache = model_cache()
    assert len(cache.keys()) == 1 and cache.nbytes <= 2 * 1024 * 1024
    assert load_cached("random:resnet20") is not first  # evicted by size, loaded again
    model_cache.clear()


def _picker_script():
    import streamlit as st

    from ui.models import current_model, model_picker

    model_picker()
    loaded = current_model()
    st.text(f"loaded:{loaded.name}:{loaded.label}")


def test_an_uploaded_checkpoint_is_kept_as_a_model_not_as_bytes(monkeypatch, tmp_path):
    """The model goes into the process's byte-bounded cache (two sessions uploading the same file share it), the
    session keeps its key and name, the uploader is drawn anew, empty; when the cache drops the model, the page says
    to upload it again."""
    import torch

    from resnet_viz.checkpoints.read import load_random
    from resnet_viz.checkpoints.write import save_checkpoint
    from resnet_viz.i18n import t
    from resnet_viz.models.registry import build_model
    from tests.conftest import held_uploads, uploader
    from ui.models import model_cache

    torch.manual_seed(4)
    path = save_checkpoint(build_model("resnet32"), tmp_path / "mine", {"model": "resnet32", "shortcut": "A"})
    data = path.read_bytes()
    model_cache.clear()
    sessions = []
    for _ in range(2):
        at = AppTest.from_function(_picker_script, default_timeout=60)
        at.session_state["model_choice"] = "upload"
        at.run()
        uploader(at, "model_upload").set_value(("mine.safetensors", data, "application/octet-stream")).run()
        assert not at.exception and at.text[0].value == "loaded:resnet32:resnet32 (mine.safetensors)"
        assert uploader(at, "model_upload").key == "model_upload_1" and not held_uploads(at)
        sessions.append(at)
    uploads = [k for k in model_cache().keys() if k[0] == "upload"]
    assert len(uploads) == 1  # one model for both sessions
    monkeypatch.setattr(model_cache(), "max_bytes", 1)  # the next entry pushes every older one out
    model_cache().get_or_create("another model", lambda: load_random("plain20"))
    at = sessions[0]
    at.run()
    assert not at.exception and at.text[0].value.startswith("loaded:resnet20:")  # the default model meanwhile
    assert [e.value for e in at.error] == [t("models.upload_dropped", "en", file="mine.safetensors", budget_mb=1024)]
    model_cache.clear()
