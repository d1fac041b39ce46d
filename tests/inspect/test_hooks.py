"""resnet_viz.inspect.hooks: hooks always removed, modes and flags restored, one computation per model at a time,
and (the regression that made it necessary) Figure 7 and a feature-map capture on one shared model, at once."""

from __future__ import annotations

import gc
import socket
import threading
import weakref
from contextlib import nullcontext

import numpy as np
import pytest
import torch
from torch import nn

from resnet_viz.inspect import hooks
from resnet_viz.inspect.feature_maps import Capture, capture
from resnet_viz.inspect.hooks import hooked, locked, model_lock, on_grad
from resnet_viz.models.registry import build_model, get_spec
from resnet_viz.paper.figure7 import layer_responses

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MEAN, STD = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)


def _hooks_left(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
               + len(m._backward_pre_hooks) for m in model.modules())


def _flags(model: nn.Module) -> tuple[list[bool], list[bool], list[bool]]:
    return ([m.training for m in model.modules()], [p.requires_grad for p in model.parameters()],
            [m.inplace for m in model.modules() if isinstance(m, nn.ReLU)])


def _resnet20(seed: int = 0) -> nn.Module:
    """ResNet-20 with seeded random weights and BN statistics, in eval mode."""
    torch.manual_seed(seed)
    model = build_model("resnet20")
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return model.eval()


def _mixed_model() -> nn.Module:
    """Some modules in train mode, a frozen parameter, one ReLU not in place: a state to restore exactly."""
    model = _resnet20()
    model.layer2.train()
    model.conv1.weight.requires_grad_(False)
    model.layer1[0].relu1.inplace = False
    return model


@pytest.mark.parametrize("fail", [False, True])
def test_hooks_fire_inside_and_everything_is_undone_after(fail):
    model = _mixed_model()
    before = _flags(model)
    seen: list[str] = []
    x = torch.randn(2, 3, 8, 8, requires_grad=True)

    class Boom(Exception):
        pass

    with pytest.raises(Boom) if fail else nullcontext():
        with hooked(model, forward={"layer1.0": lambda *_: seen.append("forward")},
                    forward_pre=[(model.layer2, lambda *_: seen.append("pre"))],
                    backward={"layer3": lambda *_: seen.append("backward")},
                    requires_grad=True, relu_inplace=False) as same:
            assert same is model and not any(m.training for m in model.modules())
            assert all(p.requires_grad for p in model.parameters())
            assert not any(m.inplace for m in model.modules() if isinstance(m, nn.ReLU))
            assert _hooks_left(model) >= 3
            model(x).sum().backward()
            if fail:
                raise Boom
    assert seen == ["forward", "pre", "backward"]
    assert _hooks_left(model) == 0 and _flags(model) == before


def test_mode_none_leaves_the_mode_and_train_sets_it():
    model = _mixed_model()
    before = _flags(model)
    with hooked(model, mode=None):
        assert _flags(model) == before
    with hooked(model, mode="train"):
        assert all(m.training for m in model.modules())
    assert _flags(model) == before


def _free_in_another_thread(model: nn.Module) -> bool:
    got: list[bool] = []

    def probe():
        lock = model_lock(model)
        got.append(lock.acquire(timeout=0.2))
        if got[-1]:
            lock.release()

    worker = threading.Thread(target=probe)
    worker.start()
    worker.join(10)
    return got == [True]


def test_a_bad_path_registers_nothing_and_releases_the_lock():
    model = _resnet20()
    with pytest.raises(AttributeError):
        with hooked(model, forward={"layer1.0": lambda *_: None, "no.such.layer": lambda *_: None}):
            pass
    assert _hooks_left(model) == 0
    assert _free_in_another_thread(model)


def test_the_lock_is_reentrant_per_model_and_excludes_other_threads():
    model, other = _resnet20(), _resnet20()
    with hooked(model, forward={"layer1": lambda *_: None}):
        with hooked(model, forward={"layer2": lambda *_: None}), locked(model):  # nested, same thread
            assert _hooks_left(model) == 2
        assert not _free_in_another_thread(model) and _free_in_another_thread(other)
    assert _free_in_another_thread(model) and _hooks_left(model) == 0


def test_locks_do_not_keep_models_alive():
    model = _resnet20()
    with hooked(model):
        pass
    ref, held = weakref.ref(model), len(hooks._LOCKS)
    del model
    gc.collect()
    assert ref() is None and len(hooks._LOCKS) < held


def test_gradient_hooks_on_tensors_seen_by_forward_hooks():
    model = _resnet20()
    norms: list[float] = []

    def forward(_module, _inputs, output):
        on_grad(output, lambda g: norms.append(float(g.norm())))

    with hooked(model, forward={"layer3": forward}, requires_grad=False):
        model(torch.randn(1, 3, 8, 8, requires_grad=True)).sum().backward()
    assert len(norms) == 1 and norms[0] > 0 and _hooks_left(model) == 0


def _same_capture(a: Capture, b: Capture) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.arrays(), b.arrays(), strict=True))


def test_figure7_and_captures_on_one_shared_model_at_once_equal_their_solo_results():
    """Reproduced before the lock was forced: Figure 7 counted 440 per-image columns for 400 images, and 9 of 40
    captures differed from a solo capture. Both now take the model's lock."""
    model, spec = _resnet20(), get_spec("resnet20")
    images = torch.randint(0, 256, (300, 3, 16, 16), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    solo_responses = layer_responses(model, images, mean=MEAN, std=STD, batch_size=50, per_image=True)
    solo_capture = capture(model, x, spec)
    captures: list[Capture] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def captures_loop():
        try:
            start.wait()
            for _ in range(20):
                captures.append(capture(model, x, spec))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    worker = threading.Thread(target=captures_loop)
    worker.start()
    start.wait()
    together = layer_responses(model, images, mean=MEAN, std=STD, batch_size=50, per_image=True)
    worker.join(120)
    assert not errors and len(captures) == 20
    assert together.per_image is not None and together.per_image.sums.shape[1] == len(images)
    assert together.std == solo_responses.std
    assert sum(not _same_capture(c, solo_capture) for c in captures) == 0
    assert _hooks_left(model) == 0


def test_no_request_changes_a_process_wide_setting(monkeypatch):
    """Figure 7, gradient flow, captures and attributions never touch torch's thread count or socket defaults."""
    from resnet_viz.explain.attribution import stage_strip
    from resnet_viz.paper.gradient_flow import compare_at_init

    def forbidden(*_args):
        raise AssertionError("a request changed a process-wide setting")

    timeout = socket.getdefaulttimeout()
    threads = torch.get_num_threads()
    model, spec = _resnet20(), get_spec("resnet20")
    images = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    with monkeypatch.context() as patch:  # undone before the thread fixture restores its setting
        patch.setattr(torch, "set_num_threads", forbidden)
        patch.setattr(socket, "setdefaulttimeout", forbidden)
        layer_responses(model, images, mean=MEAN, std=STD)
        compare_at_init(8, images, torch.tensor([0, 1, 2, 3]))
        capture(model, torch.randn(1, 3, 8, 8), spec)
        stage_strip(model, torch.randn(1, 3, 8, 8), spec)
    assert torch.get_num_threads() == threads and socket.getdefaulttimeout() == timeout
