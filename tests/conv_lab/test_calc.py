"""Conv arithmetic, receptive-field chains and the comparisons, each checked against torch."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from resnet_viz.conv_lab import calc
from resnet_viz.conv_lab.calc import ConvSettings, Layer
from resnet_viz.errors import InputError
from resnet_viz.i18n import has_key


@st.composite
def conv_settings(draw):
    groups = draw(st.integers(1, 3))
    k_h, k_w = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    dilation = draw(st.integers(1, 3))
    padding = draw(st.one_of(st.integers(0, 4), st.sampled_from(["valid", "same"])))
    stride = 1 if padding == "same" else draw(st.integers(1, 4))
    pads = dilation * (max(k_h, k_w) - 1) if padding == "same" else 2 * (padding if isinstance(padding, int) else 0)
    min_size = max(dilation * (max(k_h, k_w) - 1) + 1 - pads, 1)
    return ConvSettings(height=draw(st.integers(min_size, 20)), width=draw(st.integers(min_size, 20)),
                        in_channels=groups * draw(st.integers(1, 3)), out_channels=groups * draw(st.integers(1, 3)),
                        kernel_h=k_h, kernel_w=k_w, stride=stride, padding=padding, dilation=dilation,
                        groups=groups, bias=draw(st.booleans()))


@settings(max_examples=80, deadline=None)
@given(s=conv_settings())
def test_conv_output_matches_torch(s):
    result = calc.conv_output(s)
    layer = nn.Conv2d(s.in_channels, s.out_channels, (s.kernel_h, s.kernel_w), stride=s.stride, padding=s.padding,
                      dilation=s.dilation, groups=s.groups, bias=s.bias)
    with torch.no_grad():
        out = layer(torch.zeros(1, s.in_channels, s.height, s.width))
    assert result.output_shape == tuple(out.shape[1:])
    assert result.params == sum(p.numel() for p in layer.parameters())
    assert result.macs == out[0].numel() * layer.weight[0].numel()
    assert calc.torch_conv_shape(s) == (tuple(out.shape[1:]), result.params)
    for note in result.notes:
        assert has_key(note.key), note.key


def test_substituted_formula_and_resnet_stem():
    r = calc.conv_output(ConvSettings(224, 224, 3, 64, 7, 7, stride=2, padding=3, bias=False))
    assert r.output_shape == (64, 112, 112)
    assert r.params == 9408 and r.macs == 118_013_952  # torchvision resnet conv1
    assert r"\frac{224 + 2\cdot3 - 1\cdot(7-1) - 1}{2}" in r.h.latex()
    lines = r.h.latex().split(r"\\")  # one step a line: a phone shows the result without scrolling
    assert len(lines) == 3 and lines[-1].endswith(r"= 112 \end{aligned}")
    assert r.h.dropped == 1  # 223 = 2 * 111 + 1: the last padded column is never reached


def test_explanations():
    keys = lambda s: {n.key for n in calc.conv_output(s).notes}  # noqa: E731
    assert "calc.note_stride_skips" in keys(ConvSettings(32, 32, 1, 1, 2, 2, stride=3))
    assert "calc.note_same_asymmetric" in keys(ConvSettings(8, 8, 1, 1, 4, 4, padding="same"))
    same_even = calc.conv_output(ConvSettings(8, 8, 1, 1, 4, 4, padding="same"))
    assert (same_even.h.pad_before, same_even.h.pad_after, same_even.h.out) == (1, 2, 8)
    assert "calc.note_floor_drops" not in keys(ConvSettings(32, 32, 1, 1, 3, 3, stride=1, padding=1))
    stem = calc.conv_output(ConvSettings(224, 224, 3, 64, 7, 7, stride=2, padding=3)).notes
    drops = [n for n in stem if n.key.startswith("calc.note_floor_drops")]
    # One note for both axes; what the floor drops is right padding only.
    assert [(n.key, n.params["axis"]) for n in drops] == [("calc.note_floor_drops_padding", "H, W")]
    assert "calc.note_floor_drops" in keys(ConvSettings(225, 224, 1, 1, 7, 7, stride=2))
    cost = next(n for n in stem if n.key == "calc.note_stride_cost")
    assert (cost.params["h1"], cost.params["w1"], cost.params["factor"]) == (224, 224, "4.0")
    assert "calc.note_valid_shrinks" in keys(ConvSettings(32, 32, 1, 1, 5, 5))
    assert "calc.note_depthwise" in keys(ConvSettings(8, 8, 4, 8, 3, 3, groups=4))
    assert "calc.note_pointwise" in keys(ConvSettings(8, 8, 4, 8, 1, 1))


@pytest.mark.parametrize("settings, key", [
    (ConvSettings(4, 4, 3, 8, 7, 7), "calc.error_output_empty"),
    (ConvSettings(8, 8, 3, 8, 3, 3, groups=2), "calc.error_groups"),
    (ConvSettings(0, 8, 3, 8), "calc.error_at_least"),
    (ConvSettings(8, 8, -3, 8), "calc.error_at_least"),
    (ConvSettings(8, 8, 3, 8, stride=0), "calc.error_at_least"),
    (ConvSettings(8, 8, 3, 8, padding=-1), "calc.error_at_least"),
    (ConvSettings(10**9, 8, 3, 8), "calc.error_too_large"),
    (ConvSettings(8, 8, 3, 8, kernel_h=10**9), "calc.error_too_large"),
    (ConvSettings(8.5, 8, 3, 8), "calc.error_not_whole"),
    (ConvSettings(float("nan"), 8, 3, 8), "calc.error_not_whole"),
    (ConvSettings("8", 8, 3, 8), "calc.error_not_whole"),
    (ConvSettings(8, 8, 3, 8, stride=2, padding="same"), "calc.error_same_stride"),
    (ConvSettings(8, 8, 3, 8, padding="full"), "calc.error_padding_mode"),
])
def test_impossible_settings(settings, key):
    with pytest.raises(InputError) as info:
        calc.conv_output(settings)
    assert info.value.key == key
    assert has_key(key)
    assert info.value.message("zh") != key


def test_padding_mode_names_are_case_insensitive():
    result = calc.conv_output(ConvSettings(9, 9, 2, 4, 3, 3, padding="SAME"))
    assert result.settings.padding == "same" and result.output_shape == (4, 9, 9)
    assert calc.torch_conv_shape(result.settings)[0] == (4, 9, 9)


def test_torch_agrees_on_impossible():
    with pytest.raises(RuntimeError):
        calc.torch_conv_shape(ConvSettings(4, 4, 3, 8, 7, 7))


# --- receptive fields ------------------------------------------------------------------------------

@st.composite
def chains(draw):
    layers = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(calc.LAYER_KINDS))
        kernel = draw(st.integers(1, 4))
        if kind == "conv":
            layers.append(Layer("conv", kernel, draw(st.integers(1, 3)), draw(st.integers(0, 2)),
                                draw(st.integers(1, 2))))
        else:
            layers.append(Layer(kind, kernel, draw(st.integers(1, 3)), draw(st.integers(0, kernel // 2)),
                                ceil_mode=draw(st.booleans())))
    return layers


def _field_extent(layers, size, unit):
    """First and last input pixel that output ``unit`` of the stack depends on, by autograd (along W)."""
    x = torch.zeros(1, 1, 1, size, dtype=torch.float64, requires_grad=True)
    y = x
    for layer in layers:
        if layer.kind == "conv":
            weight = torch.ones(1, 1, 1, layer.kernel, dtype=torch.float64)
            y = F.conv2d(y, weight, stride=(1, layer.stride), padding=(0, layer.padding),
                         dilation=(1, layer.dilation))
        else:  # average pooling spreads gradient over its whole window, which is max pooling's window too
            y = F.avg_pool2d(y + 1, (1, layer.kernel), (1, layer.stride), (0, layer.padding),
                             ceil_mode=layer.ceil_mode)
    y[0, 0, 0, unit].backward()
    cols = torch.nonzero(x.grad[0, 0, 0]).flatten()
    if cols.numel() == 0:  # the unit sees padding only
        return y.shape[-1], None, None
    return y.shape[-1], int(cols.min()), int(cols.max())


@settings(max_examples=60, deadline=None)
@given(layers=chains(), size=st.integers(8, 40))
def test_receptive_field_matches_autograd(layers, size):
    try:
        rows = calc.receptive_field_chain(layers, size)
    except InputError:
        with pytest.raises(RuntimeError):  # torch agrees there is no output
            _field_extent(layers, size, 0)
        return
    last = rows[-1]
    # Near the borders the formula's field (clipped to the input) can only be larger than what the
    # unit really reads: intermediate padding and floor-dropped pixels are not input.
    for unit in {0, (last.size_out - 1) // 2, last.size_out - 1}:
        n_out, first, end = _field_extent(layers, size, unit)
        assert n_out == last.size_out
        box = calc.field_box(rows, unit)
        assert box.last - box.first + 1 == last.rf_out
        if first is not None:
            assert box.first_clipped <= first <= end <= box.last_clipped
    # Away from the borders the field is exact: r_out = r_in + (k - 1) j_in, j_out = j_in s.
    big = 3 * last.rf_out + 3 * last.jump_out + 8
    rows = calc.receptive_field_chain(layers, big)
    middle = (rows[-1].size_out - 1) // 2
    n_out, first, end = _field_extent(layers, big, middle)
    box = calc.field_box(rows, middle)
    assert n_out == rows[-1].size_out and (box.first, box.last) == (first, end)
    assert [r.jump_out for r in rows] == [math.prod(x.stride for x in layers[:i + 1]) for i in range(len(layers))]


def test_paper_presets():
    size, layers = calc.CHAIN_PRESETS["three_3x3"]
    assert calc.receptive_field_chain(list(layers), size)[-1].rf_out == 7
    comparison = calc.stack_vs_single(3, 3, 64)
    assert (comparison.stacked_factor, comparison.single_factor) == (27, 49)
    assert comparison.stacked_weights == 27 * 64 * 64 and comparison.single_weights == 49 * 64 * 64

    size, layers = calc.CHAIN_PRESETS["resnet34_stem"]
    rows = calc.receptive_field_chain(list(layers), size)
    assert [r.size_out for r in rows] == [112, 56]
    assert (rows[-1].jump_out, rows[-1].rf_out) == (4, 11)


def test_zoo_layers_match_the_model():
    size, layers = calc.zoo_chain_layers("resnet34", until="conv1")
    assert size == 224 and [(layer.kind, layer.kernel, layer.stride, layer.padding) for layer in layers] == [
        ("conv", 7, 2, 3), ("maxpool", 3, 2, 1)]
    size, layers = calc.zoo_chain_layers("resnet18")
    rows = calc.receptive_field_chain(layers, size)
    assert len(layers) == 1 + 1 + 16 and rows[-1].size_out == 7 and rows[-1].jump_out == 32
    assert rows[-1].rf_out == 435  # the well-known receptive field of ResNet-18's last conv
    size, layers = calc.zoo_chain_layers("resnet20")
    rows = calc.receptive_field_chain(layers, size)
    assert size == 32 and [r.size_out for r in rows][-1] == 8 and len(layers) == 19
    assert calc.zoo_stages("vgg19")[:2] == ["conv1_x", "pool1"]
    with pytest.raises(InputError):
        calc.zoo_chain_layers("resnet20", until="conv5_x")


def test_chain_errors():
    with pytest.raises(InputError) as info:
        calc.receptive_field_chain([Layer("conv", 7, 2, 0)] * 4, 32)
    assert info.value.key == "calc.error_chain_empty" and info.value.params["row"] == 3
    with pytest.raises(InputError):
        calc.receptive_field_chain([Layer("maxpool", 3, 2, 2)], 32)
    with pytest.raises(InputError):
        calc.receptive_field_chain([Layer("conv", 0, 1, 0)], 32)


def test_fc_vs_conv():
    r = calc.fc_vs_conv(224, 224, 3, 1000, 3, 64)
    assert r.fc_weights == 150_528_000 and r.conv_weights == 1_728
    assert r.fc_weights == nn.Linear(224 * 224 * 3, 1000, bias=False, device="meta").weight.numel()
    assert r.conv_weights == nn.Conv2d(3, 64, 3, bias=False, device="meta").weight.numel()
    assert math.isclose(r.ratio, 150_528_000 / 1_728)
    with pytest.raises(InputError):
        calc.fc_vs_conv(units=0)


def test_one_receptive_field_walk_for_the_lab_the_feature_maps_and_the_summary():
    """The three views of a zoo net's fields agree, since they share ``resnet_viz.inspect.receptive_field``."""
    from resnet_viz.inspect.architecture import summarize
    from resnet_viz.inspect.feature_maps import layer_specs, receptive_fields
    from resnet_viz.inspect.receptive_field import ReceptiveField, main_path, merge, step, walk
    from resnet_viz.models.registry import build_model, get_spec

    assert step(ReceptiveField(), 7, 2, 3) == ReceptiveField(7, 2, 0.0)  # ResNet's stem: 7 pixels, centred on 0
    assert step(ReceptiveField(7, 2, 0.0), 3, 1, 2, dilation=2) == ReceptiveField(15, 2, 0.0)
    assert merge(ReceptiveField(11, 4, -1.5), ReceptiveField(13, 8, 0.0)) == ReceptiveField(13, 4, -1.5)
    for name in ("resnet18", "resnet56", "plain20"):
        with torch.device("meta"):
            model = build_model(name, shortcut="C" if name == "resnet56" else None)
        assert not any(".downsample" in p or ".shortcut" in p for p, _ in main_path(model))  # option C: 1x1s skipped
        size, layers = calc.zoo_chain_layers(name)
        rows = calc.receptive_field_chain(layers, size)
        fields = walk(model)
        assert [p for p, _ in fields] == [layer.name for layer in layers]
        assert [(f.size, f.jump, f.start) for _, f in fields] == [(r.rf_out, r.jump_out, r.start_out) for r in rows]
        last = receptive_fields(model, layer_specs(model, get_spec(name)))
        summary = summarize(name, shortcut="C" if name == "resnet56" else None)
        last_conv = [r for r in summary.rows if r.type == "Conv2d" and r.role != "shortcut"][-1]
        assert (last_conv.rf, last_conv.jump) == (fields[-1][1].size, fields[-1][1].jump) == \
            (list(last.values())[-1].size, list(last.values())[-1].jump)
