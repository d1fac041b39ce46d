"""Plain vs residual gradient flow: one batch forward and backward, measured per layer and per block.

For every conv (and the final fc) layer: the norm of the gradient of the loss with respect to its weights.
For every block: the std of the signal it outputs (forward) and the norm of the gradient that reaches its
input and its output (backward). Each block's output is the next block's input, so the blocks' factors
||dL/dx_in|| / ||dL/dx_out|| multiply to the whole stack's ratio ||dL/dx_0|| / ||dL/dx_N|| (the chain rule).

At initialisation the experiment is controlled: batch normalisation on or off (off: every BN replaced by an
identity in a fresh model) and the weight initialisation (He, as the paper; a small Gaussian N(0, 0.01^2);
Xavier). Networks are built fresh per request (BN in training mode, as in the first step of training); a
trained model is measured on a private copy (taken under the model's lock), so a cached model is never
modified. Hooks are removed when the measurement ends, also on error.

Norms are summed in float64: a deep plain net's gradients near the input reach 1e20 and more, whose squares
overflow float32 although every element is finite. Fresh nets run in float64: without BN nothing holds the
signal's scale (a vanishing signal reaches 1e-50 at depth 56, below float32's smallest number), and with BN a
plain net's exploding backward pass magnifies float32's rounding (plain-56's first-block gradient moved by 1.7 %
between two runs of this code on one machine type, with the same weights and batch); a signal that falls below
``UNDERFLOW`` even so is reported as such, not computed on in denormal numbers. A trained checkpoint is measured
in its own float32: where its backward pass overflowed (an element inf or nan), the norm stays inf and
``overflowed_layers`` counts those layers, so a page can say so.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz.data import normalize
from resnet_viz.errors import InputError
from resnet_viz.inspect.hooks import hooked, locked, on_grad
from resnet_viz.models.cifar import cifar_net
from resnet_viz.models.registry import CIFAR10_MEAN, CIFAR10_STD, MODELS, display_name
from resnet_viz.seeded import seeded

MAX_DEPTH = 326  # 6n+2 with n = 54; deeper is possible but no longer "a few seconds" on a CPU
# The depth slider's stops: every 6n+2 from 8 to 110 (the paper's range), then a few deeper nets.
DEPTH_CHOICES = tuple(range(8, 111, 6)) + (164, 218, 326)
BATCH_SIZE = 16
# The first view of the page, the same for every student (shipped: resnet_viz.first_views): BN on, as the paper.
DEFAULT_DEPTH, DEFAULT_INIT, SEED = 56, "he", 0
INITS = ("he", "small", "xavier")  # He (the paper's, as cifar.py builds it), N(0, SMALL_STD^2), Xavier (normal)
SMALL_STD = 0.01
# This app's convention for the verdicts: the gradient at the first block within a factor of 1000 of the
# gradient at the last block is "healthy"; below 1/1000 it "vanishes", above 1000 it "explodes".
HEALTHY_FACTOR = 1000.0
UNDERFLOW = 1e-200  # a block output whose largest value is below this: the signal has vanished (float64 still holds)


class SignalUnderflow(InputError):
    """The forward signal of a net without BN became too small to compute on."""


@dataclass(frozen=True)
class GradientFlow:
    """Per-layer and per-block measurements of one forward/backward pass."""

    model: str
    residual: bool
    layers: tuple[str, ...]  # conv/fc layers, forward order, named as the pages name them (stage1_1.conv1)
    weight_grad_norm: tuple[float, ...]  # ||dL/dW|| of each layer
    blocks: tuple[str, ...]  # "stem", then every block as the pages name it (stage1_1, ...; ImageNet conv2_1, ...)
    signal_std: tuple[float, ...]  # std of each block's output over the batch
    grad_in_norm: tuple[float, ...]  # ||dL/dx|| at each block's input (the stem: at its output)
    grad_out_norm: tuple[float, ...]  # ||dL/dy|| at each block's output
    loss: float
    images: int
    batch_norm: bool = True
    init: str = "he"  # "he", "small", "xavier", or "trained"

    @property
    def block_gain(self) -> tuple[float, ...]:
        """||dL/dx|| / ||dL/dy|| of every block after the stem: < 1 shrinks the gradient, > 1 grows it."""
        return tuple(i / o if o > 0 else math.nan
                     for i, o in zip(self.grad_in_norm[1:], self.grad_out_norm[1:]))

    @property
    def median_gain(self) -> float:
        gains = sorted(g for g in self.block_gain if math.isfinite(g))
        return gains[len(gains) // 2] if gains else math.nan

    @property
    def chain_product(self) -> float:
        """The product of every block's factor (the chain rule, block by block)."""
        return math.prod(self.block_gain)

    @property
    def overall_ratio(self) -> float:
        """||dL/dx_0|| / ||dL/dx_N||: the gradient at the first block's input over that at the last block's output."""
        first, last = self.grad_in_norm[1], self.grad_out_norm[-1]
        return first / last if last > 0 else math.nan

    @property
    def mean_factor(self) -> float:
        """The geometric mean of the blocks' factors: the one factor that, repeated, gives ``overall_ratio``."""
        ratio = self.overall_ratio
        return ratio ** (1 / len(self.block_gain)) if ratio > 0 and math.isfinite(ratio) else ratio

    @property
    def verdict(self) -> str:
        """"vanishing", "exploding" or "healthy" by ``overall_ratio`` (this app's threshold, HEALTHY_FACTOR)."""
        ratio = self.overall_ratio
        if not math.isfinite(ratio):
            return "exploding" if math.isinf(ratio) else "unknown"
        if ratio < 1 / HEALTHY_FACTOR:
            return "vanishing"
        return "exploding" if ratio > HEALTHY_FACTOR else "healthy"

    @property
    def first_to_last_ratio(self) -> float:
        """||dL/dW|| of the first conv divided by that of the last conv (> 1: the gradient grew on its way back);
        inf or nan when a norm overflowed (see ``overflowed_layers``)."""
        convs = self.weight_grad_norm[:-1]  # the last weight layer is the fc
        return convs[0] / convs[-1] if convs[-1] > 0 else math.inf

    @property
    def overflowed_layers(self) -> int:
        """How many weight layers' gradients overflowed float32's range in the backward pass (no finite norm)."""
        return sum(not math.isfinite(v) for v in self.weight_grad_norm)

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GradientFlow:
        """The inverse of ``to_dict``."""
        values: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()}
        return cls(**values)


def check_depth(depth: int) -> int:
    depth = int(depth)
    if depth < 8 or depth > MAX_DEPTH or (depth - 2) % 6:
        raise InputError("gradient_flow.bad_depth", depth=depth, max_depth=MAX_DEPTH)
    return depth


def check_init(init: str) -> str:
    if init not in INITS:
        raise InputError("gradient_flow.bad_init", init=init, inits=", ".join(INITS))
    return init


def _blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The stem's ReLU (its output enters the first block), then every residual/plain block in order."""
    out = [("stem", model.get_submodule("relu"))]
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        seq = getattr(model, stage, None)
        if seq is not None:
            out += [(f"{stage}.{i}", block) for i, block in enumerate(seq)]
    return out


def _norm(g: torch.Tensor) -> float:
    """The L2 norm accumulated in float64 (inf or nan only when ``g`` itself holds one)."""
    return float(g.detach().double().norm())


def _weight_layers(model: nn.Module) -> list[tuple[str, nn.Conv2d | nn.Linear]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _tracking(blocks: Sequence[tuple[str, nn.Module]], name: str) -> tuple[dict[str, list], list]:
    """(record, forward hooks that fill it): each block's output std, and hooks on its gradients."""
    rec: dict[str, list] = {"std": [math.nan] * len(blocks), "out": [0.0] * len(blocks), "in": [0.0] * len(blocks)}

    def forward_hook(i: int):
        def hook(_module, inputs, output):
            if float(output.detach().abs().max()) < UNDERFLOW:
                raise SignalUnderflow("gradient_flow.underflow", net=display_name(name), block=i,
                                      blocks=len(blocks) - 1, tiny=f"{UNDERFLOW:.0e}")
            rec["std"][i] = float(output.detach().double().std())
            if output.requires_grad:
                on_grad(output, lambda g: rec["out"].__setitem__(i, _norm(g)))
            x = inputs[0]
            if i > 0 and x.requires_grad:
                on_grad(x, lambda g: rec["in"].__setitem__(i, _norm(g)))
        return hook

    return rec, [(module, forward_hook(i)) for i, (_, module) in enumerate(blocks)]


def measure(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, *, name: str,
            residual: bool, batch_norm: bool = True, init: str = "trained") -> GradientFlow:
    """One forward and backward pass of ``model`` (whose mode and weights the caller chose) on a batch."""
    blocks = _blocks(model)
    layers = _weight_layers(model)
    rec, hooks = _tracking(blocks, name)
    with torch.enable_grad(), hooked(model, forward=hooks, mode=None):
        for p in model.parameters():
            p.grad = None
        try:
            x = inputs.clone().requires_grad_(True)
            loss = F.cross_entropy(model(x), labels)
            loss.backward()
            grads = tuple(_norm(m.weight.grad) if m.weight.grad is not None else 0.0 for _, m in layers)
        finally:
            for p in model.parameters():
                p.grad = None
    rec["in"][0] = rec["out"][0]  # the stem has no block input; its output gradient stands in
    spec = MODELS.get(name)
    named = spec.paper_path if spec is not None else str  # blocks as the pages name them: stage1_3, conv3_1
    return GradientFlow(name, residual, tuple(named(n) for n, _ in layers), grads, tuple(named(n) for n, _ in blocks),
                        tuple(rec["std"]), tuple(rec["in"]), tuple(rec["out"]), float(loss.detach()), len(inputs),
                        batch_norm, init)


def _initialise(model: nn.Module, init: str) -> None:
    """Re-draw every conv and fc weight (He is cifar.py's own initialisation: left as built)."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            if init == "small":
                nn.init.normal_(m.weight, 0.0, SMALL_STD)
            elif init == "xavier":
                nn.init.xavier_normal_(m.weight)


def _without_batch_norm(model: nn.Module) -> None:
    """Replace every BN of a fresh (unshared) model by an identity."""
    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, nn.BatchNorm2d):
                setattr(parent, child_name, nn.Identity())


def fresh_net(depth: int, *, residual: bool, batch_norm: bool = True, init: str = "he", seed: int = 0) -> nn.Module:
    """Plain-``depth`` or ResNet-``depth`` (CIFAR, option A) freshly initialised, in training mode, in float64
    (the module docstring says why)."""
    depth, init = check_depth(depth), check_init(init)
    with seeded(seed):
        model = cifar_net(depth, residual=residual)
        _initialise(model, init)
    if not batch_norm:
        _without_batch_norm(model)
    return model.double().train()


def at_init(depth: int, images: torch.Tensor, labels: torch.Tensor, *, residual: bool, seed: int = 0,
            batch_norm: bool = True, init: str = "he", mean: Sequence[float] | None = None,
            std: Sequence[float] | None = None) -> GradientFlow:
    """The measurement on ``fresh_net``; the batch is the same for every setting."""
    model = fresh_net(depth, residual=residual, batch_norm=batch_norm, init=init, seed=seed)
    x = normalize(images, mean or CIFAR10_MEAN, std or CIFAR10_STD)
    x = x.to(next(model.parameters()).dtype)
    name = f"{'resnet' if residual else 'plain'}{depth}"
    return measure(model, x, labels, name=name, residual=residual, batch_norm=batch_norm, init=init)


def of_checkpoint(loaded, images: torch.Tensor, labels: torch.Tensor) -> GradientFlow:
    """The same measurement on a trained model (a private copy in eval mode: BN uses its running statistics)."""
    with locked(loaded.model):  # a copy taken while another thread hooks the model would copy its hooks
        model = copy.deepcopy(loaded.model).eval()
    for p in model.parameters():
        p.requires_grad_(True)
    x = normalize(images, loaded.mean, loaded.std)
    return measure(model, x, labels, name=loaded.name, residual=loaded.spec.residual)


def compare_at_init(depth: int, images: torch.Tensor, labels: torch.Tensor, *, seed: int = 0,
                    batch_norm: bool = True, init: str = "he") -> tuple[GradientFlow, GradientFlow]:
    """(plain, residual) at the same depth, on the same batch, from the same seed, with the same setting."""
    return (at_init(depth, images, labels, residual=False, seed=seed, batch_norm=batch_norm, init=init),
            at_init(depth, images, labels, residual=True, seed=seed, batch_norm=batch_norm, init=init))
