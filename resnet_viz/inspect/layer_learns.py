"""What each layer learns: the stages' receptive fields, the first convolution's filters, and the dataset
patches that excite a channel most (Zeiler & Fergus 2014).

- ``stage_rows``: one row per stage (the stem and each stage's last layer): its theoretical receptive field
  (from ``receptive_field.walk``, through ``feature_maps.receptive_fields``), the share of the input a centre
  unit sees, and the notes' low / mid / high word;
- ``conv1_filters`` / ``luminance_share``: the stem's kernels, and how much of each is a brightness pattern
  (the same weights on R, G and B, as a hand-made Sobel or blur kernel applied to every channel) rather than colour;
- ``top_activations``: for each channel of one or more layers, the ``k`` images of a dataset in which the
  channel's strongest unit (among those whose field lies inside the image, ``inside``) is strongest, with that
  unit's position. One forward pass for all the layers asked,
  stopped after the deepest one, in batches, through ``hooks.hooked``; memory is bounded by a running top-k per
  channel (``C x k`` numbers per layer), never all activations;
- ``crop_box``: the image region a unit sees, clipped at the border, with the clipped sides named.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from resnet_viz.data import normalize
from resnet_viz.inspect.feature_maps import LayerSpec, layer_specs, receptive_fields
from resnet_viz.inspect.hooks import hooked, locked
from resnet_viz.inspect.receptive_field import ReceptiveField
from resnet_viz.models.registry import ModelSpec
from resnet_viz.runtime import INFERENCE_BATCH

TOP_K = 9  # a 3 x 3 grid of patches, as Zeiler & Fergus show them
LEVELS = ("low", "mid", "high")


# ---------------------------------------------------------------- the stages and their receptive fields

@dataclass(frozen=True)
class StageRow:
    stage: str  # "conv1", "stage2", "conv4_x", ...
    layer: LayerSpec  # the stage's last layer (the stem for conv1)
    rf: ReceptiveField
    map_side: int  # the layer's output side for a square input of ``input_size``
    coverage: float  # share of the input a unit at the map's centre sees (its clipped field's area / image area)
    level: str  # "low", "mid" or "high"


def map_side(input_size: int, rf: ReceptiveField) -> int:
    """The output side of a layer whose units are ``rf.jump`` pixels apart (every zoo net pads 'same')."""
    return math.ceil(input_size / rf.jump)


def coverage(rf: ReceptiveField, input_size: int) -> float:
    """The share of a square input that the field of the map's centre unit covers, after clipping."""
    centre = map_side(input_size, rf) // 2
    top, left, bottom, right = rf.box(centre, centre, input_size, input_size)
    return (bottom - top + 1) * (right - left + 1) / input_size**2


def level_of(index: int, count: int) -> str:
    """The notes' word for row ``index`` of ``count``: the first third low, the last third high."""
    return LEVELS[min(len(LEVELS) - 1, index * len(LEVELS) // max(count, 1))]


def stage_layers(model: nn.Module, spec: ModelSpec) -> list[LayerSpec]:
    """The last layer of each stage (the stem for conv1; pools left out), in forward order."""
    last: dict[str, LayerSpec] = {}
    for layer in layer_specs(model, spec):
        if layer.kind != "pool":
            last[layer.stage] = layer
    return list(last.values())


def stage_rows(model: nn.Module, spec: ModelSpec) -> list[StageRow]:
    layers = stage_layers(model, spec)
    fields = receptive_fields(model, layers)
    return [StageRow(layer.stage, layer, fields[layer.key], map_side(spec.input_size, fields[layer.key]),
                     coverage(fields[layer.key], spec.input_size), level_of(i, len(layers)))
            for i, layer in enumerate(layers)]


def layer_channels(model: nn.Module, layer: LayerSpec) -> int:
    """The channels of a layer's output: those of the last convolution inside it, or before it (a ReLU)."""
    last: nn.Conv2d | None = None
    found: nn.Conv2d | None = None
    for path, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            last = module
        if path == layer.path or path.startswith(layer.path + "."):
            found = last
    if found is None:
        raise ValueError(f"no convolution up to layer {layer.path!r}")
    return int(found.out_channels)


def first_full_view(rows: Sequence[StageRow]) -> StageRow | None:
    """The first stage whose centre unit sees the whole input (None when no stage does)."""
    return next((row for row in rows if row.coverage >= 1.0), None)


# ---------------------------------------------------------------- the stem's filters

def first_conv(model: nn.Module) -> nn.Conv2d:
    """The first convolution that reads the RGB input."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d) and module.in_channels == 3:
            return module
    raise ValueError("the model has no convolution on its RGB input")


def conv1_filters(model: nn.Module) -> np.ndarray:
    """The stem's kernels as float32 (out_channels, 3, k, k): read only, under the model's lock."""
    with locked(model):
        return first_conv(model).weight.detach().float().cpu().numpy().copy()


def luminance_share(filters: np.ndarray) -> np.ndarray:
    """(out_channels,) the share of each kernel's energy in its mean over R, G, B: 1 for a kernel with the same
    weights on every channel (a brightness pattern, as a Sobel or blur kernel), near 0 for a colour contrast."""
    w = np.asarray(filters, dtype=np.float64)
    grey = w.mean(axis=1, keepdims=True)
    total = (w**2).sum(axis=(1, 2, 3))
    share = (np.broadcast_to(grey, w.shape) ** 2).sum(axis=(1, 2, 3))
    return np.divide(share, total, out=np.zeros_like(total), where=total > 0)


# ---------------------------------------------------------------- top patches

@dataclass(frozen=True)
class TopActivations:
    """The ``k`` images that excite each channel of one layer most, best first."""

    key: str
    path: str
    rf: ReceptiveField
    values: np.ndarray  # (C, k) float32: the channel's strongest unit in that image
    image: np.ndarray  # (C, k) int64: index into the dataset
    row: np.ndarray  # (C, k) int64: that unit's position on the layer's map
    col: np.ndarray  # (C, k) int64
    channel_mean: np.ndarray  # (C,) float64: the channel's mean over every image and position
    map_shape: tuple[int, int]
    input_shape: tuple[int, int]
    images: int

    @property
    def channels(self) -> int:
        return int(self.values.shape[0])

    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.values, self.image, self.row, self.col, self.channel_mean))

    def busiest(self, count: int) -> list[int]:
        """The ``count`` channels with the highest mean activation (ties: lower index first)."""
        return [int(c) for c in np.argsort(-self.channel_mean, kind="stable")[:count]]


def inside(rf: ReceptiveField, map_shape: tuple[int, int], input_shape: tuple[int, int]) -> tuple[slice, slice]:
    """The units whose whole field lies inside the image (rows, cols); every unit when there are none.

    Zero padding makes an artificial edge at the border, which early channels answer strongly; a unit that sees
    it would fill the top patches with image corners."""
    def span(units: int, pixels: int) -> slice:
        ok = [i for i in range(units) if not any(crop_box(rf, i, i, pixels, pixels)[1])]
        return slice(ok[0], ok[-1] + 1) if ok else slice(0, units)

    return span(map_shape[0], input_shape[0]), span(map_shape[1], input_shape[1])


class _Running:
    """Running top-k of one layer: per channel the best ``k`` (value, image, position) seen so far, among the
    units whose field lies inside the image (``inside``)."""

    def __init__(self, k: int, rf: ReceptiveField, input_shape: tuple[int, int]) -> None:
        self.k, self.rf, self.input_shape = k, rf, input_shape
        self.values: torch.Tensor | None = None
        self.image = self.where = torch.empty(0)
        self.sums: torch.Tensor | None = None
        self.count = 0
        self.shape = (0, 0)

    def update(self, out: torch.Tensor, offset: int) -> None:
        b, c, h, w = out.shape
        rows, cols = inside(self.rf, (h, w), self.input_shape)
        sub = out.detach()[:, :, rows, cols].float()
        best, at = sub.flatten(2).max(dim=2)  # (B, C): each image's strongest unit (among those inside)
        where = (rows.start + at // sub.shape[3]) * w + cols.start + at % sub.shape[3]
        sums = out.detach().double().sum(dim=(0, 2, 3))
        image = torch.arange(offset, offset + b).expand(c, b)
        if self.values is None:
            values, images, wheres = best.T, image, where.T
            self.sums, self.shape = sums, (h, w)
        else:
            assert self.sums is not None
            values, images = torch.cat([self.values, best.T], 1), torch.cat([self.image, image], 1)
            wheres = torch.cat([self.where, where.T], 1)
            self.sums += sums
        top = values.topk(min(self.k, values.shape[1]), dim=1, sorted=True).indices
        self.values, self.image, self.where = values.gather(1, top), images.gather(1, top), wheres.gather(1, top)
        self.count += b * h * w

    def result(self, layer: LayerSpec, images: int) -> TopActivations:
        assert self.values is not None and self.sums is not None
        where = self.where.numpy().astype(np.int64)
        return TopActivations(layer.key, layer.path, self.rf, self.values.numpy().astype(np.float32),
                              self.image.numpy().astype(np.int64), where // self.shape[1], where % self.shape[1],
                              (self.sums / max(self.count, 1)).numpy(), self.shape, self.input_shape, images)


class _Done(Exception):
    """Raised by the deepest layer's hook: the rest of the network is not needed."""


def _deepest(model: nn.Module, layers: Sequence[LayerSpec]) -> str:
    order = {name: i for i, name in enumerate(dict(model.named_modules()))}
    return max((layer.path for layer in layers), key=order.__getitem__)


def top_activations(model: nn.Module, layers: Sequence[LayerSpec], images: torch.Tensor, mean: Sequence[float],
                    std: Sequence[float], *, k: int = TOP_K, batch_size: int = INFERENCE_BATCH,
                    on_batch: Callable[[int], None] | None = None) -> dict[str, TopActivations]:
    """key -> top ``k`` of every channel of each layer in ``layers`` over uint8 ``images`` (N x 3 x H x W),
    normalised with ``mean`` / ``std``; one forward pass per batch, stopped after the deepest layer.

    ``on_batch(done)`` is called after each batch with the number of images done.
    """
    if len(images) == 0:
        raise ValueError("no images")
    fields = receptive_fields(model, list(layers))
    shape = (int(images.shape[2]), int(images.shape[3]))
    running = {layer.path: _Running(k, fields[layer.key], shape) for layer in layers}
    stop_at = _deepest(model, layers)
    offset = 0

    def hook_for(path: str) -> Callable:
        def hook(module: nn.Module, inputs: object, output: torch.Tensor) -> None:
            running[path].update(output, offset)
            if path == stop_at:
                raise _Done
        return hook

    with hooked(model, forward={layer.path: hook_for(layer.path) for layer in layers}), torch.inference_mode():
        for start in range(0, len(images), batch_size):
            offset = start
            try:
                model(normalize(images[start:start + batch_size], mean, std))
            except _Done:
                pass
            if on_batch is not None:
                on_batch(min(start + batch_size, len(images)))
    return {layer.key: running[layer.path].result(layer, len(images)) for layer in layers}


# ---------------------------------------------------------------- crops and what they say

@dataclass(frozen=True)
class Crop:
    image: int
    value: float
    box: tuple[int, int, int, int]  # (top, left, bottom, right), inclusive, clipped to the image
    clipped: tuple[bool, bool, bool, bool]  # whether the field runs past the top, left, bottom, right border
    centre: tuple[float, float]  # the unit's centre in input pixels


def crop_box(rf: ReceptiveField, row: int, col: int, height: int, width: int) -> tuple[tuple[int, int, int, int],
                                                                                       tuple[bool, bool, bool, bool]]:
    """The region unit (row, col) sees (``rf.box``), and which sides its unclipped field runs past."""
    half = (rf.size - 1) / 2
    cy, cx = rf.centre(row), rf.centre(col)
    outside = (math.floor(cy - half) < 0, math.floor(cx - half) < 0, math.ceil(cy + half) > height - 1,
               math.ceil(cx + half) > width - 1)
    return rf.box(row, col, height, width), outside


def crops(top: TopActivations, channel: int) -> list[Crop]:
    """The channel's top patches, best first."""
    h, w = top.input_shape
    out = []
    for i in range(top.values.shape[1]):
        r, c = int(top.row[channel, i]), int(top.col[channel, i])
        box, clipped = crop_box(top.rf, r, c, h, w)
        out.append(Crop(int(top.image[channel, i]), float(top.values[channel, i]), box, clipped,
                        (top.rf.centre(r), top.rf.centre(c))))
    return out


def class_agreement(top: TopActivations, labels: np.ndarray) -> float:
    """The mean over channels of the share of a channel's top images that belong to its most common class."""
    lab = np.asarray(labels)[top.image]  # (C, k)
    counts = np.stack([np.bincount(row, minlength=int(lab.max()) + 1).max() for row in lab])
    return float((counts / lab.shape[1]).mean())


def chance_agreement(labels: np.ndarray, k: int = TOP_K, *, draws: int = 2000, seed: int = 0) -> float:
    """``class_agreement`` of ``k`` images drawn at random (without replacement) from the dataset: the level
    that says "no preference for a class"."""
    lab = np.asarray(labels)
    rng = np.random.default_rng(seed)
    picks = np.stack([rng.choice(len(lab), size=k, replace=False) for _ in range(draws)])
    counts = np.stack([np.bincount(lab[p], minlength=int(lab.max()) + 1).max() for p in picks])
    return float((counts / k).mean())
