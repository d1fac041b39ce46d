"""The pages' tables (resnet_viz.render.tables): real numbers of the zoo and the lab, headers in English and Chinese."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from resnet_viz.checkpoints.read import load_random
from resnet_viz.errors import InputError
from resnet_viz.i18n import t
from resnet_viz.inspect import architecture as A
from resnet_viz.inspect.feature_maps import LayerRecord, capture
from resnet_viz.inspect.receptive_field import ReceptiveField
from resnet_viz.lab import calc, parse
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
    assert zh["数值"][9] == "conv3_1：投影捷径（1x1 卷积 + BN）；块内共 230,144 个参数，179,830,784 次乘加"


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
                  "捷径": ["-", "补零捷径（选项 A）", "补零捷径（选项 A）", "-", "-"]}


def test_options_table_is_table3():
    en = tables.options_table(A.shortcut_options("resnet56"), "en")
    assert en["parameters"] == ["853,018", "855,770", "900,858"]
    assert en["extra parameters vs A"] == ["+0", "+2,752", "+47,840"]
    assert en["FLOPs (billion)"] == ["0.125", "0.126", "0.132"]
    assert en["shortcuts"][0] == "25 identity, 2 zero-padding, 0 projection"
    zh = tables.options_table(A.shortcut_options("resnet34"), "zh")
    assert zh["选项"] == ["A（补零）", "B（维度增加处投影）", "C（全部投影）"]
    assert zh["参数量"] == ["21,623,848", "21,797,672", "22,716,840"]
    assert zh["相比 A 增加的 FLOPs（百万）"] == ["+0.0", "+19.3", "+186.3"]
    assert zh["捷径"][2] == "0 个恒等，0 个补零，16 个投影"


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
    assert table["34 层"][0] == "7x7, 64, 步幅 2"
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
    assert tables.block_labels(resnet18_capture, ["conv3_1"], "zh") == {"conv3_1": "conv3_1 · 投影捷径"}


def test_block_channel_labels():
    assert tables.block_channel_labels([-1, 0, 5], "en") == {-1: "mean over all channels", 0: "0", 5: "5"}
    assert tables.block_channel_labels([-1, 3], "zh") == {-1: "所有通道的平均", 3: "3"}


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
    from resnet_viz.explain.attribution import Prediction
    from resnet_viz.models.registry import CIFAR10_CLASSES
    from resnet_viz.render.plots.attribution import predictions_figure

    labels = tables.target_labels(CIFAR10_CLASSES, "卡车", "65.8 %", "zh")
    assert labels[9].endswith("卡车") or "卡车" in labels[9]
    assert "卡车" in labels[-1] and "truck" not in " ".join(labels.values())
    assert "卡车" in tables.model_scope(CIFAR10_CLASSES, 32, "cifar10", "zh")
    assert "truck" in tables.model_scope(CIFAR10_CLASSES, 32, "cifar10", "en")
    fig = predictions_figure([Prediction(9, "truck", 0.658)], 9, "zh")
    assert list(fig.data[0].y) == ["卡车 (9)"]
