"""The pages' tables (resnet_viz.render.tables): real numbers of the zoo and the lab, headers in English and Chinese."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from resnet_viz.checkpoints.read import load_random
from resnet_viz.conv_lab import calc, parse
from resnet_viz.errors import InputError
from resnet_viz.i18n import class_label, t
from resnet_viz.inspect import architecture as A
from resnet_viz.inspect.feature_maps import LayerRecord, capture, channel_ratio
from resnet_viz.inspect.receptive_field import ReceptiveField
from resnet_viz.paper.figure7 import (
    REFERENCE_IMAGES,
    REFERENCE_SECONDS,
    Concentration,
    Figure7Source,
    LayerResponses,
    ResponseClaims,
    response_claims,
)
from resnet_viz.render import tables

summarize = functools.cache(A.summarize)  # summaries are immutable; the machine is small


# ---------------------------------------------------------------- architecture explorer

def test_fmt_shape():
    assert tables.fmt_shape((64, 56, 56)) == "64 x 56 x 56" and tables.fmt_shape((1000,)) == "1000"


def test_layer_detail_table_of_a_downsampling_conv():
    s = summarize("resnet34")
    en = tables.layer_detail_table(s, s.row("layer2.0.conv1").index, "en")
    assert list(en) == ["field", "value"]
    assert dict(zip(*en.values())) == {
        "module path": "layer2.0.conv1", "paper name": "conv3_1", "type": "Conv2d",
        "kernel / stride / padding / dilation": "3 x 3 / 2 x 2 / 1 x 1 / 1 x 1",
        "input shape (channels x height x width)": "64 x 56 x 56",
        "output shape (channels x height x width)": "128 x 28 x 28",
        "parameters": "73,728", "multiply-adds (FLOPs in the paper)": "57,802,752",
        "receptive field": "67 x 67 input pixels; neighbouring outputs are 8 pixels apart",
        "block": "conv3_1: projection shortcut (1x1 conv + BN); 230,144 parameters, "
                 "179,830,784 multiply-adds in the block",
    }
    zh = tables.layer_detail_table(s, s.row("layer2.0.conv1").index, "zh")
    assert list(zh) == ["项目", "数值"]
    assert zh["数值"][8] == "67 x 67 个输入像素；相邻输出在输入上相距 8 个像素"
    assert zh["数值"][9] == "conv3_1：投影快捷连接（1x1 卷积 + BN）；块内共 230,144 个参数，179,830,784 次乘加"


def test_layer_detail_table_of_the_fc_layer_has_no_geometry_and_no_block():
    s = summarize("resnet34")
    values = tables.layer_detail_table(s, s.row("fc").index, "en")["value"]
    assert values == ["fc", "fc", "Linear", "-", "512", "1000", "513,000", "512,000",
                      t("architecture.detail_rf_none", "en")]


def test_changes_table():
    en = tables.changes_table(A.dimension_changes(summarize("resnet34")), "en")
    assert list(en) == ["where", "from", "to", "shortcut"]
    assert en["where"] == ["conv1", "conv2_x", "conv3_1", "conv4_1", "conv5_1", "fc", "fc"]
    assert en["from"][:3] == ["3 x 224 x 224", "64 x 112 x 112", "64 x 56 x 56"]
    assert en["to"][-2:] == ["512 x 1 x 1", "1000"]
    assert en["shortcut"][1:4] == ["-", "projection shortcut (1x1 conv + BN)", "projection shortcut (1x1 conv + BN)"]
    zh = tables.changes_table(A.dimension_changes(summarize("resnet20")), "zh")
    assert zh == {"位置": ["conv1", "stage2_1", "stage3_1", "fc", "fc"],
                  "从": ["3 x 32 x 32", "16 x 32 x 32", "32 x 16 x 16", "64 x 8 x 8", "64"],
                  "到": ["16 x 32 x 32", "32 x 16 x 16", "64 x 8 x 8", "64 x 1 x 1", "10"],
                  "快捷连接": ["-", "补零快捷连接（方案 A）", "补零快捷连接（方案 A）", "-", "-"]}


def test_options_table_is_table3():
    en = tables.options_table(A.shortcut_options("resnet56"), "en")
    assert en["parameters"] == ["853,018", "855,770", "900,858"]
    assert en["extra parameters vs A"] == ["+0", "+2,752", "+47,840"]
    assert en["FLOPs (billion)"] == ["0.125", "0.126", "0.132"]
    assert en["shortcuts"][0] == "25 identity, 2 zero-padding, 0 projection"
    zh = tables.options_table(A.shortcut_options("resnet34"), "zh")
    assert zh["方案"] == ["A（补零）", "B（维度增加处投影）", "C（全部投影）"]
    assert zh["参数量"] == ["21,623,848", "21,797,672", "22,716,840"]
    assert zh["相比 A 增加的 FLOPs（百万）"] == ["+0.0", "+19.3", "+186.3"]
    assert zh["快捷连接"][2] == "0 个恒等，0 个补零，16 个投影"


def test_block_convs_table_is_figure5():
    basic, bottleneck = A.block_pair(64, 56)
    assert tables.block_convs_table(basic, "en") == {
        "layer": ["3x3 conv, 64", "3x3 conv, 64"], "parameters": ["36,864", "36,864"],
        "multiply-adds (FLOPs in the paper)": ["115,605,504", "115,605,504"]}
    assert tables.block_convs_table(bottleneck, "zh") == {
        "层": ["1x1 卷积, 64", "3x3 卷积, 64", "1x1 卷积, 256"], "参数量": ["16,384", "36,864", "16,384"],
        "乘加次数（论文中的 FLOPs）": ["51,380,224", "115,605,504", "51,380,224"]}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_layers_table_keeps_numbers_as_numbers(lang):
    s = summarize("resnet18")
    table = tables.layers_table(s, lang)
    assert {len(column) for column in table.values()} == {len(s.rows)}
    assert table[t("architecture.col_name", lang)][:3] == ["conv1", "bn1", "relu"]
    assert table[t("architecture.col_kernel", lang)][:2] == ["7 x 7", ""]
    assert table[t("architecture.col_output", lang)][0] == "64 x 112 x 112"
    assert table[t("architecture.col_params", lang)][:3] == [9408, 128, 0]
    assert table[t("architecture.col_macs", lang)][0] == 118_013_952
    assert sum(table[t("architecture.col_params", lang)]) == 11_689_512


def test_stages_table():
    en = tables.stages_table(summarize("resnet34"), "en")
    assert en["stage"] == ["conv1", "conv2_x", "conv3_x", "conv4_x", "conv5_x", "fc"]
    assert en["weight layers"] == [1, 6, 8, 12, 6, 1]  # 34 in all
    assert en["blocks"] == [0, 3, 4, 6, 3, 0]
    assert en["params"][-1] == "513,000"
    zh = tables.stages_table(summarize("resnet34"), "zh")
    assert list(zh) == ["阶段", "输出形状", "带权重的层", "块数", "参数量", "乘加次数"]
    assert zh["输出形状"][4] == "512 x 7 x 7"


def test_table1_records_text():
    header, records = tables.table1_records(A.table1((34, 50)))
    assert header == ["layer name", "output size", "34-layer", "50-layer"]
    conv3 = next(r for r in records if r[0] == "conv3_x")
    assert conv3[1] == "28x28" and conv3[2] == "[3x3, 128 / 3x3, 128] ×4"
    assert conv3[3] == "[1x1, 128 / 3x3, 128 / 1x1, 512] ×4"
    assert records[-3][2:] == ["3.66", "4.09"] and records[-2][2:] == ["3.66", "3.86"]


def test_table1_table_in_chinese():
    table = tables.table1_table(A.table1((34, 50)), "zh")
    assert list(table) == ["层名称", "输出尺寸", "34 层", "50 层"]
    assert table["输出尺寸"][:6] == ["112x112", "56x56", "28x28", "14x14", "7x7", "1x1"]
    assert table["34 层"][0] == "7x7, 64, 步长 2"
    assert table["50 层"][-3:] == ["4.09", "3.86", "25.6"]


# ---------------------------------------------------------------- conv & pooling lab

def test_conv_metrics_of_the_resnet_stem():
    result = calc.conv_output(calc.ConvSettings(224, 224, 3, 64, 7, 7, 2, 3, 1, 1, False))
    en = tables.conv_metrics(result, "en")
    assert [(label, value) for label, value, _ in en] == [
        ("Output (C x H x W)", "64 x 112 x 112"), ("Parameters", "9,408"),
        ("Multiply-adds (MACs)", "118,013,952"), ("Receptive field (this layer alone)", "7 x 7")]
    assert en[1][2] == "9,408 weights + 0 biases." and en[0][2] is None
    zh = tables.conv_metrics(result, "zh")
    assert zh[0][:2] == ("输出（C x H x W）", "64 x 112 x 112") and zh[1][2] == "9,408 个权重 + 0 个偏置。"


def test_fc_vs_conv_metrics():
    r = calc.fc_vs_conv(224, 224, 3, 1000, 3, 64)
    assert tables.fc_vs_conv_metrics(r, "en") == [("Fully connected weights", "150,528,000", None),
                                                  ("Convolution weights", "1,728", None),
                                                  ("Ratio", "87,111 x", None)]
    assert [label for label, _, _ in tables.fc_vs_conv_metrics(r, "zh")] == ["全连接层权重", "卷积层权重", "倍数"]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_chain_table(lang):
    size, layers = calc.CHAIN_PRESETS["resnet34_stem"]
    table = tables.chain_table(calc.receptive_field_chain(list(layers), size), lang)
    assert [row[t("conv_lab.col_layer", lang)] for row in table] == ["conv1", "maxpool"]
    assert [row[t("conv_lab.col_kind", lang)] for row in table] == [t("calc.kind_conv", lang),
                                                                     t("calc.kind_maxpool", lang)]
    assert [row[t("conv_lab.col_size", lang)] for row in table] == ["224 → 112", "112 → 56"]
    assert [(row[t("conv_lab.col_jump", lang)], row[t("conv_lab.col_rf", lang)]) for row in table] == [(2, 7), (4, 11)]


def test_custom_chain_records_under_translated_headers():
    assert tables.custom_chain_records("en")[0] == {"Type": "convolution", "K": 7, "S": 2, "P": 3, "D": 1,
                                                    "Ceil mode": False}
    zh = tables.custom_chain_records("zh")
    assert [row["类型"] for row in zh] == ["卷积", "最大池化", "卷积"]
    assert list(zh[1]) == ["类型", "K", "S", "P", "D", "向上取整"]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_chain_from_table_reads_back_what_was_shown(lang):
    records = tables.custom_chain_records(lang)
    layers = tables.chain_from_table(records, lang)
    assert layers == list(parse.CUSTOM_CHAIN_EXAMPLE)
    assert calc.receptive_field_chain(layers, 224)[-1].rf_out == 19  # the stem's 11, then a 3x3 conv at jump 4
    records[0][t("conv_lab.col_kind", lang)] = "nonsense"
    with pytest.raises(InputError):
        tables.chain_from_table(records, lang)


# ---------------------------------------------------------------- feature maps

@pytest.fixture(scope="module")
def resnet18_capture():
    loaded = load_random("resnet18")
    return capture(loaded.model, torch.zeros(1, 3, 64, 64), loaded.spec)


def test_layer_labels(resnet18_capture):
    en = tables.layer_labels(resnet18_capture, "en")
    assert list(en) == list(resnet18_capture.layers)
    assert en["conv1"] == "conv1 (conv1) · 64 × 32 × 32"
    assert en["maxpool"] == "max pool (conv2_x) · 64 × 16 × 16"
    assert en["conv3_1"] == "conv3_1 (conv3_x) · 128 × 8 × 8"
    assert tables.layer_labels(resnet18_capture, "zh")["maxpool"] == "最大池化（conv2_x）· 64 × 16 × 16"


def test_block_labels_name_the_shortcut(resnet18_capture):
    assert tables.block_labels(resnet18_capture, ["conv2_1", "conv3_1"], "en") == {
        "conv2_1": "conv2_1 · identity shortcut", "conv3_1": "conv3_1 · projection shortcut"}
    assert tables.block_labels(resnet18_capture, ["conv3_1"], "zh") == {"conv3_1": "conv3_1 · 投影快捷连接"}


def test_block_channel_labels(cifar_capture):
    assert tables.block_channel_labels(cifar_capture, "stage1_1", [-1, 0, 5], "en") == {
        -1: "mean over all channels", 0: "0", 5: "5"}
    assert tables.block_channel_labels(cifar_capture, "stage1_1", [-1, 3], "zh") == {-1: "所有通道的平均", 3: "3"}
    padded = tables.block_channel_labels(cifar_capture, "stage2_1", [7, 8, 23, 24], "en")  # option A: 8 + 8 zeros
    assert padded == {7: t("feature_maps.channel_padded", "en", channel=7), 8: "8", 23: "23",
                      24: t("feature_maps.channel_padded", "en", channel=24)}


def _record() -> LayerRecord:
    return LayerRecord(key="conv2_1", path="layer1.0", stage="conv2_x", kind="block",
                       array=np.zeros((2, 4, 4), np.float16), shape=(2, 4, 4), factor=1, rf=ReceptiveField(),
                       mean=0.12345, std=1.5, zero_fraction=0.625, channel_mean=np.array([0.25, -0.0004], np.float32),
                       channel_max=np.array([2.0, 0.5], np.float32), channel_argmax=np.zeros((2, 2), np.int64))


def test_channel_labels():
    assert tables.channel_labels(_record(), [1, 0], "en") == {1: "#1 · mean -0.000 · max 0.500",
                                                              0: "#0 · mean 0.250 · max 2.000"}
    assert tables.channel_labels(_record(), [0], "zh") == {0: "#0 · 均值 0.250 · 最大值 2.000"}


def test_layer_metrics():
    en = tables.layer_metrics(_record(), "en")
    assert [(label, value) for label, value, _ in en] == [("Mean", "0.123"), ("Standard deviation", "1.500"),
                                                          ("Zeros", "62.5%")]
    assert en[2][2] == t("feature_maps.stat_zeros_help", "en") and en[0][2] is None
    assert [label for label, _, _ in tables.layer_metrics(_record(), "zh")] == ["均值", "标准差", "零值"]


def test_class_names_are_shown_in_the_readers_language():
    from resnet_viz.models.registry import CIFAR10_CLASSES
    from resnet_viz.predictions import Prediction
    from resnet_viz.render.plots.attribution import predictions_figure

    labels = tables.target_labels(CIFAR10_CLASSES, "卡车", "65.8 %", "zh")
    assert labels[9].endswith("卡车") or "卡车" in labels[9]
    assert "卡车" in labels[-1] and "truck" not in " ".join(labels.values())
    assert "卡车" in tables.model_scope(CIFAR10_CLASSES, 32, "cifar10", "zh")
    assert "truck" in tables.model_scope(CIFAR10_CLASSES, 32, "cifar10", "en")
    fig = predictions_figure([Prediction(9, "truck", 0.658)], 9, "zh")
    assert list(fig.data[0].y) == ["卡车 (9)"]


# ---------------------------------------------------------------- Figure 7

def _responses(*std: float, images: int = 100) -> LayerResponses:
    return LayerResponses(tuple(f"conv{i}" for i in range(len(std))), std, images)


def _pair_claims(intervals: dict) -> ResponseClaims:
    return response_claims([("ResNet-20", "resnet", _responses(0.5, 0.7)), ("plain-20", "plain", _responses(1.0, 1.4))],
                           intervals=intervals)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_figure7_claims_say_yes_and_apart_or_too_close_or_without_interval(lang):
    apart = tables.claim_sentences(_pair_claims({"ResNet-20": (0.55, 0.65), "plain-20": (1.1, 1.3)}),
                                   "figure7.claim", 100, lang)
    params = {"level": "95 %", "images": 100, "resnet": "ResNet-20", "resnet_mean": "0.600", "resnet_ci": "0.550–0.650",
              "plain": "plain-20", "plain_mean": "1.200", "plain_ci": "1.100–1.300"}
    assert apart == [("markdown", t("figure7.claim_smaller_yes", lang, **params)),
                     ("caption", t("figure7.intervals_apart", lang, level="95 %", a="ResNet-20", a_ci="0.550–0.650",
                                   b="plain-20", b_ci="1.100–1.300"))]
    close = tables.claim_sentences(_pair_claims({"ResNet-20": (0.5, 1.2), "plain-20": (1.1, 1.3)}),
                                   "figure7.typical", 200, lang)
    assert close == [("markdown", t("figure7.typical_smaller_close", lang, **{**params, "images": 200,
                                                                              "resnet_ci": "0.500–1.200"}))]
    stored = tables.claim_sentences(_pair_claims({}), "figure7.claim", 100, lang)
    assert [style for style, _ in stored] == ["markdown", "caption"]
    assert stored[1][1] == t("figure7.claim_no_interval", lang) and "0.600" in stored[0][1]
    assert tables.claim_sentences(response_claims([]), "figure7.claim", 100, lang) == []


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_figure7_row_stored_and_live(lang):
    res = _responses(0.5, 0.7, 3.0, images=2)
    stored = tables.figure7_row("ResNet-20", res, None, None, lang)
    assert stored[t("figure7.col_layers", lang)] == 3 and stored[t("figure7.col_mean", lang)] == "1.4"
    assert stored[t("figure7.col_median", lang)] == "0.7" and stored[t("figure7.col_max", lang)] == "3"
    assert stored[t("figure7.col_interval", lang, level="95 %")] == t("figure7.interval_needs_live", lang)
    assert stored[t("figure7.col_source", lang)] == t("figure7.source_stored", lang, images=2)
    live = tables.figure7_row("ResNet-20", res, (1.23456, 1.5), 200, lang)
    assert live[t("figure7.col_interval", lang, level="95 %")] == "1.235–1.5"
    assert live[t("figure7.col_source", lang)] == t("figure7.source_live", lang, images=200)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_figure7_spread_table_sentences_and_captions(lang):
    wild = Concentration("plain-20", 100, 0.25, (7, 2, 5), (25.0, 9.0, 0.8), (0.5, 0.19, 0.01))
    even = Concentration("ResNet-20", 100, 0.3, (1, 2, 3), (0.4, 0.4, 0.4), (0.011, 0.011, 0.01))
    rows = tables.spread_rows([wild, even], {"plain-20": 1.23456, "ResNet-20": 0.5}, lang)
    assert rows[0] == {t("figure7.col_net", lang): "plain-20", t("figure7.col_mean", lang): "1.235",
                       t("figure7.col_median_image", lang): "0.25", t("figure7.col_top_share", lang, k=3): "70.0 %"}
    assert tables.spread_sentence(wild, lang) == t("figure7.spread_sentence", lang, net="plain-20", k=3, n=100,
                                                   share="70 %", even="3.0 %")
    assert tables.spread_sentence(even, lang) == t("figure7.spread_even", lang, k=3, n=100, share="3.2 %")
    assert tables.thumb_caption(wild, 1, "horse", lang) == t("figure7.thumb_caption", lang, cls="horse", std="9.00",
                                                             share="19 %")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_figure7_estimate_and_labels(lang):
    text = tables.figure7_estimate(0.2, "measured", 500, 2, lang)  # under a second still reads "1"
    assert text == t("figure7.estimate", lang, images=500, seconds="1", nets=2, basis=t("figure7.basis_measured", lang))
    reference = tables.figure7_estimate(61.6, "macs_reference", 1000, 5, lang)
    assert "62" in reference and f"{REFERENCE_SECONDS:.0f}" in reference and str(REFERENCE_IMAGES) in reference
    assert tables.figure7_labels([], lang) == {
        "random:plain20": t("figure7.untrained_label", lang, net="plain-20"),
        "random:resnet20": t("figure7.untrained_label", lang, net="ResNet-20")}
    sources = [Figure7Source("a.safetensors", "resnet20", "resnet", "a", True, None),
               Figure7Source("b.safetensors", "resnet20", "resnet", "b", False, None),
               Figure7Source("p.safetensors", "plain20", "plain", "p", True, None)]
    assert tables.figure7_labels(sources, lang) == {"a.safetensors": "ResNet-20 (a)", "b.safetensors": "ResNet-20 (b)",
                                                    "p.safetensors": "plain-20"}


# ---------------------------------------------------------------- feature maps: sentences

@pytest.fixture(scope="module")
def cifar_capture():
    loaded = load_random("resnet20")
    torch.manual_seed(0)
    return capture(loaded.model, torch.rand(1, 3, 32, 32), loaded.spec, classes=loaded.classes)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_prediction_labels_name_classes_in_the_language(cifar_capture, lang):
    shown = tables.prediction_labels(cifar_capture, lang)
    top = cifar_capture.top(5)
    assert len(shown) == 5 and [p for p, _ in shown] == pytest.approx([p for _, p in top])
    assert shown[0][1] == t("feature_maps.prediction", lang, label=class_label(top[0][0], lang),
                            prob=f"{100 * top[0][1]:.1f}")
    assert all(0.0 <= p <= 1.0 for p, _ in shown) and shown[0][0] >= shown[-1][0]
    if lang == "zh":
        assert all(class_label(name, "en") not in text for (name, _), (_, text) in zip(top, shown))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_anatomy_and_ratio_captions(cifar_capture, lang):
    block = next(k for k, b in cifar_capture.blocks.items() if b.residual_array is not None)
    rec = cifar_capture.blocks[block]
    shortcut = t(f"feature_maps.shortcut_kind_{rec.shortcut}", lang)
    assert tables.anatomy_caption(cifar_capture, block, None, lang) == t(
        "feature_maps.anatomy_caption_all", lang, block=block, ratio=f"{rec.ratio:.3f}", shortcut=shortcut)
    ratios = {c: channel_ratio(cifar_capture, block, c) for c in range(cifar_capture.layers[block].shape[0])}
    live = next(c for c, r in ratios.items() if r is not None)
    assert tables.anatomy_caption(cifar_capture, block, live, lang) == t(
        "feature_maps.anatomy_caption", lang, block=block, ratio=f"{ratios[live]:.3f}", shortcut=shortcut)
    dead = [c for c, r in ratios.items() if r is None]  # x is zero there on this image (a ReLU cut it): no ratio
    for c in dead:
        assert tables.anatomy_caption(cifar_capture, block, c, lang) == t(
            "feature_maps.anatomy_caption_zero", lang, block=block, shortcut=shortcut)
    assert tables.ratio_caption([("a", 0.1), ("b", 0.5), ("c", 2.0)], lang) == t(
        "feature_maps.ratio_caption", lang, median="0.50", count=3)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_compare_net_sentence(cifar_capture, lang):
    label, p = cifar_capture.top(1)[0]
    assert tables.compare_net("ResNet-20", cifar_capture, 91.234, "cifar10", lang) == t(
        "feature_maps.compare_net", lang, model="ResNet-20", label=label, prob=f"{100 * p:.1f}", acc="91.23",
        dataset="cifar10")
    unknown = tables.compare_net("plain-20", cifar_capture, None, None, lang)
    assert unknown == t("feature_maps.compare_net", lang, model="plain-20", label=label, prob=f"{100 * p:.1f}",
                        acc="?", dataset="?")


def test_each_stage_gets_its_own_words():
    from resnet_viz.i18n import t as tt
    from resnet_viz.inspect.layer_learns import stage_rows
    from resnet_viz.models.registry import build_model, get_spec

    spec = get_spec("resnet20")
    rows = stage_rows(build_model("resnet20"), spec)
    assert [r.level for r in rows] == ["low", "low", "mid", "high"]  # conv1 and stage1 share a level
    for lang in ("en", "zh"):
        words = tables.stage_words(rows, lang)
        assert len(set(words)) == len(words)  # stage1's sentence no longer repeats conv1's
        assert words[0] == tt("layer_learns.words_low", lang)
        assert words[1] == tt("layer_learns.words_low_again", lang, rf=rows[1].rf.size, prev="conv1",
                              prev_rf=rows[0].rf.size)
