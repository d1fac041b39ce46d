"""Layer inspection: totals against the reference sheet and independent formulas, receptive fields by hand."""

from __future__ import annotations

import functools
import json

import pytest
import torch

from resnet_viz.errors import InputError
from resnet_viz.inspect import architecture as summary_module
from resnet_viz.inspect.architecture import block_pair, build_meta, summarize_module, table1
from resnet_viz.models.registry import MODELS
from resnet_viz.runtime import resident_bytes

summarize = functools.cache(summary_module.summarize)  # summaries are immutable; the machine is small

# ../shared/reference/resnet-paper-facts.md
REFERENCE_PARAMS = {
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032, "resnet101": 44_549_160,
    "resnet152": 60_192_808, "vgg19": 143_667_240, "plain34": 21_623_848, "plain18": 11_515_688,
    "resnet20": 269_722, "resnet32": 464_154, "resnet44": 658_586, "resnet56": 853_018, "resnet110": 1_727_962,
}


def vgg19_macs(size: int = 224) -> int:
    """16 3x3 convs (padding 1) and 3 fc layers, counted by hand."""
    plan = [(64, 2), (128, 2), (256, 4), (512, 4), (512, 4)]
    total, c_in, s = 0, 3, size
    for width, repeat in plan:
        for _ in range(repeat):
            total += s * s * c_in * width * 9
            c_in = width
        s //= 2
    return total + 512 * 7 * 7 * 4096 + 4096 * 4096 + 4096 * 1000


def basic_resnet_macs(blocks: list[int], *, projections: bool) -> int:
    """ImageNet ResNet-18/34 (plain nets: projections=False) at 224x224."""
    total = 112 * 112 * 3 * 64 * 49
    c_in, s = 64, 56
    for i, (width, n) in enumerate(zip((64, 128, 256, 512), blocks)):
        if i:
            s //= 2
        total += s * s * c_in * width * 9 + s * s * width * width * 9
        if projections and c_in != width:
            total += s * s * c_in * width
        total += (n - 1) * 2 * s * s * width * width * 9
        c_in = width
    return total + 512 * 1000


def cifar_macs(depth: int) -> int:
    n = (depth - 2) // 6
    total = 32 * 32 * 3 * 16 * 9
    c_in = 16
    for width, s in ((16, 32), (32, 16), (64, 8)):
        total += s * s * c_in * width * 9 + s * s * width * width * 9 + (n - 1) * 2 * s * s * width * width * 9
        c_in = width
    return total + 64 * 10


@pytest.mark.parametrize("name", sorted(REFERENCE_PARAMS))
def test_params_match_reference_sheet(name):
    s = summarize(name)
    assert s.params == REFERENCE_PARAMS[name]
    assert sum(r.params for r in s.rows) == s.params  # every parameter sits in exactly one row
    assert sum(st.params for st in s.stages) == s.params
    assert sum(st.macs for st in s.stages) == s.macs


def test_macs_against_hand_counts():
    assert summarize("vgg19").macs == vgg19_macs()
    assert summarize("resnet18").macs == basic_resnet_macs([2, 2, 2, 2], projections=True)
    assert summarize("resnet34").macs == basic_resnet_macs([3, 4, 6, 3], projections=True)
    assert summarize("plain34").macs == basic_resnet_macs([3, 4, 6, 3], projections=False)
    for depth in (20, 56, 110):
        assert summarize(f"resnet{depth}").macs == cifar_macs(depth)
        assert summarize(f"plain{depth}").macs == cifar_macs(depth)
    # Figure 3's headline: 19.6 billion vs 3.6 billion multiply-adds.
    assert round(summarize("vgg19").macs / 1e9, 1) == 19.6
    assert 3.6e9 <= summarize("resnet34").macs < 3.7e9


def test_weight_layers_are_the_papers_depth():
    for name in ("resnet18", "resnet34", "resnet50", "resnet152", "vgg19", "plain34", "resnet56", "plain20"):
        assert summarize(name).weight_layers == MODELS[name].depth


def test_receptive_fields_vgg19_by_hand():
    s = summarize("vgg19")
    # 3x3 convs add 2 * jump, 2x2 pools add 1 * jump and double the jump.
    expected = {"features.0": (3, 1), "features.2": (5, 1), "features.4": (6, 2), "features.5": (10, 2),
                "features.9": (16, 4), "features.10": (24, 4), "features.18": (52, 8), "features.34": (252, 16),
                "features.36": (268, 32)}
    for name, (rf, jump) in expected.items():
        assert (s.row(name).rf, s.row(name).jump) == (rf, jump), name
    assert s.row("classifier.0").rf is None


def test_receptive_fields_resnet34_through_blocks():
    s = summarize("resnet34")
    assert (s.row("conv1").rf, s.row("conv1").jump) == (7, 2)
    assert (s.row("maxpool").rf, s.row("maxpool").jump) == (11, 4)
    assert s.row("layer1.0.conv2").rf == 27
    assert s.row("layer1.2.conv2").rf == 11 + 6 * 8
    assert (s.row("layer2.0.conv1").rf, s.row("layer2.0.conv1").jump) == (67, 8)
    assert s.row("layer2.0.conv2").rf == 83
    # The 1x1 projection runs beside the main path from the block's input: it does not grow the field.
    proj = s.row("layer2.0.downsample.0")
    assert (proj.rf, proj.jump, proj.role) == (59, 8, "shortcut")
    # After the addition (the block's last ReLU) the field is the larger one, and the next block builds on it.
    assert s.row("layer2.0.relu", call=1).rf == 83
    assert s.row("layer2.1.conv1").rf == 83 + 2 * 8


def test_receptive_fields_resnet56_and_option_a():
    s = summarize("resnet56")
    assert s.row("conv1").rf == 3
    assert s.row("layer1.8.conv2").rf == 3 + 18 * 2
    pad = s.row("layer2.0.shortcut")
    assert (pad.type, pad.rf, pad.jump, pad.role) == ("PadShortcut", 39, 2, "shortcut")
    assert (s.row("layer2.0.conv1").rf, s.row("layer2.0.conv2").rf) == (41, 45)
    assert s.row("layer2.0.relu2").rf == 45
    assert (s.row("layer3.8.conv2").rf, s.row("layer3.8.conv2").jump) == (3 + 18 * 2 + (2 + 17 * 4) + (4 + 17 * 8), 4)
    assert s.row("avgpool").rf == s.row("layer3.8.conv2").rf + 7 * 4  # global 8x8 average


def test_bottleneck_receptive_fields():
    s = summarize("resnet50")
    assert [s.row(f"layer1.0.conv{i}").rf for i in (1, 2, 3)] == [11, 19, 19]
    assert s.row("layer1.0.downsample.0").rf == 11
    # torchvision V1.5: the stride sits on the 3x3.
    assert [s.row(f"layer2.0.conv{i}").rf for i in (1, 2, 3)] == [35, 43, 43]
    assert s.row("layer2.0.conv2").jump == 8
    v1 = summarize("resnet50", variant="v1")  # the paper's layout: the stride on the first 1x1
    assert (v1.row("layer2.0.conv1").jump, v1.row("layer2.0.conv2").rf) == (8, 35 + 2 * 8)


def test_stages_and_blocks():
    s = summarize("resnet34")
    assert [st.name for st in s.stages] == ["conv1", "conv2_x", "conv3_x", "conv4_x", "conv5_x", "fc"]
    assert [st.blocks for st in s.stages] == [0, 3, 4, 6, 3, 0]
    assert [st.output_shape for st in s.stages][:5] == [(64, 112, 112), (64, 56, 56), (128, 28, 28),
                                                        (256, 14, 14), (512, 7, 7)]
    assert s.row("maxpool").stage == "conv2_x" and s.row("avgpool").stage == "fc"  # as in Table 1
    kinds = {b.name: b.shortcut for b in s.blocks}
    assert kinds["conv2_1"] == "identity" and kinds["conv3_1"] == "projection" and kinds["conv3_2"] == "identity"
    assert sum(k == "projection" for k in kinds.values()) == 3
    assert all(b.shortcut is None for b in summarize("plain34").blocks)
    c = summarize("resnet20")
    assert [st.name for st in c.stages] == ["conv1", "stage1", "stage2", "stage3", "fc"]
    assert [st.output_shape[-1] for st in c.stages[1:4]] == [32, 16, 8]
    assert {b.shortcut for b in c.blocks} == {"identity", "pad"}
    k = summarize("resnet18_cifar")  # Table 1's stages after a 3x3 stride-1 stem, no max pool
    assert [st.name for st in k.stages] == ["conv1", "conv2_x", "conv3_x", "conv4_x", "conv5_x", "fc"]
    assert [st.output_shape for st in k.stages][:5] == [(64, 32, 32), (64, 32, 32), (128, 16, 16), (256, 8, 8),
                                                        (512, 4, 4)]
    assert [st.blocks for st in k.stages] == [0, 2, 2, 2, 2, 0] and k.row("linear").stage == "fc"


def test_shortcut_options_change_params_and_macs():
    a, b, c = (summarize("resnet34", shortcut=o) for o in "ABC")
    plain = summarize("plain34")
    assert a.params == plain.params and a.macs == plain.macs
    assert b.params - a.params == 173_824  # three 1x1 projections + their BN (reference sheet)
    assert c.params > b.params and c.macs > b.macs
    assert all(blk.shortcut == "projection" for blk in c.blocks)
    assert summarize("resnet56", shortcut="B").params > summarize("resnet56").params


def test_no_real_weights_are_allocated():
    _, model = build_meta("vgg19")
    assert all(p.is_meta for p in model.parameters()) and all(b.is_meta for b in model.buffers())

    before = resident_bytes()
    s = summary_module.summarize("vgg19")
    assert s.params == 143_667_240
    assert resident_bytes() - before < 200 * 2**20  # VGG-19's weights alone would be 548 MB


def test_hooks_removed_also_on_error():
    with torch.device("meta"):
        model = MODELS["vgg19"].build()
    summarize_module(model, (3, 64, 64))
    with pytest.raises(InputError):
        summarize_module(model, (3, 16, 16))  # five 2x2 pools do not fit
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks
        assert "forward" not in m.__dict__  # BatchNorm's shape-only forward is put back
    a, b = build_meta("resnet18")[1], build_meta("resnet18")[1]
    assert a is not b and a.conv1.weight is not b.conv1.weight  # callers never share a module


def test_bad_inputs_raise_input_errors():
    with pytest.raises(InputError):
        summarize("resnet18", input_size=0)
    with pytest.raises(InputError):
        summarize("resnet18", shortcut="D")
    with pytest.raises(InputError):
        summarize("vgg19", input_size=16)  # five 2x2 pools do not fit
    with pytest.raises(InputError):
        block_pair(width=0)


def test_input_size_changes_shapes_not_params():
    small = summarize("resnet18", input_size=64)
    assert small.params == REFERENCE_PARAMS["resnet18"]
    assert small.row("layer4.1.conv2").output_shape == (512, 2, 2)
    assert small.macs < summarize("resnet18").macs


def test_table1_and_the_v1_explanation():
    cols = {c.depth: c for c in table1()}
    assert [round(cols[d].macs_v1 / 1e9, 1) for d in (18, 34, 50, 101, 152)] == [1.8, 3.7, 3.9, 7.6, 11.3]
    assert [round(cols[d].macs / 1e9, 2) for d in (50, 101, 152)] == [4.09, 7.80, 11.51]
    conv4 = {c.depth: next(cell for cell in c.cells if cell.stage == "conv4_x") for c in cols.values()}
    assert [conv4[d].repeat for d in (18, 34, 50, 101, 152)] == [2, 6, 6, 23, 36]
    assert conv4[50].convs == ((1, 256), (3, 256), (1, 1024)) and conv4[50].stride == 2
    assert conv4[34].convs == ((3, 256), (3, 256))
    conv2 = next(cell for cell in cols[34].cells if cell.stage == "conv2_x")
    assert conv2.pool == ("max", 3, 2) and conv2.output_size == 56


def test_block_pair_is_figure5():
    basic, bottleneck = block_pair(64, 56)
    conv_params = lambda s: sum(r.params for r in s.rows if r.type == "Conv2d")  # noqa: E731
    assert conv_params(basic) == 2 * 9 * 64 * 64
    assert conv_params(bottleneck) == 256 * 64 + 9 * 64 * 64 + 64 * 256
    assert basic.macs == conv_params(basic) * 56 * 56 and bottleneck.macs == conv_params(bottleneck) * 56 * 56


def test_json_is_serialisable():
    d = summarize("resnet20").to_dict()
    text = json.dumps(d)
    assert json.loads(text)["totals"]["params"] == 269_722
    assert {"name", "type", "output_shape", "params", "macs", "rf"} <= set(d["layers"][0])


def test_cli_json_and_table(capsys):
    from resnet_viz.cli import main

    assert main(["summary", "resnet20", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["totals"] == {"params": 269_722, "macs": cifar_macs(20), "weight_layers": 20}
    fc = data["layers"][-1]
    assert fc["name"] == "linear" and fc["rf"] is None and fc["output_shape"] == [10]
    assert main(["summary", "resnet34", "--shortcut", "A"]) == 0
    out = capsys.readouterr().out
    assert "21,623,848" in out and "layer2.0.shortcut" not in out and "PadShortcut" in out
    assert main(["summary", "nosuchnet"]) == 2
    assert main(["summary", "vgg19", "--input-size", "16"]) == 2
    assert "Try a larger input size" in capsys.readouterr().err


# --- Figure 3 layout (resnet_viz.render.plots.figure3) ---------------------------------------------------

from resnet_viz.inspect.architecture import dimension_changes, shortcut_options  # noqa: E402
from resnet_viz.render.plots.figure3 import (  # noqa: E402
    band_positions,
    box_positions,
    column_layout,
    figure3,
    relative_cost,
    selected_box,
)


def test_figure3_columns_are_the_papers():
    vgg, plain, res = (column_layout(summarize(n)) for n in ("vgg19", "plain34", "resnet34"))
    assert len(vgg.boxes) == 16 + 5 + 3 and not vgg.arrows
    assert len(plain.boxes) == len(res.boxes) == 1 + 1 + 32 + 2 and not plain.arrows
    labels = [b.label for b in res.boxes]
    assert labels[:3] == ["7x7 conv, 64, /2", "pool, /2", "3x3 conv, 64"]
    assert labels[-2:] == ["avg pool", "fc 1000"] and labels.count("3x3 conv, 128, /2") == 1
    assert [b.label for b in vgg.boxes][-3:] == ["fc 4096", "fc 4096", "fc 1000"]
    assert len(res.arrows) == 16 and [a.block for a in res.arrows if a.kind == "projection"] == [
        "conv3_1", "conv4_1", "conv5_1"]
    assert {a.kind for a in column_layout(summarize("resnet34", shortcut="A")).arrows} == {"identity", "pad"}
    bands = band_positions([vgg, plain, res])
    assert list(bands) == [224, 112, 56, 28, 14, 7, 1]
    # The same output size sits at the same height in every column.
    for band, (top, height) in bands.items():
        for col in (vgg, plain, res):
            ys = [y for b, y in zip(col.boxes, box_positions(col, bands)) if b.band == band]
            assert all(top <= y <= top + height for y in ys)
    assert bands[56][1] == 7  # ResNet-34: the pool and six 3x3 convs at 56x56
    cost = relative_cost([vgg, plain, res])
    assert cost[0] == 1 and 0.18 < cost[2] < 0.19  # "18% of VGG-19"
    totals = [(a.text or "").replace("<br>", " ") for a in figure3([vgg, plain, res]).layout.annotations]
    totals = [text for text in totals if "billion FLOPs" in text]  # wrapped to the column's width: one line here
    assert totals[0].startswith("19.63 billion") and "18.6% of the FLOPs of VGG-19" in totals[1]


def test_collapse_keeps_resnet152_readable():
    full = column_layout(summarize("resnet152"))
    short = column_layout(summarize("resnet152"), collapse=True)
    assert len(full.boxes) == 1 + 1 + 50 * 3 + 2
    assert len(short.boxes) < 40
    assert sorted(a.repeat for a in short.arrows if a.repeat > 1) == [2, 2, 7, 35]
    assert sum(a.repeat for a in short.arrows) == 50  # every block accounted for
    vgg = column_layout(summarize("vgg19"), collapse=True)
    assert [b.repeat for b in vgg.boxes if b.label == "3x3 conv, 512"] == [4, 4]


def test_figure3_figure_and_selection():
    cols = [column_layout(summarize(n), lang="zh") for n in ("vgg19", "resnet34")]
    fig = figure3(cols, lang="zh")
    assert cols[1].boxes[0].label == "7x7 卷积, 64, /2"
    box_traces = [tr for tr in fig.data if tr.customdata is not None]
    assert len(box_traces) == 2
    dashes = [s.line.dash for s in fig.layout.shapes if s.type == "path"]
    assert dashes.count("dash") == 3 and dashes.count("solid") == 13
    assert any("19.63" in (a.text or "") for a in fig.layout.annotations)
    box = cols[1].boxes[5]
    assert selected_box(cols, {"customdata": [1, box.row]}) == (1, box.row)
    assert selected_box(cols, {"curve_number": 1, "point_index": 5 * 7 + 3}) == (1, box.row)
    assert selected_box(cols, {"customdata": [9, 0]}) is None


def test_figure3_hover_box_is_dark_text_on_white():
    """The hover label would take the invisible markers' colour; it is set to high contrast instead."""
    fig = figure3([column_layout(summarize("resnet20"), lang="en")], lang="en")
    label = fig.layout.hoverlabel
    assert label.bgcolor == "white" and label.font.color == "#111111" and label.bordercolor == "#333333"


def test_dimension_changes_and_shortcut_table():
    changes = {c["name"]: c for c in dimension_changes(summarize("resnet34"))}
    assert changes["conv3_1"]["output_shape"] == (128, 28, 28) and changes["conv3_1"]["shortcut"] == "projection"
    assert "conv2_1" not in changes
    rows = {r["option"]: r for r in shortcut_options("resnet34")}
    assert rows["A"]["params"] == 21_623_848 and rows["B"]["extra_params"] == 173_824
    assert (rows["A"]["pad"], rows["B"]["projection"], rows["C"]["projection"]) == (3, 3, 16)
    with pytest.raises(InputError):
        shortcut_options("plain34")


def test_collapsed_units_get_one_repeat_mark():
    cols = [column_layout(summarize(n), collapse=True) for n in ("plain34", "resnet34")]
    fig = figure3(cols)
    marks = [a.text for a in fig.layout.annotations if (a.text or "").startswith("×")]
    # conv2_x x3, conv3_x x3 (after conv3_1), conv4_x x5, conv5_x x2: once per column each.
    assert sorted(marks) == sorted(["×3", "×3", "×5", "×2"] * 2)


@pytest.mark.parametrize("name", list(MODELS))
def test_every_zoo_model_summarises(name):
    s = summarize(name)
    spec = MODELS[name]
    assert s.params == sum(r.params for r in s.rows) == REFERENCE_PARAMS.get(name, s.params)
    assert s.weight_layers == spec.depth
    assert s.macs == sum(r.macs for r in s.rows) > 0
    assert s.rows[-1].output_shape == (spec.num_classes,) and s.rows[-1].rf is None
    assert all(r.rf is not None for r in s.rows if len(r.output_shape) == 3)
    json.dumps(s.to_dict())
    if name == "resnet1202":
        assert s.params == 19_421_274  # reference sheet


def test_concurrent_summaries_do_not_mix():
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda n: summary_module.summarize(n), ["resnet20", "plain20"] * 4))
    assert {len(r.rows) for r in results[0::2]} == {len(results[0].rows)}
    assert all(r.params == 269_722 and r.macs == cifar_macs(20) for r in results)
    assert {b.shortcut for b in results[1].blocks} == {None}
    template = summary_module._meta_template("resnet20", "A", "")
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in template.modules())


def test_summary_and_copies_wait_for_the_templates_lock():
    """The shared template is hooked and copied under the per-model lock of resnet_viz.inspect.hooks."""
    import threading

    from resnet_viz.inspect.hooks import model_lock

    template = summary_module._meta_template("resnet20", "A", "")
    done: list[str] = []
    workers = [threading.Thread(target=lambda: (summary_module.summarize("resnet20"), done.append("summary"))),
               threading.Thread(target=lambda: (build_meta("resnet20", shortcut="A"), done.append("copy")))]
    with model_lock(template):
        for w in workers:
            w.start()
        for w in workers:
            w.join(0.3)
        assert done == []
    for w in workers:
        w.join(60)
    assert sorted(done) == ["copy", "summary"]
