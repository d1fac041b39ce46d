"""Gradient flow at initialisation: plain vs residual, and on a trained model without modifying it."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from resnet_viz.checkpoints.read import load_checkpoint
from resnet_viz.checkpoints.write import save_checkpoint
from resnet_viz.errors import InputError
from resnet_viz.models.registry import build_model
from resnet_viz.paper.gradient_flow import _norm, at_init, check_depth, compare_at_init, of_checkpoint

# Small CIFAR nets: one intra-op thread is fastest on the shared CPU (and restored after each test).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _batch(n: int = 8, size: int = 16, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8),
            torch.randint(0, 10, (n,), generator=g))


def test_shapes_and_finite_values():
    x, y = _batch()
    flow = at_init(20, x, y, residual=True)
    assert len(flow.layers) == 20 and flow.layers[0] == "conv1" and flow.layers[-1] == "linear"
    assert len(flow.blocks) == 10 and flow.blocks[0] == "stem" and flow.blocks[-1] == "layer3.2"
    for values in (flow.weight_grad_norm, flow.signal_std, flow.grad_in_norm, flow.grad_out_norm):
        assert all(math.isfinite(v) and v > 0 for v in values)
    assert len(flow.block_gain) == 9 and math.isfinite(flow.loss) and flow.images == 8


def test_deep_plain_net_gradients_grow_toward_the_input_resnet_stays_near_one():
    """With BN in training mode, each plain block multiplies the backward gradient by about sqrt(2);
    the identity path keeps a residual block's factor near 1 (dL/dx = dL/dy (dF/dx + 1))."""
    x, y = _batch(8, 8)
    plain, res = compare_at_init(44, x, y)
    assert plain.first_to_last_ratio > 10 * res.first_to_last_ratio
    med = lambda v: sorted(v)[len(v) // 2]  # noqa: E731
    assert abs(med(res.block_gain) - 1) < abs(med(plain.block_gain) - 1)
    assert plain.grad_in_norm[0] > 100 * plain.grad_out_norm[-1]


def test_deterministic_by_seed():
    x, y = _batch(4, 8)
    a = at_init(14, x, y, residual=False, seed=3)
    b = at_init(14, x, y, residual=False, seed=3)
    c = at_init(14, x, y, residual=False, seed=4)
    assert a.weight_grad_norm == b.weight_grad_norm
    assert a.weight_grad_norm != c.weight_grad_norm


def test_trained_model_is_left_untouched(tmp_path):
    torch.manual_seed(0)
    model = build_model("resnet20")
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_var.uniform_(0.5, 2.0)
    path = save_checkpoint(model, tmp_path / "r20", {"model": "resnet20", "shortcut": "A"})
    loaded = load_checkpoint(path)
    before = {k: v.clone() for k, v in loaded.model.state_dict().items()}
    x, y = _batch(4, 8)
    flow = of_checkpoint(loaded, x, y)
    assert all(math.isfinite(v) for v in flow.weight_grad_norm) and flow.residual
    after = loaded.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in loaded.model.parameters())
    assert not loaded.model.training
    assert sum(len(m._forward_hooks) for m in loaded.model.modules()) == 0


@pytest.mark.parametrize("depth", [7, 21, 0, 10_000])
def test_impossible_depths_are_refused(depth):
    with pytest.raises(InputError) as err:
        check_depth(depth)
    assert str(depth) in err.value.message("zh")


def test_figures_use_a_log_scale_for_gradients():
    from resnet_viz.i18n import t
    from resnet_viz.render.plots.paper import block_figure, gradient_norms_figure

    x, y = _batch(4, 8)
    plain, res = compare_at_init(14, x, y)
    fig = gradient_norms_figure([plain, res], "zh")
    assert fig.layout.yaxis.type == "log" and [tr.name for tr in fig.data] == ["plain-14", "ResNet-14"]
    assert list(fig.data[0].y) == list(plain.weight_grad_norm)
    gain = block_figure([plain, res], "gain", "en")
    assert list(gain.data[1].y) == list(res.block_gain)
    assert gain.layout.yaxis.title.text == t("gradient_flow.y_gain", "en")


def test_hooks_are_removed_when_the_pass_fails():
    from resnet_viz.paper.gradient_flow import measure

    model = build_model("resnet20").train()

    def broken(_x):
        raise RuntimeError("boom")

    model.layer3.forward = broken
    x, y = _batch(2, 8)
    with pytest.raises(RuntimeError, match="boom"):
        measure(model, x.float() / 255, y, name="resnet20", residual=True)
    assert sum(len(m._forward_hooks) for m in model.modules()) == 0


def test_thread_count_is_left_alone_and_the_copy_waits_for_the_models_lock(tmp_path):
    import threading

    from resnet_viz.inspect.hooks import model_lock

    torch.set_num_threads(2)  # the fixture restores it
    x, y = _batch(4, 8)
    compare_at_init(8, x, y)
    assert torch.get_num_threads() == 2
    torch.set_num_threads(1)
    path = save_checkpoint(build_model("resnet20"), tmp_path / "r20", {"model": "resnet20", "shortcut": "A"})
    loaded = load_checkpoint(path)
    done = threading.Event()
    worker = threading.Thread(target=lambda: (of_checkpoint(loaded, x, y), done.set()))
    with model_lock(loaded.model):  # e.g. a capture hooking the cached model: a copy now would copy its hooks
        worker.start()
        assert not done.wait(0.3)
    worker.join(60)
    assert done.is_set() and torch.get_num_threads() == 1


def test_norms_of_huge_finite_gradients_do_not_overflow():
    """A deep plain net's gradients near the input reach 1e20: their squares overflow float32, not their norm."""
    g = torch.full((1000,), 1e20, dtype=torch.float32)
    assert not math.isfinite(float(g.norm()))  # float32 accumulation: the inf plain-326 showed
    assert _norm(g) == pytest.approx(1e20 * math.sqrt(1000), rel=1e-6)
    g[0] = math.inf  # an element that overflowed in the backward pass itself: no norm can recover it
    assert _norm(g) == math.inf


def test_overflowed_layers_are_counted_and_the_ratio_is_not_a_number():
    x, y = _batch(4, 8)
    flow = at_init(14, x, y, residual=False)
    norms = (math.inf, math.inf) + flow.weight_grad_norm[2:]
    broken = dataclasses.replace(flow, weight_grad_norm=norms)
    assert broken.overflowed_layers == 2
    assert not math.isfinite(broken.first_to_last_ratio)
