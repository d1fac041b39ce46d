"""resnet_viz.first_views: the shipped first views of every shipped CIFAR-10 network (and of the nets at
initialisation that Gradient flow opens on) are those of its very weights and of the shipped sample, equal to what
the pages compute live; a retrained network, other weights at initialisation, another sample or a broken file gets
none (the page computes live)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from resnet_viz import first_views as fv
from resnet_viz.checkpoints.find import SHIPPED_DIR, load_model
from resnet_viz.inspect.layer_learns import stage_layers, top_activations
from resnet_viz.paper import gradient_flow as gf
from resnet_viz.samples import load_npz, load_test_sample
from resnet_viz.train.evaluate import evaluate_sample

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SHIPPED = sorted(p.stem for p in SHIPPED_DIR.glob("*.safetensors"))


@pytest.fixture(scope="module")
def resnet20():
    return load_model(SHIPPED_DIR / "resnet20.safetensors")


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_network_has_its_first_views(name):
    loaded = load_model(SHIPPED_DIR / f"{name}.safetensors")
    views = fv.shipped_for(loaded)
    assert views is not None, f"assets/first_views/{name}.npz is missing or stale: python -m resnet_viz first-views"
    assert list(views.tops) == [layer.key for layer in stage_layers(loaded.model, loaded.spec)]
    assert views.limit == fv.TOP_LIMIT and views.logits.shape == (1000, 10)
    flow = views.gradient_flow
    assert flow is not None and (flow.model, flow.images, flow.init) == (name, gf.BATCH_SIZE, "trained")
    assert fv.path_of(name).stat().st_size < 100_000


@pytest.mark.slow
def test_the_shipped_views_are_what_the_pages_compute_live(resnet20):
    views = fv.shipped_for(resnet20)
    images, labels, classes = load_test_sample()
    live = evaluate_sample(resnet20, images, labels, classes)
    torch.testing.assert_close(fv.logits_tensor(views), live.logits, rtol=1e-4, atol=1e-4)
    layers = stage_layers(resnet20.model, resnet20.spec)
    tops = top_activations(resnet20.model, layers, images[:views.limit], resnet20.mean, resnet20.std)
    for key, top in tops.items():
        shipped = views.tops[key]
        assert (shipped.path, shipped.rf, shipped.map_shape, shipped.images) == (top.path, top.rf, top.map_shape,
                                                                                 top.images)
        np.testing.assert_allclose(shipped.values, top.values, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(shipped.channel_mean, top.channel_mean, rtol=1e-4)  # stored here, live on any CPU
        agree = (shipped.image == top.image) & (shipped.row == top.row) & (shipped.col == top.col)
        assert agree.mean() > 0.99  # a tie in the last digit may swap two patches
        assert shipped.busiest(3) == top.busiest(3)


def test_a_retrained_network_gets_none(resnet20):
    retrained = dataclasses.replace(resnet20, model=_copy_with_one_weight_changed(resnet20.model))
    assert fv.shipped_for(resnet20) is not None
    assert fv.shipped_for(retrained) is None


def _copy_with_one_weight_changed(model: torch.nn.Module) -> torch.nn.Module:
    import copy

    other = copy.deepcopy(model)
    with torch.no_grad():
        next(other.parameters()).view(-1)[0] += 1e-3
    return other


def test_another_sample_or_a_broken_file_gets_none(resnet20, tmp_path):
    views = fv.load("resnet20")
    fv.save(dataclasses.replace(views, sample="another sample"), tmp_path)
    assert fv.load("resnet20", tmp_path) is not None and fv.shipped_for(resnet20, tmp_path) is None
    fv.save(views, tmp_path)
    again = fv.shipped_for(resnet20, tmp_path)
    assert again is not None and np.array_equal(again.logits, views.logits)
    assert all(np.array_equal(again.tops[k].image, views.tops[k].image) for k in views.tops)
    data = fv.path_of("resnet20", tmp_path).read_bytes()
    fv.path_of("resnet20", tmp_path).write_bytes(data[: len(data) // 2])
    assert fv.load("resnet20", tmp_path) is None
    fv.path_of("resnet20", tmp_path).write_bytes(b"not an npz")
    assert fv.load("resnet20", tmp_path) is None
    assert fv.load("plain20", tmp_path) is None  # no file


def _assert_same_flow(shipped: gf.GradientFlow, live: gf.GradientFlow) -> None:
    assert (shipped.model, shipped.residual, shipped.layers, shipped.blocks, shipped.images, shipped.batch_norm,
            shipped.init) == (live.model, live.residual, live.layers, live.blocks, live.images, live.batch_norm,
                              live.init)
    for name in ("weight_grad_norm", "signal_std", "grad_in_norm", "grad_out_norm"):
        np.testing.assert_allclose(getattr(shipped, name), getattr(live, name), rtol=1e-4, err_msg=name)
    assert shipped.loss == pytest.approx(live.loss, rel=1e-5) and shipped.verdict == live.verdict


@pytest.mark.slow
def test_the_shipped_gradient_flows_are_what_the_page_computes_live(resnet20):
    images, labels, _ = load_npz(limit=gf.BATCH_SIZE)  # the page's batch (ui/gradient_flow.py)
    _assert_same_flow(fv.shipped_for(resnet20).gradient_flow, gf.of_checkpoint(resnet20, images, labels))
    for residual in (False, True):
        shipped = fv.shipped_at_init(gf.DEFAULT_DEPTH, residual, True, gf.DEFAULT_INIT, gf.SEED)
        assert shipped is not None, "assets/first_views/gradient_flow_at_init.json is missing or stale"
        _assert_same_flow(shipped, gf.at_init(gf.DEFAULT_DEPTH, images, labels, residual=residual))


def test_a_setting_or_weights_at_initialisation_not_shipped_get_none(tmp_path):
    args = (gf.DEFAULT_DEPTH, True, True, gf.DEFAULT_INIT)
    assert fv.shipped_at_init(*args, gf.SEED) is not None
    assert fv.shipped_at_init(*args, gf.SEED + 1) is None  # another seed draws other weights
    assert fv.shipped_at_init(20, True, True, gf.DEFAULT_INIT, gf.SEED) is None
    assert fv.shipped_at_init(gf.DEFAULT_DEPTH, True, False, gf.DEFAULT_INIT, gf.SEED) is None
    shipped = json.loads((fv.FIRST_VIEWS_DIR / fv.AT_INIT_FILE).read_text())
    # the same setting drawn by another torch (or another cifar.py): other weights, another key
    other = {key.replace(":CifarNet:", ":CifarNet:0"): flow for key, flow in shipped.items()}
    (tmp_path / fv.AT_INIT_FILE).write_text(json.dumps(other))
    assert fv.shipped_at_init(*args, gf.SEED, folder=tmp_path) is None
    (tmp_path / fv.AT_INIT_FILE).write_text(json.dumps(shipped)[:500])
    assert fv.shipped_at_init(*args, gf.SEED, folder=tmp_path) is None
    (tmp_path / fv.AT_INIT_FILE).write_text("[1, 2]")
    assert fv.shipped_at_init(*args, gf.SEED, folder=tmp_path) is None
    assert fv.shipped_at_init(*args, gf.SEED, folder=tmp_path / "none") is None
    fv.save_at_init({key: gf.GradientFlow.from_dict(flow) for key, flow in shipped.items()}, tmp_path)
    assert fv.shipped_at_init(*args, gf.SEED, folder=tmp_path) == fv.shipped_at_init(*args, gf.SEED)


def test_a_file_from_before_the_gradient_flow_was_shipped_still_serves(resnet20, tmp_path):
    fv.save(dataclasses.replace(fv.load("resnet20"), gradient_flow=None), tmp_path)
    views = fv.shipped_for(resnet20, tmp_path)
    assert views is not None and views.gradient_flow is None and views.logits.shape == (1000, 10)


def test_the_gradient_flow_page_opens_on_what_was_shipped(monkeypatch):
    """Its first view (plain and residual nets at initialisation, plain-56 and ResNet-56 trained) computes no
    measurement: the functions that would are made to fail."""
    import streamlit as st

    from tests.conftest import app_page, assert_no_exception

    def computes(*args, **kwargs):
        raise AssertionError("a shipped first view was computed")

    st.cache_data.clear()
    monkeypatch.setattr(gf, "at_init", computes)
    monkeypatch.setattr(gf, "of_checkpoint", computes)
    for lang in ("en", "zh"):
        at = app_page("pages/gradient_flow.py", lang=lang)
        assert_no_exception(at)
        assert len(at.get("plotly_chart")) >= 2
