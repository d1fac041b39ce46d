"""Activation capture, residual block anatomy, receptive fields (resnet_viz.inspect.feature_maps)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from resnet_viz.checkpoints.identity import model_fingerprint
from resnet_viz.checkpoints.read import load_random
from resnet_viz.inspect.feature_maps import (
    LAYER_CAP,
    _store,
    anatomy,
    capture,
    channel_mosaic,
    channel_order,
    channel_ratio,
    effective_receptive_field,
    layer_specs,
    mass_extent,
    page_of,
    ratios,
    receptive_fields,
    value_range,
)
from resnet_viz.models.registry import get_spec

# captures are frozen (read-only arrays); the tests read them through torch.from_numpy, which warns about that
pytestmark = pytest.mark.filterwarnings("ignore:The given NumPy array is not writable")


def _hooks_left(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def _randomise_bn(model: torch.nn.Module, seed: int = 0) -> None:
    """Non-trivial BN statistics, so that F(x) is not just a scaled copy of its input."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


def _x(size: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def resnet20():
    loaded = load_random("resnet20")
    _randomise_bn(loaded.model)
    return loaded


def test_capture_matches_a_manual_forward(resnet20):
    model, x = resnet20.model, _x(32)
    cap = capture(model, x, resnet20.spec, dtype=np.float32)
    assert list(cap.layers) == ["conv1"] + list(resnet20.spec.blocks())
    with torch.no_grad():
        h = model.relu(model.bn1(model.conv1(x)))
        torch.testing.assert_close(torch.from_numpy(cap.layers["conv1"].array), h[0])
        for key, path in resnet20.spec.blocks().items():
            h = model.get_submodule(path)(h)
            torch.testing.assert_close(torch.from_numpy(cap.layers[key].array), h[0], rtol=1e-5, atol=1e-5)
        probs = torch.softmax(model(x)[0], 0).numpy()
    np.testing.assert_allclose(cap.probs, probs, rtol=1e-5, atol=1e-6)
    rec = cap.layers["stage2_1"]
    assert rec.shape == (32, 16, 16) and rec.factor == 1
    full = torch.from_numpy(rec.array)
    assert rec.mean == pytest.approx(float(full.mean()), rel=1e-5)
    assert rec.std == pytest.approx(float(full.std(unbiased=False)), rel=1e-4)
    assert rec.zero_fraction == pytest.approx(float((full == 0).float().mean()))
    c = int(np.argmax(rec.channel_max))
    r, k = rec.channel_argmax[c]
    assert full[c, r, k] == full[c].max()
    assert cap.top(3)[0][1] == pytest.approx(float(probs.max()))
    assert cap.stages == {"conv1": "conv1", "stage1": "stage1_3", "stage2": "stage2_3", "stage3": "stage3_3"}


def _manual_pre_relu(block: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = block.relu1(block.bn1(block.conv1(x))) if hasattr(block, "relu1") else block.relu(block.bn1(block.conv1(x)))
    out = block.bn2(block.conv2(out))
    if hasattr(block, "bn3"):
        out = block.bn3(block.conv3(block.relu(out)))
    sc = getattr(block, "shortcut", None) if hasattr(block, "shortcut") else block.downsample
    return out + (sc(x) if sc is not None else x)


@pytest.mark.parametrize("name,shortcut,size", [("resnet20", "A", 32), ("resnet20", "B", 32), ("resnet18", None, 64),
                                                ("resnet50", None, 64)])
def test_anatomy_identity_f_plus_x_is_the_pre_relu_output(name, shortcut, size):
    loaded = load_random(name, shortcut=shortcut)
    _randomise_bn(loaded.model, seed=1)
    model, x = loaded.model, _x(size, seed=2)
    cap = capture(model, x, loaded.spec, dtype=np.float32)
    kinds = {b.shortcut for b in cap.blocks.values()}
    assert "identity" in kinds and kinds & {"pad", "projection"}
    prev = None
    for key, path in loaded.spec.blocks().items():
        block = model.get_submodule(path)
        block_in = torch.from_numpy(cap.layers[cap.blocks[key].input_key].array)[None]
        with torch.no_grad():
            expected = _manual_pre_relu(block, block_in)[0].numpy()
        parts = {c: anatomy(cap, key, c) for c in (0, 3)}
        for c, p in parts.items():
            np.testing.assert_allclose(p["sum"], expected[c], rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(p["f"] + p["x"], p["sum"], rtol=0, atol=0)
            np.testing.assert_allclose(p["out"], cap.layers[key].array[c], rtol=1e-5, atol=1e-5)
        mean = anatomy(cap, key)
        np.testing.assert_allclose(mean["sum"], expected.mean(axis=0), rtol=1e-4, atol=1e-4)
        assert cap.blocks[key].input_key == (prev or ("maxpool" if loaded.spec.dataset == "imagenet" else "conv1"))
        prev = key
    for key, ratio in ratios(cap):
        rec = cap.blocks[key]
        full_x = rec.shortcut_array if rec.shortcut_array is not None else cap.layers[rec.input_key].array
        assert ratio == pytest.approx(np.linalg.norm(rec.residual_array) / np.linalg.norm(full_x), rel=1e-4)
    assert channel_ratio(cap, "conv2_1" if size == 64 else "stage1_1", 0) > 0


def test_plain_net_has_no_split():
    loaded = load_random("plain20")
    cap = capture(loaded.model, _x(32), loaded.spec)
    assert {b.shortcut for b in cap.blocks.values()} == {"none"}
    assert ratios(cap) == []
    with pytest.raises(ValueError, match="plain"):
        anatomy(cap, "stage2_1")
    plain18 = load_random("plain18")
    assert {b.shortcut for b in capture(plain18.model, _x(32), plain18.spec).blocks.values()} == {"none"}


def test_hooks_removed_after_success_and_error(resnet20):
    model = resnet20.model
    capture(model, _x(32), resnet20.spec)
    assert _hooks_left(model) == 0
    with pytest.raises(RuntimeError):
        capture(model, torch.randn(1, 5, 32, 32), resnet20.spec)  # wrong number of channels: conv1 fails
    assert _hooks_left(model) == 0
    effective_receptive_field(model, _x(32), "layer1.0", row=3, col=4)
    assert _hooks_left(model) == 0
    with pytest.raises(ValueError):
        effective_receptive_field(model, _x(32), "layer1.0", row=99, col=0)
    assert _hooks_left(model) == 0
    with pytest.raises(ValueError):
        capture(model, torch.randn(2, 3, 32, 32), resnet20.spec)
    # the capture did not change the model: a second one gives the same numbers
    a = capture(model, _x(32), resnet20.spec)
    b = capture(model, _x(32), resnet20.spec)
    np.testing.assert_array_equal(a.layers["stage3_3"].array, b.layers["stage3_3"].array)


def test_storage_is_float16_and_bounded():
    big = torch.rand(64, 224, 224)  # 3.2 M values, like VGG's first layers
    arr, factor = _store(big, np.float16)
    assert arr.dtype == np.float16 and arr.size <= LAYER_CAP and factor == 2 and arr.shape == (64, 112, 112)
    np.testing.assert_allclose(arr[0, 0, 0], big[0, :2, :2].mean().item(), rtol=1e-3)
    small, f1 = _store(torch.rand(16, 32, 32), np.float16)
    assert f1 == 1 and small.shape == (16, 32, 32)
    huge, _ = _store(torch.full((2, 4, 4), 1e6), np.float16)  # untrained deep nets get there
    assert huge.dtype == np.float32 and np.isfinite(huge).all() and huge.max() == 1e6


def test_receptive_fields_follow_the_paper():
    for name, expected in (("resnet18", {"conv1": 7, "maxpool": 11, "conv2_1": 27, "conv5_2": 435}),
                           ("resnet50", {"conv2_1": 19, "conv5_3": 427}),
                           ("resnet20", {"conv1": 3, "stage1_1": 7, "stage2_1": 21, "stage3_3": 81})):
        model = get_spec(name).build()
        layers = layer_specs(model, get_spec(name))
        rfs = receptive_fields(model, layers)
        for key, size in expected.items():
            assert rfs[key].size == size, (name, key)
    model = get_spec("resnet18").build()
    rfs = receptive_fields(model, layer_specs(model, get_spec("resnet18")))
    assert rfs["conv5_2"].jump == 32 and rfs["conv1"].jump == 2
    assert rfs["conv1"].box(0, 0, 224, 224) == (0, 0, 3, 3)
    assert rfs["conv1"].box(10, 20, 224, 224) == (17, 37, 23, 43)


def test_effective_receptive_field_lies_inside_the_theoretical_one(resnet20):
    model = resnet20.model
    cap = capture(model, _x(32), resnet20.spec)
    for key in ("conv1", "stage1_2", "stage2_1"):
        rec = cap.layers[key]
        row, col = (int(v) for v in rec.channel_argmax[2])  # the strongest unit: never cut off by its ReLU
        grad = effective_receptive_field(model, _x(32), rec.path, row=row, col=col, channel=2)
        assert grad.shape == (32, 32) and grad.max() > 0
        top, left, bottom, right = rec.rf.box(row, col, 32, 32)
        outside = grad.copy()
        outside[top:bottom + 1, left:right + 1] = 0
        assert outside.max() == 0, key
        assert 1 <= mass_extent(grad, (rec.rf.centre(row), rec.rf.centre(col))) <= rec.rf.size
    conv1 = effective_receptive_field(model, _x(32), "relu", row=5, col=9, channel=None)
    assert 0 < np.count_nonzero(conv1) <= 9


def test_views():
    rec_arr = np.arange(2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3)
    mosaic = channel_mosaic(rec_arr, np.array([1, 0]), cols=2)
    assert mosaic.shape == (3, 7) and np.isnan(mosaic[:, 3]).all()
    np.testing.assert_array_equal(mosaic[:, :3], rec_arr[1])
    assert list(page_of(np.arange(10), 1, 4)) == [4, 5, 6, 7]
    assert list(page_of(np.arange(10), 9, 4)) == [8, 9]
    lo, hi = value_range(np.array([-2.0, 1.0, 3.0]), symmetric=True, q=100)
    assert (lo, hi) == (-3.0, 3.0)
    assert value_range(np.zeros(4)) == (0.0, 1.0)
    grad = np.zeros((9, 9))
    grad[4, 4] = 1
    assert mass_extent(grad, (4, 4)) == 1
    grad[4, 6] = 1
    assert mass_extent(grad, (4, 4)) == 5


def test_channel_order_and_fingerprint(resnet20):
    cap = capture(resnet20.model, _x(32), resnet20.spec)
    rec = cap.layers["stage1_1"]
    order = channel_order(rec, "mean")
    assert sorted(order) == list(range(16)) and rec.channel_mean[order[0]] == rec.channel_mean.max()
    assert list(channel_order(rec, "index")) == list(range(16))
    assert rec.channel_max[channel_order(rec, "max")[0]] == rec.channel_max.max()
    a, b = load_random("resnet20", seed=0).model, load_random("resnet20", seed=1).model
    assert model_fingerprint(a) == model_fingerprint(load_random("resnet20", seed=0).model)
    assert model_fingerprint(a) != model_fingerprint(b)


def test_features_command(capsys, tmp_path):
    import json

    from resnet_viz.cli import main

    sample = Path(__file__).resolve().parents[2] / "assets" / "samples" / "cifar10" / "cat_1.png"
    assert main(["features", str(sample), "--model", "random:resnet20", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["layer"] for r in out["layers"]][:2] == ["conv1", "stage1_1"] and len(out["ratios"]) == 9
    assert main(["features", str(sample), "--model", "random:plain20"]) == 0
    text = capsys.readouterr().out
    assert "stage3_3" in text and "||F(x)||/||x||" in text
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    assert main(["features", str(bad)]) == 2
    assert "bad.png" in capsys.readouterr().err


def test_a_capture_is_frozen_so_the_page_can_share_it(resnet20):
    """The feature-map page caches one capture per (model, image) for every session: no view may change it."""
    cap = capture(resnet20.model, _x(32), resnet20.spec)
    arrays = list(cap.arrays())
    assert len(arrays) == 1 + 4 * len(cap.layers) + sum(b.residual_array is not None for b in cap.blocks.values()) + \
        sum(b.shortcut_array is not None for b in cap.blocks.values())
    assert not any(a.flags.writeable for a in arrays)
    rec = cap.layers["stage2_1"]
    with pytest.raises(ValueError):
        rec.array[0, 0, 0] = 1
    before = rec.array.copy()
    order = channel_order(rec, "mean")
    channel_mosaic(rec.array, page_of(order, 0, 16), cols=4)
    for key, block in cap.blocks.items():
        if block.residual_array is not None:
            anatomy(cap, key, 0)
            anatomy(cap, key, None)
    value_range(rec.array)
    np.testing.assert_array_equal(rec.array, before)
