"""Where is the network looking? Grad-CAM and other attribution methods, through Captum.

Every function takes a model and one preprocessed image ``x`` (1 x 3 x H x W, normalised) and returns
numpy arrays. The model may come from a cache shared between sessions, so each call runs inside
``resnet_viz.inspect.hooks.hooked``: under the model's lock, in eval mode (BN statistics untouched), with
parameters frozen, and on exit, also on error, the previous train/eval mode and ``requires_grad`` flags
restored and every hook removed (Captum's own hooks too: it removes them, and they are registered under the lock).

- ``explain``: the predictions, Grad-CAM at one layer and the stage strip (Grad-CAM at the end of every
  stage), and when asked the saliency map (the input's gradient), all from ONE forward and ONE backward pass;
- ``guided_grad_cam``, ``integrated_gradients`` (bounded steps, progress callback), ``saliency``,
  ``occlusion`` (window and stride, progress callback): Captum's methods at input resolution.

The maps are raw (a Grad-CAM map at its layer's resolution, attributions signed): ``resnet_viz.render.colour``
scales and colours them (``cam_heat``, ``heatmap``). The predictions by name: ``resnet_viz.predictions``; what a
page offers of each method: ``resnet_viz.explain.methods``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from captum.attr import GuidedGradCam, IntegratedGradients, Occlusion, Saliency
from torch import nn

from resnet_viz.errors import InputError
from resnet_viz.inspect.hooks import hooked
from resnet_viz.models.registry import ModelSpec
from resnet_viz.predictions import Prediction, top_k

Progress = Callable[[float], None]

MAX_IG_STEPS = 256
MAX_OCCLUSION_EVALS = 4096  # occluded copies of the image, so one click cannot start an hour of work


# ---------------------------------------------------------------- layers by paper name

def target_layers(spec: ModelSpec) -> dict[str, str]:
    """Paper name -> module path of every layer Grad-CAM can target (stages, then blocks), in forward order.

    The classifier stage ("fc") has no spatial map and is left out; a VGG stage is represented by its
    last module.
    """
    out = {name: paths.split(",")[-1] for name, paths in spec.stages().items() if name != "fc"}
    out.update(spec.blocks())
    return out


def strip_layers(spec: ModelSpec) -> dict[str, str]:
    """The ends of the stages the paper's tables name: conv2_x..conv5_x, stage1..stage3, or VGG's conv*_x."""
    stages = spec.stages()
    if spec.family == "vgg":
        names = [n for n in stages if n.startswith("conv")]
    elif spec.layout == "cifar":
        names = ["stage1", "stage2", "stage3"]
    else:
        names = ["conv2_x", "conv3_x", "conv4_x", "conv5_x"]
    return {n: stages[n].split(",")[-1] for n in names}


def default_layer(spec: ModelSpec) -> str:
    """The paper name of the last stage: conv5_x (ImageNet) or stage3 (CIFAR)."""
    return list(strip_layers(spec))[-1]


def _module(model: nn.Module, layer: str | nn.Module) -> nn.Module:
    if isinstance(layer, nn.Module):
        return layer
    try:
        return model.get_submodule(layer)
    except AttributeError:
        raise InputError("attribution.unknown_layer", layer=layer) from None


def _check_input(x: torch.Tensor) -> torch.Tensor:
    if x.dim() != 4 or x.shape[0] != 1 or x.shape[1] != 3:
        raise ValueError(f"expected one image as a 1 x 3 x H x W tensor, got shape {tuple(x.shape)}")
    return x.detach()


def _check_target(target: int | None, num_classes: int) -> None:
    if target is not None and not 0 <= int(target) < num_classes:
        raise InputError("attribution.bad_target", target=target, num_classes=num_classes)


# ---------------------------------------------------------------- results

@dataclass(frozen=True)
class CamMap:
    """Grad-CAM at one layer: the raw map at the layer's resolution, and the size of the input it explains (as heat
    over that input: ``resnet_viz.render.colour.cam_heat``)."""

    name: str  # paper name (conv5_x, stage2_1, ...) or module path
    raw: np.ndarray  # h x w, ReLU(sum_k alpha_k A^k), float32, not normalised
    input_size: tuple[int, int]  # H, W of the input image

    @property
    def size(self) -> tuple[int, int]:
        return int(self.raw.shape[0]), int(self.raw.shape[1])


@dataclass(frozen=True)
class Attribution:
    """An input-resolution attribution (3 x H x W, signed) and what the method reports besides."""

    method: str
    target: int
    values: np.ndarray  # 3 x H x W, float32
    evaluations: int  # forward passes the method ran
    delta: float | None = None  # integrated gradients: completeness error sum(attr) - (f(x) - f(baseline))


@dataclass(frozen=True)
class Explanation:
    """What one forward and one backward pass give: predictions, the Grad-CAM maps and, when asked, the saliency map."""

    logits: np.ndarray  # num_classes
    probabilities: np.ndarray  # softmax of logits
    target: int  # the class explained (the top-1 prediction unless one was asked for)
    cam: CamMap
    strip: tuple[CamMap, ...]
    saliency: Attribution | None = None  # the input's gradient, when asked for: what ``saliency`` computes

    def top_k(self, classes: Sequence[str], k: int = 5) -> list[Prediction]:
        return top_k(self.logits, classes, k)


def _cam_map(name: str, raw: torch.Tensor, size: tuple[int, int]) -> CamMap:
    return CamMap(name, raw.detach().float().reshape(raw.shape[-2:]).numpy().astype(np.float32), size)


def grad_cam_formula(activation: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
    """Selvaraju et al.: alpha_k = spatial mean of dy/dA^k; map = ReLU(sum_k alpha_k A^k). Shapes N x h x w."""
    weights = gradient.mean(dim=(2, 3), keepdim=True)
    return F.relu((weights * activation).sum(dim=1))


# ---------------------------------------------------------------- Grad-CAM in one pass

def explain(model: nn.Module, x: torch.Tensor, *, layer: str = "", target: int | None = None,
            layers: Mapping[str, str] | None = None, strip: Mapping[str, str] | None = None,
            with_saliency: bool = False) -> Explanation:
    """Predictions, Grad-CAM at ``layer`` and at every layer of ``strip``, from one forward and one backward;
    with ``with_saliency`` the same backward also gives the gradient with respect to the input pixels (the
    saliency map, as ``saliency`` computes it with its own pass).

    ``layer`` is a module path (``layer4``) or a paper name found in ``layers`` (paper name -> module path,
    e.g. ``target_layers(spec)``); ``strip`` maps labels to module paths (e.g. ``strip_layers(spec)``).
    The target is the top-1 prediction of this same forward pass unless ``target`` names a class.
    Forward hooks capture the outputs of the layers; one ``torch.autograd.grad`` call takes the
    gradient of the target's score with respect to all of them at once.
    """
    x = _check_input(x)
    if with_saliency:
        x = x.clone().requires_grad_()  # the backward then runs down to the pixels, past the first layer
    layers = dict(layers or {})
    strip = dict(strip or {})
    main_path = layers.get(layer, layer)
    wanted = {main_path: layer or main_path, **{path: name for name, path in strip.items()}}
    modules = {path: _module(model, path) for path in wanted}
    outputs: dict[str, list[torch.Tensor]] = {path: [] for path in wanted}

    def capture(path: str):
        def hook(_module: nn.Module, _inputs, output):
            if not isinstance(output, torch.Tensor) or output.dim() != 4:
                raise InputError("attribution.not_spatial", layer=wanted[path])
            if not output.requires_grad:
                output.requires_grad_()  # the graph starts here: nothing earlier needs one
            outputs[path].append(output)
        return hook

    with hooked(model, forward=[(modules[p], capture(p)) for p in wanted], requires_grad=False):
        with torch.enable_grad():
            logits = model(x)
            if logits.dim() != 2 or logits.shape[0] != 1:
                raise ValueError(f"expected 1 x num_classes logits, got shape {tuple(logits.shape)}")
            _check_target(target, logits.shape[1])
            chosen = int(logits[0].argmax()) if target is None else int(target)
            for path, outs in outputs.items():
                if len(outs) != 1:
                    raise ValueError(f"module {path!r} ran {len(outs)} times in one forward pass")
            paths = list(wanted)
            acts = [outputs[p][0] for p in paths]
            grads = torch.autograd.grad(logits[0, chosen], [*acts, x] if with_saliency else acts,
                                        allow_unused=True)
        size = (int(x.shape[2]), int(x.shape[3]))
        cams = {}
        for path, act, grad in zip(paths, acts, grads):
            if grad is None:  # the layer does not reach the output (cannot happen for a stage or block)
                grad = torch.zeros_like(act)
            cams[path] = grad_cam_formula(act.detach(), grad)[0]
        logits_np = logits.detach()[0].float().numpy()
        return Explanation(
            logits=logits_np,
            probabilities=torch.softmax(logits.detach()[0].float(), 0).numpy(),
            target=chosen,
            cam=_cam_map(wanted[main_path], cams[main_path], size),
            strip=tuple(_cam_map(name, cams[path], size) for name, path in strip.items()),
            saliency=(Attribution("saliency", chosen, grads[-1].detach()[0].float().numpy(), 1)
                      if with_saliency else None),
        )


def stage_strip(model: nn.Module, x: torch.Tensor, spec: ModelSpec, *, target: int | None = None) -> Explanation:
    """Grad-CAM at the end of every stage (coarse to fine is visible side by side), in one forward/backward."""
    return explain(model, x, layer=default_layer(spec), layers=target_layers(spec), target=target,
                   strip=strip_layers(spec))


# ---------------------------------------------------------------- the other Captum methods

def _num_classes(model: nn.Module) -> int | None:
    """Outputs of the last linear layer (the classifier of every zoo model), None when there is none."""
    head = None
    for m in model.modules():
        if isinstance(m, nn.Linear):
            head = m
    return head.out_features if head is not None else None


def _validate(model: nn.Module, x: torch.Tensor, target: int) -> torch.Tensor:
    x = _check_input(x)
    classes = _num_classes(model)
    if classes is not None:
        _check_target(target, classes)
    elif int(target) < 0:
        raise InputError("attribution.bad_target", target=target, num_classes="?")
    return x


class _Counter(nn.Module):
    """The model's score for ``target``; counts forward passes (examples, not calls) and reports the fraction done
    of ``total``."""

    def __init__(self, model: nn.Module, target: int, total: int = 1, progress: Progress | None = None) -> None:
        super().__init__()
        self.model, self.target, self.total, self.progress = model, target, max(total, 1), progress
        self.done = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)[:, self.target]
        self.done += x.shape[0]
        if self.progress is not None:
            self.progress(min(self.done / self.total, 1.0))
        return out


def guided_grad_cam(model: nn.Module, x: torch.Tensor, layer: str | nn.Module, *, target: int) -> Attribution:
    """Captum's ``GuidedGradCam``: guided backpropagation times the upsampled Grad-CAM of ``layer``."""
    x = _validate(model, x, target)
    # Guided backprop hooks every ReLU; an in-place ReLU would overwrite the tensor the hook wraps.
    with hooked(model, relu_inplace=False, requires_grad=False):
        counter = _Counter(model, int(target))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU")
            method = GuidedGradCam(counter, _module(model, layer))
            attr = method.attribute(x.clone().requires_grad_(), target=None)
        return Attribution("guided_grad_cam", int(target), attr.detach()[0].float().numpy(), counter.done)


def saliency(model: nn.Module, x: torch.Tensor, *, target: int) -> Attribution:
    """Captum's ``Saliency``: the gradient of the class score with respect to the input pixels."""
    x = _validate(model, x, target)
    with hooked(model, requires_grad=False):
        counter = _Counter(model, int(target))
        attr = Saliency(counter).attribute(x.clone().requires_grad_(), target=None, abs=False)
        return Attribution("saliency", int(target), attr.detach()[0].float().numpy(), counter.done)


def integrated_gradients(model: nn.Module, x: torch.Tensor, *, target: int, steps: int = 32,
                         baseline: torch.Tensor | None = None, batch_size: int = 8,
                         progress: Progress | None = None) -> Attribution:
    """Captum's ``IntegratedGradients`` from ``baseline`` (zeros: the dataset's mean colour) to ``x``.

    ``steps`` is bounded (1..MAX_IG_STEPS); the path is evaluated ``batch_size`` images at a time and
    ``progress`` gets the fraction done after each batch.
    """
    x = _validate(model, x, target)
    if not 1 <= int(steps) <= MAX_IG_STEPS:
        raise InputError("attribution.bad_steps", steps=steps, max_steps=MAX_IG_STEPS)
    if baseline is None:
        baseline = torch.zeros_like(x)
    with hooked(model, requires_grad=False):
        counter = _Counter(model, int(target), int(steps) + 2, progress)  # +2: f(x) and f(baseline)
        attr, delta = IntegratedGradients(counter).attribute(
            x.clone(), baselines=baseline, target=None, n_steps=int(steps), method="gausslegendre",
            internal_batch_size=max(1, int(batch_size)), return_convergence_delta=True)
        return Attribution("integrated_gradients", int(target), attr.detach()[0].float().numpy(), counter.done,
                           float(delta.abs().max()))


def occlusion_evaluations(size: tuple[int, int], window: int, stride: int) -> int:
    """How many occluded images Captum's ``Occlusion`` evaluates for a window and stride."""
    h, w = size
    return (math.ceil((h - window) / stride) + 1) * (math.ceil((w - window) / stride) + 1)


def occlusion(model: nn.Module, x: torch.Tensor, *, target: int, window: int, stride: int,
              batch_size: int = 16, progress: Progress | None = None) -> Attribution:
    """Captum's ``Occlusion``: how much the class score drops when a window x window patch is greyed out.

    The patch is replaced by zeros in normalised space (the dataset's mean colour) and slid by ``stride``
    pixels; ``progress`` gets the fraction of occluded images evaluated so far.
    """
    x = _validate(model, x, target)
    h, w = int(x.shape[2]), int(x.shape[3])
    if not 1 <= int(window) <= min(h, w):
        raise InputError("attribution.bad_window", window=window, size=min(h, w))
    if not 1 <= int(stride) <= int(window):
        raise InputError("attribution.bad_stride", stride=stride, window=window)
    total = occlusion_evaluations((h, w), int(window), int(stride))
    if total > MAX_OCCLUSION_EVALS:
        raise InputError("attribution.too_many_windows", count=total, limit=MAX_OCCLUSION_EVALS)
    with hooked(model, requires_grad=False):
        counter = _Counter(model, int(target), total + 1, progress)  # +1: the unoccluded image
        with torch.no_grad():
            attr = Occlusion(counter).attribute(
                x.clone(), sliding_window_shapes=(3, int(window), int(window)),
                strides=(3, int(stride), int(stride)), baselines=0.0, target=None,
                perturbations_per_eval=max(1, int(batch_size)))
        return Attribution("occlusion", int(target), attr.detach()[0].float().numpy(), counter.done)
