"""What every layer of a network produces for one image, captured in a single forward pass.

``capture`` registers forward hooks inside a context manager (removed on exit, also on error), runs the
model once and keeps, as numpy arrays:

- the output of every layer a page shows: the stem (``conv1``), the max pool of ImageNet nets, every
  residual / plain block (by its paper name, ``conv3_1`` or ``stage2_1``), every ReLU of VGG;
- the anatomy of every residual block: what the shortcut carries (after the projection or the zero
  padding where there is one), F(x) (the residual branch after its last BN: ``bn2`` of a basic block,
  ``bn3`` of a bottleneck), from which F(x) + x and ReLU(F(x) + x) follow;
- per layer: mean, std, fraction of zeros, per-channel means / maxima / where the maximum lies, and the
  theoretical receptive field of its units.

Arrays are kept in float16 and huge maps are average-pooled down to a bound (``LAYER_CAP`` values per
array), so one capture of ResNet-152 at 224 x 224 stays near 50 MB. Statistics are computed before that,
in float32, on the full maps.

``effective_receptive_field`` is separate: a forward pass stopped at the chosen layer and one backward
pass, run only when asked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz.checkpoints.read import FP16_MAX
from resnet_viz.inspect.hooks import hooked
from resnet_viz.inspect.receptive_field import ReceptiveField, walk
from resnet_viz.models.blocks import shortcut_of
from resnet_viz.models.cifar import padded_channels
from resnet_viz.models.registry import ModelSpec

LAYER_CAP = 1 << 20  # values per stored array (ImageNet conv1: 64 x 112 x 112 = 802,816 fits)
TOP_K = 5


# ---------------------------------------------------------------- which layers, and their receptive fields

@dataclass(frozen=True)
class LayerSpec:
    key: str  # what the page shows: "conv1", "maxpool", "conv3_1", "stage2_3", VGG "conv4_2", "pool3"
    path: str  # module path whose output is captured
    stage: str  # paper stage ("conv1", "conv3_x", "stage2", ...)
    kind: str  # "stem", "pool", "block", "relu"


def layer_specs(model: nn.Module, spec: ModelSpec) -> list[LayerSpec]:
    """The layers a feature-map view offers, in forward order."""
    modules = dict(model.named_modules())
    out: list[LayerSpec] = []
    if spec.family == "vgg":
        count: dict[str, int] = {}
        for path, module in modules.items():
            stage = spec.paper_name(path)
            if not path.startswith("features.") or stage is None:
                continue
            if isinstance(module, nn.ReLU):
                count[stage] = count.get(stage, 0) + 1
                out.append(LayerSpec(f"{stage.split('_')[0]}_{count[stage]}", path, stage, "relu"))
            elif isinstance(module, nn.MaxPool2d):
                out.append(LayerSpec(stage, path, stage, "pool"))
        return out
    out.append(LayerSpec("conv1", "relu", "conv1", "stem"))
    if isinstance(modules.get("maxpool"), nn.MaxPool2d):
        out.append(LayerSpec("maxpool", "maxpool", spec.paper_name("layer1") or "conv2_x", "pool"))
    for key, path in spec.blocks().items():
        out.append(LayerSpec(key, path, spec.paper_name(path.split(".")[0]) or key, "block"))
    return out


def receptive_fields(model: nn.Module, layers: list[LayerSpec]) -> dict[str, ReceptiveField]:
    """The field of each layer's output: that after the last main-path convolution or pool inside it."""
    order = {name: i for i, name in enumerate(dict(model.named_modules()))}
    after = [(order[name], rf) for name, rf in walk(model)]
    result = {}
    for layer in layers:
        last = max(i for n, i in order.items() if n == layer.path or n.startswith(layer.path + "."))
        rf = ReceptiveField()  # one input pixel
        for i, value in after:
            if i <= last:
                rf = value
        result[layer.key] = rf
    return result


# ---------------------------------------------------------------- the capture

@dataclass
class LayerRecord:
    key: str
    path: str
    stage: str
    kind: str
    array: np.ndarray  # C x h x w (float16 unless asked otherwise), possibly pooled by ``factor``
    shape: tuple[int, int, int]  # the full C x H x W
    factor: int
    rf: ReceptiveField
    mean: float
    std: float
    zero_fraction: float
    channel_mean: np.ndarray  # (C,) float32
    channel_max: np.ndarray  # (C,) float32
    channel_argmax: np.ndarray  # (C, 2) int: (row, col) of each channel's maximum, full resolution
    vmin: float = 0.0  # the layer's colour scale (``value_range`` of the stored array)
    vmax: float = 1.0


@dataclass
class BlockRecord:
    key: str
    path: str
    stage: str
    input_key: str  # the layer whose output is this block's input x
    shortcut: str  # "identity", "pad" (option A), "projection" (B/C) or "none" (plain net)
    shortcut_array: np.ndarray | None  # what the shortcut carries, when it is not x itself
    residual_array: np.ndarray | None  # F(x), after the branch's last BN (None in a plain net)
    ratio: float | None  # ||F(x)|| / ||shortcut(x)|| over the whole block (None in a plain net)
    residual_norm: float | None
    shortcut_norm: float | None


@dataclass
class Capture:
    model: str
    residual: bool
    input_shape: tuple[int, ...]
    layers: dict[str, LayerRecord]
    blocks: dict[str, BlockRecord]
    probs: np.ndarray  # (num_classes,) softmax of the logits
    classes: tuple[str, ...]
    stages: dict[str, str] = field(default_factory=dict)  # stage -> key of its last layer

    def top(self, k: int = TOP_K) -> list[tuple[str, float]]:
        idx = np.argsort(-self.probs)[:k]
        return [(self.classes[i] if i < len(self.classes) else str(i), float(self.probs[i])) for i in idx]

    def arrays(self) -> Iterator[np.ndarray]:
        yield self.probs
        for r in self.layers.values():
            yield from (r.array, r.channel_mean, r.channel_max, r.channel_argmax)
        for b in self.blocks.values():
            yield from (a for a in (b.shortcut_array, b.residual_array) if a is not None)

    def freeze(self) -> Capture:
        """Make every array read-only, so one capture can be shared (cached) between reruns and sessions:
        a view that tried to modify it in place would raise instead of corrupting what others see."""
        for a in self.arrays():
            a.flags.writeable = False
        return self

    @property
    def nbytes(self) -> int:
        total = sum(r.array.nbytes for r in self.layers.values())
        for b in self.blocks.values():
            total += sum(a.nbytes for a in (b.shortcut_array, b.residual_array) if a is not None)
        return total


def _last_bn(block: nn.Module) -> str:
    return "bn3" if isinstance(getattr(block, "bn3", None), nn.BatchNorm2d) else "bn2"


def _store(t: torch.Tensor, dtype) -> tuple[np.ndarray, int]:
    """C x H x W array in ``dtype``, average-pooled by a power of two until it holds at most LAYER_CAP values."""
    factor = 1
    x = t
    while x.numel() > LAYER_CAP and min(x.shape[-2:]) >= 2:
        x = F.avg_pool2d(x.unsqueeze(0), 2, ceil_mode=True).squeeze(0)
        factor *= 2
    if np.dtype(dtype) == np.float16:
        if x.numel() and float(x.abs().max()) > FP16_MAX:
            return x.numpy().astype(np.float32, copy=False), factor  # beyond float16: keep values, not inf
        return x.to(torch.float16).numpy(), factor  # torch converts ~10x faster than numpy's astype
    return x.numpy().astype(dtype, copy=False), factor


def _chw(t: torch.Tensor) -> tuple[int, int, int]:
    c, h, w = t.shape
    return c, h, w


def _stats(t: torch.Tensor) -> tuple[float, float, float, np.ndarray, np.ndarray, np.ndarray]:
    c, h, w = t.shape
    flat = t.reshape(c, -1)
    cmean = flat.mean(dim=1)
    csq = (flat * flat).mean(dim=1)
    cmax, arg = flat.max(dim=1)
    argmax = torch.stack([arg // w, arg % w], dim=1)
    mean = float(cmean.double().mean())
    var = max(0.0, float(csq.double().mean()) - mean * mean)
    zeros = 1.0 - float(torch.count_nonzero(flat)) / flat.numel()
    return (mean, var ** 0.5, zeros, cmean.numpy().astype(np.float32), cmax.numpy().astype(np.float32),
            argmax.numpy().astype(np.int64))


def capture(model: nn.Module, x: torch.Tensor, spec: ModelSpec, *, classes: tuple[str, ...] | None = None,
            dtype=np.float16) -> Capture:
    """One forward pass of ``x`` (1 x 3 x H x W) through ``model`` with every layer and block recorded."""
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"expected one image as a 1 x C x H x W tensor, got {tuple(x.shape)}")
    layers = layer_specs(model, spec)
    raw: dict[str, torch.Tensor] = {}
    hooks, shortcuts = _hooks(model, layers, raw)
    with hooked(model, forward=hooks), torch.no_grad():
        logits = model(x)
    probs = torch.softmax(logits.detach().float()[0], dim=0).numpy()
    records = _layer_records(layers, raw, receptive_fields(model, layers), dtype)
    blocks = _block_records(layers, shortcuts, raw, dtype)
    stages: dict[str, str] = {}
    for layer in layers:
        stages[layer.stage] = layer.key  # the last layer of each stage wins
    return Capture(spec.name, spec.residual, tuple(x.shape), records, blocks, probs,
                   tuple(classes or spec.classes), stages).freeze()


def _hooks(model: nn.Module, layers: list[LayerSpec],
           raw: dict[str, torch.Tensor]) -> tuple[dict[str, Callable], dict[str, str]]:
    """Forward hooks (module path -> hook) that put each layer's output into ``raw`` under its key, and each
    residual block's F(x) and shortcut under ``<key>/F`` and ``<key>/shortcut``; and each block's shortcut kind."""

    def keep(name: str):
        def hook(module, inputs, output):
            # Clone: torchvision adds the shortcut into bn's output in place, and ReLUs are in-place.
            raw[name] = output.detach()[0].float().clone()
        return hook

    modules = dict(model.named_modules())
    hooks: dict[str, Callable] = {}
    for layer in layers:
        hooks[layer.path] = keep(layer.key)
    shortcuts: dict[str, str] = {}
    for layer in layers:
        if layer.kind != "block":
            continue
        block = modules[layer.path]
        shortcut = shortcut_of(block)
        kind = shortcuts[layer.key] = shortcut.kind or "none"
        if kind == "none":
            continue
        hooks[f"{layer.path}.{_last_bn(block)}"] = keep(f"{layer.key}/F")
        if shortcut.transform is not None:
            hooks[f"{layer.path}.{shortcut.attr}"] = keep(f"{layer.key}/shortcut")
    return hooks, shortcuts


def _layer_records(layers: list[LayerSpec], raw: dict[str, torch.Tensor], rfs: dict[str, ReceptiveField],
                   dtype) -> dict[str, LayerRecord]:
    """Each layer's output, stored (``_store``) with its statistics taken on the full map."""
    records: dict[str, LayerRecord] = {}
    for layer in layers:
        t = raw[layer.key]
        mean, std, zeros, cmean, cmax, argmax = _stats(t)
        array, factor = _store(t, dtype)
        vmin, vmax = value_range(array)
        records[layer.key] = LayerRecord(layer.key, layer.path, layer.stage, layer.kind, array,
                                         _chw(t), factor, rfs[layer.key], mean, std, zeros, cmean, cmax,
                                         argmax, vmin, vmax)
    return records


def _block_records(layers: list[LayerSpec], shortcuts: dict[str, str], raw: dict[str, torch.Tensor],
                   dtype) -> dict[str, BlockRecord]:
    """Each block's anatomy; a block's input x is the output of the layer before it."""
    blocks: dict[str, BlockRecord] = {}
    previous = None
    for layer in layers:
        if layer.kind == "block":
            kind = shortcuts[layer.key]
            input_key = previous or layer.key
            if kind == "none":
                blocks[layer.key] = BlockRecord(layer.key, layer.path, layer.stage, input_key, kind,
                                                None, None, None, None, None)
            else:
                f = raw[f"{layer.key}/F"]
                sc = raw.get(f"{layer.key}/shortcut")
                carried = sc if sc is not None else raw[input_key]
                f_norm, sc_norm = float(f.norm()), float(carried.norm())
                blocks[layer.key] = BlockRecord(
                    layer.key, layer.path, layer.stage, input_key, kind,
                    _store(sc, dtype)[0] if sc is not None else None, _store(f, dtype)[0],
                    f_norm / sc_norm if sc_norm > 0 else float("inf"), f_norm, sc_norm)
        previous = layer.key
    return blocks


# ---------------------------------------------------------------- views of a capture

def channel_order(record: LayerRecord, by: str = "mean") -> np.ndarray:
    """Channel indices: by mean activation (largest first), by maximum, or by index."""
    if by == "mean":
        return np.argsort(-record.channel_mean, kind="stable")
    if by == "max":
        return np.argsort(-record.channel_max, kind="stable")
    return np.arange(record.shape[0])


def page_of(order: np.ndarray, page: int, per_page: int) -> np.ndarray:
    pages = max(1, -(-len(order) // per_page))
    page = min(max(page, 0), pages - 1)
    return order[page * per_page:(page + 1) * per_page]


def value_range(array: np.ndarray, *, symmetric: bool = False, q: float = 99.5) -> tuple[float, float]:
    """A colour scale for ``array``: [min, high percentile], or +-percentile of |values| when signed."""
    a = np.asarray(array, dtype=np.float32).ravel()
    finite = np.isfinite(a)
    if not finite.all():
        a = a[finite]
    if a.size == 0:
        return 0.0, 1.0
    if symmetric:
        bound = float(np.percentile(np.abs(a), q)) or float(np.abs(a).max()) or 1.0
        return -bound, bound
    lo = min(0.0, float(a.min()))
    hi = float(np.percentile(a, q))
    if hi <= lo:
        hi = lo + (float(a.max()) - lo if a.max() > lo else 1.0)
    return lo, hi


def beyond_scale(record: LayerRecord) -> tuple[float, float]:
    """(share of the layer's values above the top of its colour scale, the layer's largest value): values that
    the colours no longer tell apart, all drawn as bright as the top."""
    return float(np.mean(np.asarray(record.array, np.float32) > record.vmax)), float(record.channel_max.max())


def channel_mosaic(array: np.ndarray, channels: np.ndarray, cols: int, pad: int = 1) -> np.ndarray:
    """Channel maps side by side in a grid, separated by NaN gaps (float32)."""
    _, h, w = array.shape
    n = len(channels)
    cols = max(1, min(cols, n))
    rows = max(1, -(-n // cols))
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad), np.nan, np.float32)
    for i, c in enumerate(channels):
        r, k = divmod(i, cols)
        out[r * (h + pad):r * (h + pad) + h, k * (w + pad):k * (w + pad) + w] = array[c]
    return out


def anatomy(cap: Capture, block: str, channel: int | None = None) -> dict[str, np.ndarray]:
    """The four panels of a residual block for one channel (or the mean over channels), float32 H x W:
    ``x`` (what the shortcut carries), ``f`` (F(x)), ``sum`` (F(x) + x) and ``out`` (ReLU of the sum)."""
    rec = cap.blocks[block]
    if rec.residual_array is None:
        raise ValueError(f"{block} is a plain block: it has no shortcut, so there is no F(x) + x to take apart")
    f = rec.residual_array.astype(np.float32)
    x = (rec.shortcut_array if rec.shortcut_array is not None else cap.layers[rec.input_key].array)
    x = x.astype(np.float32)
    total = f + x
    parts = {"x": x, "f": f, "sum": total, "out": np.maximum(total, 0)}
    if channel is None:
        return {k: v.mean(axis=0) for k, v in parts.items()}
    return {k: v[channel] for k, v in parts.items()}


def ratios(cap: Capture) -> list[tuple[str, float]]:
    """(block, ||F(x)|| / ||x||) for every residual block, forward order: the paper's Figure 7 claim that
    residual functions are small, measured on one image."""
    return [(k, b.ratio) for k, b in cap.blocks.items() if b.ratio is not None]


def padded(cap: Capture, block: str) -> tuple[int, ...]:
    """The channels of ``block`` whose shortcut carries zeros whatever the image (option A's zero-padding): there
    y = ReLU(F(x)), as in a plain block."""
    rec = cap.blocks[block]
    if rec.shortcut != "pad":
        return ()
    return padded_channels(cap.layers[rec.input_key].shape[0], cap.layers[block].shape[0])


def channel_ratio(cap: Capture, block: str, channel: int) -> float | None:
    """||F(x)|| / ||x|| of one channel of ``block``; None where x is zero (a zero-padded channel, or x all zero
    on this image): the ratio has no value there."""
    panels = anatomy(cap, block, channel)
    x = float(np.linalg.norm(panels["x"]))
    return float(np.linalg.norm(panels["f"])) / x if x > 0 else None


def layer_table(cap: Capture) -> list[dict[str, Any]]:
    """One row per captured layer: its size, receptive field and statistics (for the depth strip)."""
    return [{"layer": r.key, "stage": r.stage, "channels": r.shape[0], "height": r.shape[1], "width": r.shape[2],
             "rf": r.rf.size, "jump": r.rf.jump, "mean": r.mean, "std": r.std, "zeros": r.zero_fraction}
            for r in cap.layers.values()]


# ---------------------------------------------------------------- effective receptive field

class _Stop(Exception):
    pass


def effective_receptive_field(model: nn.Module, x: torch.Tensor, path: str, *, row: int, col: int,
                              channel: int | None = None) -> np.ndarray:
    """|d unit / d input| summed over the colour channels (H x W, float32): how much each input pixel moves
    the unit at (row, col) of layer ``path`` (one channel, or the sum over channels). The forward pass stops
    at that layer."""
    got: dict[str, torch.Tensor] = {}

    def hook(module, inputs, output):
        got["out"] = output
        raise _Stop

    inp = x.detach().clone().requires_grad_(True)
    with hooked(model, forward={path: hook}), torch.enable_grad():
        try:
            model(inp)
        except _Stop:
            pass
        out = got["out"][0]
        if not (0 <= row < out.shape[1] and 0 <= col < out.shape[2]):
            raise ValueError(f"unit ({row}, {col}) is outside the {out.shape[1]} x {out.shape[2]} map of {path}")
        unit = out[:, row, col].sum() if channel is None else out[channel, row, col]
        (grad,) = torch.autograd.grad(unit, inp)
    return grad[0].abs().sum(dim=0).numpy().astype(np.float32)


def mass_extent(grad: np.ndarray, centre: tuple[float, float], q: float = 0.9) -> int:
    """Side of the smallest square around ``centre`` (row, col) that holds a fraction ``q`` of the gradient:
    the size of the effective receptive field, to compare with the theoretical one."""
    total = float(grad.sum())
    if total <= 0:
        return 0
    h, w = grad.shape
    cy, cx = int(round(centre[0])), int(round(centre[1]))
    cy, cx = min(max(cy, 0), h - 1), min(max(cx, 0), w - 1)
    csum = np.pad(grad, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    for half in range(max(h, w)):
        top, left = max(0, cy - half), max(0, cx - half)
        bottom, right = min(h, cy + half + 1), min(w, cx + half + 1)
        mass = csum[bottom, right] - csum[top, right] - csum[bottom, left] + csum[top, left]
        if mass >= q * total:
            return 2 * half + 1
    return max(h, w)
