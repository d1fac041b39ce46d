"""resnet_viz.first_views: the shipped first views of every shipped CIFAR-10 network are those of its very weights and
of the shipped sample, equal to what the pages compute live; a retrained network, another sample or a broken file
gets none (the page computes live)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from resnet_viz import first_views as fv
from resnet_viz.checkpoints.find import SHIPPED_DIR, load_model
from resnet_viz.inspect.layer_learns import stage_layers, top_activations
from resnet_viz.samples import load_test_sample
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
