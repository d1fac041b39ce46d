"""Convolution arithmetic with the user's numbers: output size, parameters, MACs, receptive fields.

Every function returns plain numbers plus explanations as ``(i18n key, params)`` notes, so a page (or a
notebook) can show them in any language. Impossible settings raise :class:`InputError` with a key.
All results follow ``torch.nn.Conv2d`` / ``F.max_pool2d``; ``torch_conv_shape`` asks torch itself
(on the meta device, so even huge sizes cost nothing) for the cross-check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from numbers import Integral, Real
from typing import SupportsInt

import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz.conv_lab.pooling import derivation, pool_output_size
from resnet_viz.errors import InputError
from resnet_viz.inspect.receptive_field import ReceptiveField, main_path, step, window

MAX_SIZE = 65536  # H, W, padding, stride
MAX_CHANNELS = 65536
MAX_KERNEL = 1024  # also bounds dilation
MAX_UNITS = 10**7  # fully connected layer width

PADDING_MODES = ("number", "valid", "same")
LAYER_KINDS = ("conv", "maxpool", "avgpool")


@dataclass(frozen=True)
class Note:
    """One sentence of explanation: an i18n key (stem ``calc``) and its placeholders."""

    key: str
    params: dict = field(default_factory=dict)


def whole(value: object, name: str, *, minimum: int = 1, maximum: int = MAX_SIZE) -> int:
    """``value`` as an int in [minimum, maximum], or an InputError that names the field by its symbol."""
    # Every concrete Real (int, float, Fraction, numpy scalars) has __int__; typeshed's Real does not say so.
    if isinstance(value, bool) or not isinstance(value, Real) or not isinstance(value, SupportsInt):
        raise InputError("calc.error_not_whole", name=name, value=value)
    if not isinstance(value, Integral) and (not math.isfinite(value) or value != int(value)):
        raise InputError("calc.error_not_whole", name=name, value=value)
    number = int(value)
    if number < minimum:
        raise InputError("calc.error_at_least", name=name, minimum=minimum, value=number)
    if number > maximum:
        raise InputError("calc.error_too_large", name=name, value=number, maximum=maximum)
    return number


# --- one convolution -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConvSettings:
    """A Conv2d as a student types it: stride, padding and dilation apply to both axes."""

    height: int
    width: int
    in_channels: int
    out_channels: int
    kernel_h: int = 3
    kernel_w: int = 3
    stride: int = 1
    padding: int | str = 0  # a number, "valid" or "same"
    dilation: int = 1
    groups: int = 1
    bias: bool = True


@dataclass(frozen=True)
class AxisResult:
    """The output-size formula along one axis (H or W), every term kept for showing the substitution."""

    axis: str
    size: int
    kernel: int
    stride: int
    dilation: int
    pad_before: int
    pad_after: int
    out: int

    @property
    def effective_kernel(self) -> int:
        """D(K-1)+1: the span of input one output looks at."""
        return self.dilation * (self.kernel - 1) + 1

    @property
    def numerator(self) -> int:
        return self.size + self.pad_before + self.pad_after - self.dilation * (self.kernel - 1) - 1

    @property
    def dropped(self) -> int:
        """Padded rows/columns at the end that no window reaches (what the floor throws away)."""
        return self.numerator % self.stride

    @property
    def symmetric(self) -> bool:
        return self.pad_before == self.pad_after

    def latex(self) -> str:
        """The formula, then the same with the numbers substituted, then the result, a line each."""
        n, k, s, d = self.axis, self.kernel, self.stride, self.dilation
        sym = f"{n}_{{out}}"
        if self.symmetric:
            general = rf"\left\lfloor \frac{{{n} + 2P - D(K_{n}-1) - 1}}{{S}} \right\rfloor + 1"
            numbers = rf"\left\lfloor \frac{{{self.size} + 2\cdot{self.pad_before} - {d}\cdot({k}-1) - 1}}{{{s}}}" \
                      rf" \right\rfloor + 1"
        else:
            general = rf"\left\lfloor \frac{{{n} + P_{{begin}} + P_{{end}} - D(K_{n}-1) - 1}}{{S}} \right\rfloor + 1"
            numbers = rf"\left\lfloor \frac{{{self.size} + {self.pad_before} + {self.pad_after}" \
                      rf" - {d}\cdot({k}-1) - 1}}{{{s}}} \right\rfloor + 1"
        middle = rf"\left\lfloor \frac{{{self.numerator}}}{{{s}}} \right\rfloor + 1"
        return derivation(sym, general, numbers, f"{middle} = {self.out}")


@dataclass(frozen=True)
class ConvResult:
    settings: ConvSettings
    h: AxisResult
    w: AxisResult
    weights: int
    biases: int
    macs: int
    notes: tuple[Note, ...]

    @property
    def params(self) -> int:
        return self.weights + self.biases

    @property
    def output_shape(self) -> tuple[int, int, int]:
        return (self.settings.out_channels, self.h.out, self.w.out)

    @property
    def receptive_field(self) -> tuple[int, int]:
        """What one output sees of this layer's input (the layer alone)."""
        return (self.h.effective_kernel, self.w.effective_kernel)


def _resolve_padding(padding: int | str, kernel: int, dilation: int, stride: int) -> tuple[int, int]:
    """(before, after) for one axis, as torch pads."""
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return 0, 0
        if mode == "same":
            if stride != 1:
                raise InputError("calc.error_same_stride", stride=stride)
            total = dilation * (kernel - 1)
            return total // 2, total - total // 2  # torch puts the odd pixel at the end
        raise InputError("calc.error_padding_mode", value=padding)
    p = whole(padding, "P", minimum=0)
    return p, p


def conv_output(settings: ConvSettings) -> ConvResult:
    """Everything the calculator shows about one Conv2d, or an InputError for impossible settings."""
    s = settings
    h, w = whole(s.height, "H"), whole(s.width, "W")
    c_in = whole(s.in_channels, "C_in", maximum=MAX_CHANNELS)
    c_out = whole(s.out_channels, "C_out", maximum=MAX_CHANNELS)
    kh, kw = whole(s.kernel_h, "K_H", maximum=MAX_KERNEL), whole(s.kernel_w, "K_W", maximum=MAX_KERNEL)
    stride = whole(s.stride, "S")
    dilation = whole(s.dilation, "D", maximum=MAX_KERNEL)
    groups = whole(s.groups, "groups", maximum=MAX_CHANNELS)
    if c_in % groups or c_out % groups:
        raise InputError("calc.error_groups", c_in=c_in, c_out=c_out, groups=groups)

    axes = []
    for axis, size, k in (("H", h, kh), ("W", w, kw)):
        before, after = _resolve_padding(s.padding, k, dilation, stride)
        span = dilation * (k - 1) + 1
        out = (size + before + after - span) // stride + 1
        if out < 1:
            raise InputError("calc.error_output_empty", axis=axis, out=out, kernel=span,
                             padded=size + before + after)
        axes.append(AxisResult(axis, size, k, stride, dilation, before, after, out))
    ah, aw = axes

    per_filter = kh * kw * (c_in // groups)
    weights = per_filter * c_out
    biases = c_out if s.bias else 0
    macs = ah.out * aw.out * c_out * per_filter
    padding = s.padding.lower() if isinstance(s.padding, str) else ah.pad_before
    clean = ConvSettings(h, w, c_in, c_out, kh, kw, stride, padding, dilation, groups, bool(s.bias))
    return ConvResult(clean, ah, aw, weights, biases, macs,
                      tuple(_conv_notes(ah, aw, c_in, c_out, groups, per_filter, padding)))


def _axis_notes(a: AxisResult) -> list[Note]:
    notes = []
    if a.stride > a.effective_kernel:
        notes.append(Note("calc.note_stride_skips", dict(axis=a.axis, stride=a.stride, span=a.effective_kernel,
                                                         gap=a.stride - a.effective_kernel)))
    if a.dropped:
        # Dropping only right/bottom padding loses nothing of the input.
        key = "calc.note_floor_drops_padding" if a.dropped <= a.pad_after else "calc.note_floor_drops"
        notes.append(Note(key, dict(axis=a.axis, numerator=a.numerator, stride=a.stride, dropped=a.dropped)))
    if not a.symmetric:
        notes.append(Note("calc.note_same_asymmetric", dict(axis=a.axis, kernel=a.kernel,
                                                            total=a.pad_before + a.pad_after,
                                                            before=a.pad_before, after=a.pad_after)))
    if max(a.pad_before, a.pad_after) >= a.effective_kernel:
        notes.append(Note("calc.note_padding_only", dict(axis=a.axis, padding=max(a.pad_before, a.pad_after),
                                                         span=a.effective_kernel)))
    return notes


def _merge_axes(per_axis: list[list[Note]]) -> list[Note]:
    """One note for "H, W" where both axes say the same thing (a square layer), else one per axis."""
    h_notes, w_notes = per_axis
    out = []
    for note in h_notes:
        twin = next((w for w in w_notes if w.key == note.key
                     and {**w.params, "axis": note.params["axis"]} == note.params), None)
        if twin is not None:
            w_notes = [w for w in w_notes if w is not twin]
            note = Note(note.key, {**note.params, "axis": "H, W"})
        out.append(note)
    return out + w_notes


def _conv_notes(ah: AxisResult, aw: AxisResult, c_in: int, c_out: int, groups: int, per_filter: int,
                padding: int | str) -> list[Note]:
    notes = [Note("calc.note_params", dict(kh=ah.kernel, kw=aw.kernel, c=c_in // groups, c_out=c_out,
                                           per_filter=per_filter))]
    notes += _merge_axes([_axis_notes(ah), _axis_notes(aw)])

    if ah.stride > 1:
        h1, w1 = ah.numerator + 1, aw.numerator + 1  # the same layer with stride 1
        notes.append(Note("calc.note_stride_cost", dict(stride=ah.stride, h_out=ah.out, w_out=aw.out, h1=h1, w1=w1,
                                                        factor=f"{h1 * w1 / (ah.out * aw.out):.1f}")))
    elif ah.effective_kernel > 1 or aw.effective_kernel > 1:
        notes.append(Note("calc.note_stride_one", dict(overlap_h=ah.effective_kernel - 1,
                                                       overlap_w=aw.effective_kernel - 1)))
    if ah.out == ah.size and aw.out == aw.size:
        notes.append(Note("calc.note_size_kept", dict(h=ah.size, w=aw.size)))
    elif ah.stride == 1 and ah.pad_before == 0 and aw.pad_before == 0 and ah.effective_kernel > 1:
        notes.append(Note("calc.note_valid_shrinks", dict(h=ah.size, w=aw.size, h_out=ah.out, w_out=aw.out,
                                                          shrink_h=ah.effective_kernel - 1,
                                                          shrink_w=aw.effective_kernel - 1)))
    if padding == "same":
        notes.append(Note("calc.note_same_mode", {}))
    if ah.dilation > 1:
        notes.append(Note("calc.note_dilation", dict(dilation=ah.dilation, kh=ah.kernel, kw=aw.kernel,
                                                     span_h=ah.effective_kernel, span_w=aw.effective_kernel)))
    if groups > 1:
        key = "calc.note_depthwise" if groups == c_in else "calc.note_groups"
        notes.append(Note(key, dict(groups=groups, c_in=c_in, c_group=c_in // groups, c_out=c_out)))
    if ah.kernel == aw.kernel == 1:
        notes.append(Note("calc.note_pointwise", dict(c_in=c_in, c_out=c_out)))
    notes.append(Note("calc.note_receptive_field", dict(rf_h=ah.effective_kernel, rf_w=aw.effective_kernel,
                                                        grow_h=ah.effective_kernel - 1,
                                                        grow_w=aw.effective_kernel - 1)))
    return notes


def torch_conv_shape(settings: ConvSettings) -> tuple[tuple[int, ...], int]:
    """torch's own answer for the same layer: (output shape without batch, parameter count).

    Runs on the meta device, so only shapes are computed. torch refuses ``padding="same"`` with a
    stride, which ``conv_output`` also refuses, so both agree on what is possible.
    """
    s = settings
    padding = s.padding if isinstance(s.padding, str) else int(s.padding)
    with torch.device("meta"):
        layer = nn.Conv2d(s.in_channels, s.out_channels, (s.kernel_h, s.kernel_w), stride=s.stride,
                          padding=padding, dilation=s.dilation, groups=s.groups, bias=s.bias)
        x = torch.empty(1, s.in_channels, s.height, s.width)
        out = F.conv2d(x, layer.weight, layer.bias, layer.stride, layer.padding, layer.dilation, layer.groups)
    return tuple(out.shape[1:]), sum(p.numel() for p in layer.parameters())


# --- receptive-field chains ------------------------------------------------------------------------

@dataclass(frozen=True)
class Layer:
    """One row of a receptive-field chain (square kernels, same numbers on both axes)."""

    kind: str = "conv"  # "conv", "maxpool" or "avgpool"
    kernel: int = 3
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    ceil_mode: bool = False  # pools only
    name: str = ""

    @property
    def effective_kernel(self) -> int:
        return self.dilation * (self.kernel - 1) + 1


@dataclass(frozen=True)
class ChainRow:
    layer: Layer
    size_in: int
    size_out: int
    jump_in: int
    jump_out: int
    rf_in: int
    rf_out: int
    start_out: float  # centre of output unit 0's field, in input pixels (pixel i has its centre at i)


def _check_layer(layer: Layer, index: int) -> Layer:
    if layer.kind not in LAYER_KINDS:
        raise InputError("calc.error_layer_kind", row=index + 1, kind=layer.kind)
    kernel = whole(layer.kernel, "K", maximum=MAX_KERNEL)
    stride = whole(layer.stride, "S")
    padding = whole(layer.padding, "P", minimum=0)
    dilation = whole(layer.dilation, "D", maximum=MAX_KERNEL)
    if layer.kind != "conv":
        if dilation != 1:
            raise InputError("calc.error_pool_dilation", row=index + 1)
        if 2 * padding > kernel:
            raise InputError("calc.error_pool_padding", padding=padding, kernel=kernel)
    return Layer(layer.kind, kernel, stride, padding, dilation, bool(layer.ceil_mode) and layer.kind != "conv",
                 layer.name)


def receptive_field_chain(layers: list[Layer], input_size: int = 224) -> list[ChainRow]:
    """Output size, jump and receptive field after each layer.

    r_out = r_in + (k_eff - 1) * j_in and j_out = j_in * s, with r = j = 1 at the input;
    start_out = start_in + ((k_eff - 1) / 2 - p) * j_in tracks where the first unit's field is centred.
    """
    size = whole(input_size, "H")
    rows: list[ChainRow] = []
    field = ReceptiveField()
    for index, raw in enumerate(layers):
        layer = _check_layer(raw, index)
        k, s, p = layer.effective_kernel, layer.stride, layer.padding
        if layer.kind == "conv":
            out = (size + 2 * p - k) // s + 1
        else:
            out = pool_output_size(size, k, s, p, ceil_mode=layer.ceil_mode)
        if out < 1:
            raise InputError("calc.error_chain_empty", row=index + 1, size=size, out=out, kernel=k, padding=p)
        after = step(field, layer.kernel, s, p, layer.dilation)
        rows.append(ChainRow(layer, size, out, field.jump, after.jump, field.size, after.size, after.start))
        size, field = out, after
    return rows


@dataclass(frozen=True)
class FieldBox:
    """The field of one output unit of the last layer on the input grid (inclusive pixel indices)."""

    unit: int
    centre: float
    first: float
    last: float
    first_clipped: int
    last_clipped: int

    @property
    def empty(self) -> bool:
        """True when the unit looks at padding only (possible with padding >= kernel)."""
        return self.first_clipped > self.last_clipped


def field_box(rows: list[ChainRow], unit: int | None = None) -> FieldBox:
    """Where output ``unit`` (default: the middle one) of the last row looks; same on both axes."""
    last = rows[-1]
    if unit is None:
        unit = (last.size_out - 1) // 2
    centre = last.start_out + unit * last.jump_out
    half = (last.rf_out - 1) / 2
    size = rows[0].size_in
    first, end = centre - half, centre + half
    return FieldBox(unit, centre, first, end, max(math.ceil(first), 0), min(math.floor(end), size - 1))


# --- presets and zoo models ------------------------------------------------------------------------

def _pool_layer(kind: str, k: int, s: int, p: int, name: str) -> Layer:
    return Layer(kind, k, s, p, 1, False, name)


CHAIN_PRESETS: dict[str, tuple[int, tuple[Layer, ...]]] = {
    # name -> (input size, layers); names are i18n keys calc.preset_<name>
    "three_3x3": (224, tuple(Layer("conv", 3, 1, 1, name=f"conv3x3_{i + 1}") for i in range(3))),
    "one_7x7": (224, (Layer("conv", 7, 1, 3, name="conv7x7"),)),
    "resnet34_stem": (224, (Layer("conv", 7, 2, 3, name="conv1"), _pool_layer("maxpool", 3, 2, 1, "maxpool"))),
    "vgg_block": (224, (Layer("conv", 3, 1, 1, name="conv1_1"), Layer("conv", 3, 1, 1, name="conv1_2"),
                        _pool_layer("maxpool", 2, 2, 0, "pool1"))),
    "large_stride": (224, (Layer("conv", 3, 4, 0, name="conv3x3_s4"),)),
}


@lru_cache(maxsize=16)
def _zoo_layers(name: str) -> tuple[tuple[str, str | None, Layer], ...]:
    """(module path, paper stage, layer) for every conv/pool on the main path of a zoo model."""
    from resnet_viz.models.registry import get_spec  # the zoo imports torchvision; only needed here

    spec = get_spec(name)
    with torch.device("meta"):
        model = spec.build()
    stage_paths = [(stage, path) for stage, paths in spec.stages().items() for path in paths.split(",")]
    out = []
    current: str | None = None
    for path, module in main_path(model):
        for stage, prefix in stage_paths:
            if path == prefix or path.startswith(prefix + "."):
                current = stage
        k, s, p, d = window(module)
        if isinstance(module, nn.Conv2d):
            layer = Layer("conv", k, s, p, d, name=path)
        else:
            kind = "maxpool" if isinstance(module, nn.MaxPool2d) else "avgpool"
            layer = Layer(kind, k, s, p, 1, bool(module.ceil_mode), path)
        out.append((path, current, layer))
    return tuple(out)


def zoo_stages(name: str) -> list[str]:
    """Paper stages of a zoo model that hold convs or pools, in forward order (conv1, conv2_x, ...)."""
    seen: list[str] = []
    for _, stage, _ in _zoo_layers(name):
        if stage and stage not in seen:
            seen.append(stage)
    return seen


def zoo_chain_layers(name: str, *, until: str | None = None) -> tuple[int, list[Layer]]:
    """(input size, layers) of a zoo model's stem and stages up to and including stage ``until``.

    Layers are read from the built modules' kernel_size/stride/padding (on the meta device). A module
    outside every paper stage (the stem's max pool) belongs to the stage before it.
    """
    from resnet_viz.models.registry import get_spec

    spec = get_spec(name)
    stages = zoo_stages(name)
    if until is not None and until not in stages:
        raise InputError("calc.error_unknown_stage", model=name, stage=until)
    stop = stages.index(until) if until is not None else len(stages) - 1
    layers = []
    for _, stage, layer in _zoo_layers(name):
        if stage is not None and stages.index(stage) > stop:
            break
        layers.append(layer)
    return spec.input_size, layers


# --- VGG's argument and "why convolution" -----------------------------------------------------------

@dataclass(frozen=True)
class StackComparison:
    kernel: int
    count: int
    channels: int
    receptive_field: int
    stacked_weights: int
    single_weights: int
    nonlinearities: int

    @property
    def stacked_factor(self) -> int:
        """Weights of the stack in units of C^2 (27 for three 3x3)."""
        return self.count * self.kernel ** 2

    @property
    def single_factor(self) -> int:
        return self.receptive_field ** 2


def stack_vs_single(kernel: int = 3, count: int = 3, channels: int = 64) -> StackComparison:
    """``count`` stacked k x k convs (C -> C, stride 1) against one conv with the same receptive field."""
    k = whole(kernel, "K", maximum=MAX_KERNEL)
    n = whole(count, "N", maximum=1000)
    c = whole(channels, "C", maximum=MAX_CHANNELS)
    rf = n * (k - 1) + 1
    return StackComparison(k, n, c, rf, n * k * k * c * c, rf * rf * c * c, n)


@dataclass(frozen=True)
class FcVsConv:
    height: int
    width: int
    channels: int
    units: int
    kernel: int
    filters: int
    fc_weights: int
    conv_weights: int
    fc_macs: int
    conv_macs: int  # stride 1, "same" padding: one output per input pixel

    @property
    def ratio(self) -> float:
        return self.fc_weights / self.conv_weights


def fc_vs_conv(height: int = 224, width: int = 224, channels: int = 3, units: int = 1000, kernel: int = 3,
               filters: int = 64) -> FcVsConv:
    """Weights of a fully connected layer on the whole image against one conv layer (biases left out)."""
    h, w = whole(height, "H"), whole(width, "W")
    c = whole(channels, "C", maximum=MAX_CHANNELS)
    units = whole(units, "units", maximum=MAX_UNITS)
    k = whole(kernel, "K", maximum=MAX_KERNEL)
    filters = whole(filters, "C_out", maximum=MAX_CHANNELS)
    fc = h * w * c * units
    conv = k * k * c * filters
    return FcVsConv(h, w, c, units, k, filters, fc, conv, fc, h * w * conv)
