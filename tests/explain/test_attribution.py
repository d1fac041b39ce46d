"""Grad-CAM against a hand computation and Captum (tests/reference_gradcam.py), the one-pass stage strip, the other
methods and their registry, and that nothing is left behind on a (shared) model: hooks, train/eval mode,
requires_grad flags, .grad, BN statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import GuidedGradCam, LayerGradCam
from torch import nn

from resnet_viz.errors import InputError
from resnet_viz.explain import attribution as A
from resnet_viz.explain.methods import METHODS
from resnet_viz.i18n import LANGUAGES, catalogue
from resnet_viz.models.registry import get_spec
from resnet_viz.predictions import top_k
from resnet_viz.render.colour import SIGNS, cam_heat, heatmap
from tests.reference_gradcam import grad_cam

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _clean(model: nn.Module) -> bool:
    """No hook of any kind on any module, and no gradient stored on any parameter."""
    for m in model.modules():
        if m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks:
            return False
    return all(p.grad is None for p in model.parameters())


def _model(name: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return get_spec(name).build().eval()


def _image(size: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed))


class Tiny(nn.Module):
    """x -> 1x1 conv (2 channels) -> global average pool -> linear: dy_c/dA^k_ij = W[c, k] / (h w)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Conv2d(3, 2, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2, 3)
        with torch.no_grad():
            self.features.weight.copy_(torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, -1.0]]).view(2, 3, 1, 1))
            self.features.bias.copy_(torch.tensor([0.0, 0.5]))
            self.fc.weight.copy_(torch.tensor([[2.0, -1.0], [-1.0, 3.0], [0.0, 0.0]]))
            self.fc.bias.zero_()

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def _hand_grad_cam(x: np.ndarray, cls: int) -> np.ndarray:
    """Grad-CAM of Tiny worked out with numpy only (no autograd)."""
    a = np.stack([x[0], x[1] - x[2] + 0.5])  # the 1x1 conv
    w_fc = np.array([[2.0, -1.0], [-1.0, 3.0], [0.0, 0.0]])
    h, w = a.shape[1:]
    alpha = w_fc[cls] / (h * w)  # spatial mean of the gradient: constant over the map here
    return np.maximum((alpha[:, None, None] * a).sum(0), 0.0)


@pytest.mark.parametrize("cls", [0, 1])
def test_grad_cam_matches_a_hand_computation(cls):
    model = Tiny().eval()
    x = _image(4, seed=cls)
    expected = _hand_grad_cam(x[0].numpy().astype(np.float64), cls)
    assert expected.max() > 0 and (expected == 0).any()  # the ReLU matters in this example
    ours = A.explain(model, x, layer="features", target=cls)
    captum = grad_cam(model, x, "features", target=cls)
    np.testing.assert_allclose(ours.cam.raw, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(captum.cam.raw, expected, rtol=1e-5, atol=1e-6)
    heat = cam_heat(ours.cam.raw, ours.cam.input_size)
    assert heat.shape == (4, 4) and heat.max() == pytest.approx(1.0)
    assert _clean(model)


def test_the_map_sits_on_the_object():
    """Tiny's class 0 is 'red': a red square in one corner of a black picture must be where the heat is."""
    x = torch.zeros(1, 3, 16, 16)
    x[0, 0, 2:6, 9:13] = 1.0
    model = Tiny().eval()
    for result in (A.explain(model, x, layer="features", target=0), grad_cam(model, x, "features", target=0)):
        assert result.target == 0
        hot = cam_heat(result.cam.raw, result.cam.input_size) > 0.5
        assert hot[2:6, 9:13].all() and not hot[8:, :].any() and not hot[:, :7].any()


def test_grad_cam_formula_is_spatially_averaged_gradients_then_relu():
    act = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[4.0, 0.0], [0.0, 0.0]]]])
    grad = torch.tensor([[[[1.0, 1.0], [1.0, 1.0]], [[-8.0, 0.0], [0.0, 0.0]]]])  # alphas 1 and -2
    expected = torch.tensor([[[0.0, 2.0], [3.0, 4.0]]])  # relu(A0 - 2 A1) = relu([[-7, 2], [3, 4]])
    torch.testing.assert_close(A.grad_cam_formula(act, grad), expected)


@pytest.mark.parametrize("name,size", [("resnet20", 32), ("plain20", 32), ("resnet18", 64)])
def test_stage_strip_equals_layer_grad_cam_per_stage(name, size):
    spec = get_spec(name)
    model = _model(name)
    x = _image(size)
    result = A.stage_strip(model, x, spec)
    paths = A.strip_layers(spec)
    assert [c.name for c in result.strip] == list(paths)
    for cam, path in zip(result.strip, paths.values()):
        ref = LayerGradCam(model, model.get_submodule(path)).attribute(x, target=result.target,
                                                                        relu_attributions=True)
        np.testing.assert_allclose(cam.raw, ref.detach()[0, 0].numpy(), rtol=1e-4, atol=1e-6)
        heat = cam_heat(cam.raw, cam.input_size)
        assert heat.shape == (size, size)
        assert 0.0 <= heat.min() and heat.max() <= 1.0
    sizes = [c.size for c in result.strip]
    assert sizes == sorted(sizes, reverse=True) and sizes[-1] == result.cam.size  # coarse at the end
    if name.startswith("resnet20"):
        assert sizes == [(32, 32), (16, 16), (8, 8)]
    assert _clean(model)


def test_stage_strip_runs_one_forward_and_one_backward(monkeypatch):
    spec = get_spec("resnet20")
    model = _model("resnet20")
    x = _image(32)
    forwards = []
    handle = model.register_forward_hook(lambda *_: forwards.append(1))
    grad_calls = []
    real_grad = torch.autograd.grad

    def counting_grad(*args, **kwargs):
        grad_calls.append(1)
        return real_grad(*args, **kwargs)

    monkeypatch.setattr(torch.autograd, "grad", counting_grad)
    try:
        result = A.explain(model, x, layer="stage2_1", layers=A.target_layers(spec), strip=A.strip_layers(spec))
    finally:
        handle.remove()
    assert len(forwards) == 1 and len(grad_calls) == 1
    assert result.cam.name == "stage2_1" and result.cam.size == (16, 16) and len(result.strip) == 3


def test_predictions_come_from_the_same_pass_as_the_cam():
    spec = get_spec("resnet20")
    model = _model("resnet20")
    x = _image(32)
    with torch.no_grad():
        logits = model(x)[0]
    for result in (A.explain(model, x, layer="stage3", layers=A.target_layers(spec)),
                   grad_cam(model, x, "layer3")):
        np.testing.assert_allclose(result.logits, logits.numpy(), rtol=1e-5, atol=1e-5)
        assert result.target == int(logits.argmax())
        np.testing.assert_allclose(result.probabilities.sum(), 1.0, rtol=1e-5)
    # Captum's forward runs once for both the logits and the map
    recorder_calls = []
    handle = model.register_forward_hook(lambda *_: recorder_calls.append(1))
    try:
        grad_cam(model, x, "layer3")
    finally:
        handle.remove()
    assert len(recorder_calls) == 1


def test_explicit_target_changes_the_map_not_the_predictions():
    spec = get_spec("resnet20")
    model = _model("resnet20")
    x = _image(32)
    top = A.stage_strip(model, x, spec)
    other = (top.target + 1) % 10
    chosen = A.stage_strip(model, x, spec, target=other)
    assert chosen.target == other
    np.testing.assert_allclose(chosen.logits, top.logits, rtol=1e-6)
    assert not np.allclose(chosen.cam.raw, top.cam.raw)


def test_model_state_is_restored_even_when_it_was_training_or_partly_frozen():
    spec = get_spec("resnet20")
    model = _model("resnet20").train()
    model.layer1.eval()
    model.conv1.weight.requires_grad_(False)
    modes = {n: m.training for n, m in model.named_modules()}
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    stats = {k: v.clone() for k, v in model.state_dict().items()}
    x = _image(32)
    A.stage_strip(model, x, spec)
    grad_cam(model, x, "layer2")
    A.guided_grad_cam(model, x, "layer3", target=1)
    A.saliency(model, x, target=2)
    A.integrated_gradients(model, x, target=3, steps=4)
    A.occlusion(model, x, target=4, window=16, stride=16)
    assert {n: m.training for n, m in model.named_modules()} == modes
    assert {n: p.requires_grad for n, p in model.named_parameters()} == flags
    for k, v in model.state_dict().items():  # BN ran in eval mode: running statistics untouched
        torch.testing.assert_close(v, stats[k])
    assert all(m.inplace for m in model.modules() if isinstance(m, nn.ReLU))
    assert _clean(model)


@pytest.mark.parametrize("call", [
    lambda m, x: A.explain(m, x, layer="layer3", target=10),
    lambda m, x: grad_cam(m, x, "layer3", target=-1),
    lambda m, x: A.explain(m, x, layer="no.such.layer"),
    lambda m, x: A.explain(m, x, layer="linear"),  # no spatial map to explain
    lambda m, x: A.integrated_gradients(m, x, target=0, steps=0),
    lambda m, x: A.integrated_gradients(m, x, target=0, steps=A.MAX_IG_STEPS + 1),
    lambda m, x: A.occlusion(m, x, target=0, window=33, stride=1),
    lambda m, x: A.occlusion(m, x, target=0, window=4, stride=5),
    lambda m, x: A.saliency(m, x, target=12),
])
def test_bad_requests_raise_input_errors_and_leave_nothing_behind(call):
    model = _model("resnet20")
    flags = [p.requires_grad for p in model.parameters()]
    with pytest.raises(InputError) as info:
        call(model, _image(32))
    assert info.value.message("zh") != info.value.key  # the message exists in Chinese too
    assert _clean(model) and not model.training
    assert [p.requires_grad for p in model.parameters()] == flags


def test_occlusion_refuses_runs_that_are_too_long():
    model = _model("resnet20")
    with pytest.raises(InputError):
        A.occlusion(model, _image(224)[:, :, :100, :100], target=0, window=1, stride=1)
    assert _clean(model)


def test_saliency_is_the_input_gradient_of_the_class_score():
    model = _model("resnet20")
    x = _image(32)
    ours = A.saliency(model, x, target=3)
    xr = x.clone().requires_grad_()
    (grad,) = torch.autograd.grad(model(xr)[0, 3], xr)
    np.testing.assert_allclose(ours.values, grad[0].numpy(), rtol=1e-4, atol=1e-7)
    assert ours.evaluations == 1


@pytest.mark.parametrize("target", [None, 3])
def test_the_explanation_pass_gives_the_same_saliency_map_as_its_own_pass(target):
    """The page reads saliency from Grad-CAM's backward: the same numbers as Captum's pass, for the class explained,
    the caller's input untouched and the shared model left clean."""
    spec = get_spec("resnet20")
    model = _model("resnet20")
    x = _image(32)
    exp = A.explain(model, x, layer="stage3", layers=A.target_layers(spec), strip=A.strip_layers(spec),
                    target=target, with_saliency=True)
    alone = A.saliency(model, x, target=exp.target)
    assert exp.saliency is not None and exp.saliency.target == exp.target and exp.saliency.evaluations == 1
    np.testing.assert_allclose(exp.saliency.values, alone.values, rtol=1e-4, atol=1e-7)
    without = A.explain(model, x, layer="stage3", layers=A.target_layers(spec), strip=A.strip_layers(spec),
                        target=target)
    assert without.saliency is None
    np.testing.assert_array_equal(without.cam.raw, exp.cam.raw)
    for a, b in zip(without.strip, exp.strip):
        np.testing.assert_allclose(a.raw, b.raw, rtol=1e-5, atol=1e-7)
    assert not x.requires_grad and x.grad is None and _clean(model)


@pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU")
def test_guided_grad_cam_matches_captum_on_a_model_without_in_place_relus():
    model = _model("resnet20")
    x = _image(32)
    ours = A.guided_grad_cam(model, x, "layer3", target=2)
    reference = _model("resnet20")
    for m in reference.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False
    ref = GuidedGradCam(reference, reference.layer3).attribute(x.clone().requires_grad_(), target=2)
    np.testing.assert_allclose(ours.values, ref.detach()[0].numpy(), rtol=1e-4, atol=1e-6)
    assert ours.values.shape == (3, 32, 32)


def test_integrated_gradients_are_complete_and_report_progress():
    model = _model("resnet20")
    x = _image(32)
    seen: list[float] = []
    result = A.integrated_gradients(model, x, target=5, steps=16, batch_size=4, progress=seen.append)
    assert result.values.shape == (3, 32, 32)
    with torch.no_grad():
        gap = float(model(x)[0, 5] - model(torch.zeros_like(x))[0, 5])
    assert result.values.sum() == pytest.approx(gap, abs=0.05 * abs(gap) + 1e-3)  # completeness
    assert result.delta is not None and result.delta < 0.05 * abs(gap) + 1e-3
    assert seen and seen == sorted(seen) and seen[-1] == pytest.approx(1.0) and len(seen) >= 4
    assert result.evaluations == 16 + 2


class QuadrantNet(nn.Module):
    """The class-0 score only reads the top-left 8 x 8 pixels."""

    def forward(self, x):
        s = x[:, :, :8, :8].sum(dim=(1, 2, 3))
        return torch.stack([s, -s], dim=1)


def test_occlusion_finds_the_pixels_that_matter_and_counts_its_work():
    x = torch.ones(1, 3, 16, 16)
    seen: list[float] = []
    result = A.occlusion(QuadrantNet(), x, target=0, window=4, stride=4, batch_size=3, progress=seen.append)
    heat = result.values.sum(0)
    assert (heat[:8, :8] > 0).all() and np.allclose(heat[8:, :], 0) and np.allclose(heat[:, 8:], 0)
    assert result.evaluations == A.occlusion_evaluations((16, 16), 4, 4) + 1 == 17
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0)


def test_occlusion_evaluation_count_matches_captum():
    model = _model("resnet20")
    for window, stride in ((5, 3), (7, 2), (8, 8)):
        result = A.occlusion(model, _image(30), target=0, window=window, stride=stride, batch_size=64)
        assert result.evaluations == A.occlusion_evaluations((30, 30), window, stride) + 1


def test_top_k_is_sorted_and_named():
    logits = np.array([0.0, 3.0, 1.0, 2.0])
    top = top_k(logits, ("a", "b", "c", "d"), k=3)
    assert [p.name for p in top] == ["b", "d", "c"]
    assert top[0].probability > top[1].probability > top[2].probability
    assert sum(p.probability for p in top_k(logits, "abcd", k=10)) == pytest.approx(1.0)


def test_layer_tables_follow_the_paper():
    r50, r20, vgg = get_spec("resnet50"), get_spec("resnet20"), get_spec("vgg19")
    assert A.strip_layers(r50) == {"conv2_x": "layer1", "conv3_x": "layer2", "conv4_x": "layer3",
                                   "conv5_x": "layer4"}
    assert A.default_layer(r50) == "conv5_x" and A.default_layer(r20) == "stage3"
    assert list(A.strip_layers(r20)) == ["stage1", "stage2", "stage3"]
    layers = A.target_layers(r50)
    assert "fc" not in layers and layers["conv4_6"] == "layer3.5" and layers["conv1"] == "conv1"
    assert A.strip_layers(vgg)["conv5_x"] == "features.35"
    cifar18 = get_spec("resnet18_cifar")  # Table 1's stages on 32x32 inputs, the classifier named as kuangliu's
    assert A.strip_layers(cifar18) == A.strip_layers(r50) and A.default_layer(cifar18) == "conv5_x"
    assert A.target_layers(cifar18)["conv5_2"] == "layer4.1" and "fc" not in A.target_layers(cifar18)


def test_explain_on_vgg_stage_ends_with_in_place_relus():
    spec = get_spec("vgg19")
    model = _model("vgg19")
    result = A.explain(model, _image(32), layer=A.default_layer(spec), layers=A.target_layers(spec),
                       strip=A.strip_layers(spec))
    assert [c.size for c in result.strip] == [(32, 32), (16, 16), (8, 8), (4, 4), (2, 2)]
    assert _clean(model)


@pytest.mark.parametrize("name,dataset", [("resnet20", "cifar10"), ("resnet18", "imagenet")])
def test_every_method_runs_on_every_sample(name, dataset):
    from resnet_viz.checkpoints.read import load_random
    from resnet_viz.images import load_sample, preprocess, sample_images

    loaded = load_random(name)
    spec, model = loaded.spec, loaded.model
    samples = sample_images(dataset)
    assert samples
    for i, path in enumerate(samples.values()):
        x = preprocess(load_sample(path), loaded).tensor
        size = x.shape[-1]
        exp = A.stage_strip(model, x, spec)
        heat = cam_heat(exp.cam.raw, exp.cam.input_size)
        assert np.isfinite(heat).all() and len(exp.strip) == len(A.strip_layers(spec))
        results = [A.saliency(model, x, target=exp.target),
                   A.guided_grad_cam(model, x, A.strip_layers(spec)[A.default_layer(spec)], target=exp.target)]
        if dataset == "cifar10" or i == 0:  # the slow methods on one photo only
            results += [A.integrated_gradients(model, x, target=exp.target, steps=4),
                        A.occlusion(model, x, target=exp.target, window=size // 2, stride=size // 2)]
        for r in results:
            assert r.values.shape == (3, size, size) and np.isfinite(r.values).all()
            for sign in SIGNS:
                heat = heatmap(r.values, sign=sign)
                assert heat.min() >= 0 and heat.max() <= 1
        assert _clean(model)


def test_shares_the_capture_lock_so_pages_never_interleave_hooks_on_a_cached_model():
    import threading

    from resnet_viz.inspect.hooks import model_lock

    spec = get_spec("resnet20")
    model = _model("resnet20")
    done = threading.Event()
    worker = threading.Thread(target=lambda: (A.stage_strip(model, _image(32), spec), done.set()))
    with model_lock(model):
        worker.start()
        assert not done.wait(0.5)  # waits while the feature-map capture holds the model
    worker.join(60)
    assert done.is_set() and _clean(model)


# ---------------------------------------------------------------- the registry of methods

def test_the_registry_keeps_the_pages_methods_order_and_first_signs():
    assert list(METHODS) == ["grad_cam", "guided_grad_cam", "integrated_gradients", "saliency", "occlusion"]
    assert {m.name: m.default_sign for m in METHODS.values()} == {
        "grad_cam": "positive", "guided_grad_cam": "absolute", "integrated_gradients": "absolute",
        "saliency": "absolute", "occlusion": "positive"}
    # Cache keys: only these maps change with the Grad-CAM layer; only these go through the queue of heavy work.
    assert [m.name for m in METHODS.values() if m.layer] == ["grad_cam", "guided_grad_cam"]
    assert [m.name for m in METHODS.values() if m.slow] == ["integrated_gradients", "occlusion"]


@pytest.mark.parametrize("method", list(METHODS.values()), ids=list(METHODS))
def test_every_entry_is_complete(method):
    keys = [method.label, method.help, *(p.label for p in method.params), *(p.help for p in method.params if p.help)]
    if method.passes_label:
        keys.append(method.passes_label)
    for lang in LANGUAGES:
        assert all(key in catalogue(lang) for key in keys), (lang, keys)
    assert method.default_sign in SIGNS
    assert method.signed or method.run is None  # a map of one sign only: Grad-CAM's, shown as the pass gives it
    names = [p.name for p in method.params]
    for i, p in enumerate(method.params):
        for side in (32, 224):
            low, high, default = p.bounds(side)
            assert low <= default <= high and (default - low) % p.step == 0
        assert p.at_most is None or p.at_most in names[:i]
    assert (method.passes is None) == (method.passes_label is None)


@pytest.mark.parametrize("method", [m for m in METHODS.values() if m.run is not None],
                         ids=[m.name for m in METHODS.values() if m.run is not None])
def test_every_entry_runs_as_the_page_calls_it(method):
    """Target, the settings at their first values, the layer when the map depends on it, progress when slow."""
    model, x = _model("resnet20"), _image(32)
    params = {p.name: p.bounds(32)[2] for p in method.params}
    kwargs: dict = dict(params)
    seen: list[float] = []
    if method.layer:
        kwargs["layer"] = "layer3"
    if method.slow:
        kwargs["progress"] = seen.append
    assert method.run is not None
    result = method.run(model, x, target=3, **kwargs)
    assert result.method == method.name and result.target == 3 and result.values.shape == (3, 32, 32)
    assert not method.slow or seen[-1] == pytest.approx(1.0)
    if method.passes is not None:
        assert result.evaluations == method.passes((32, 32), params) + 1  # and the image itself
    assert _clean(model)
