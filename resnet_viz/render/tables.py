"""The tables the pages show (the contents of st.table, st.dataframe and rows of st.metric) and the labels of
their result pickers, built from what ``resnet_viz`` computed, in one language.

Every builder is pure: it takes results and a language and returns plain dicts and lists, a column dict
(header -> values) for a table, records (header -> value per row) for a data frame, (label, value, help)
triples for a row of metrics, or option -> label for a select box. Headers and words come from the i18n
catalogue.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from resnet_viz.conv_lab import calc, parse
from resnet_viz.conv_lab.parse import format_number
from resnet_viz.data import shown_dataset
from resnet_viz.i18n import class_label, t
from resnet_viz.inspect.architecture import Summary, Table1Cell, Table1Column
from resnet_viz.inspect.feature_maps import Capture, LayerRecord, beyond_scale, channel_ratio, padded
from resnet_viz.inspect.layer_learns import StageRow
from resnet_viz.models.registry import ModelSpec, display_name, get_spec
from resnet_viz.paper.figure7 import (
    LEVEL,
    REFERENCE_IMAGES,
    REFERENCE_SECONDS,
    Concentration,
    Figure7Source,
    LayerResponses,
    ResponseClaims,
)

DATASET_NAMES = {"cifar10": "CIFAR-10", "imagenet": "ImageNet"}
FAMILY_ORDER = ("plain", "resnet", "vgg")  # the model picker's order: plain nets, ResNets, VGG, each by depth
SCOPE_NAMES = 10  # class names a model's scope lists before "…"

Columns = dict[str, list[Any]]  # header -> the column's values, top to bottom
Metric = tuple[str, str, str | None]  # label, value, help (None: no help)


def fmt_shape(shape: Iterable[int]) -> str:
    """``(64, 56, 56)`` -> ``"64 x 56 x 56"``."""
    return " x ".join(str(s) for s in shape)


def _thousands(n: int) -> str:
    return f"{n:,}"


# ---------------------------------------------------------------- architecture explorer

def layer_detail_table(s: Summary, row_index: int, lang: str = "en") -> Columns:
    """Field / value of one layer of ``s``, and of the block it belongs to."""
    row = s.rows[row_index]
    block = next((b for b in s.blocks if b.first_row <= row_index <= b.last_row), None)
    rf = (t("architecture.detail_rf_value", lang, rf=row.rf, jump=row.jump) if row.rf is not None
          else t("architecture.detail_rf_none", lang))
    geometry = "-"
    if row.kernel and row.stride and row.padding and row.dilation:  # set together, for a layer with a window
        geometry = t("architecture.detail_geometry_value", lang, k=fmt_shape(row.kernel), s=fmt_shape(row.stride),
                     p=fmt_shape(row.padding), d=fmt_shape(row.dilation))
    items = [
        (t("architecture.detail_module", lang), row.name),
        (t("architecture.detail_paper", lang), row.block or row.stage or "-"),
        (t("architecture.detail_type", lang), row.type),
        (t("architecture.detail_geometry", lang), geometry),
        (t("architecture.detail_input", lang), fmt_shape(row.input_shape)),
        (t("architecture.detail_output", lang), fmt_shape(row.output_shape)),
        (t("architecture.detail_params", lang), _thousands(row.params)),
        (t("architecture.detail_macs", lang), _thousands(row.macs)),
        (t("architecture.detail_rf", lang), rf),
    ]
    if block is not None:
        kind = t(f"architecture.kind_{block.shortcut}" if block.shortcut else "architecture.kind_none", lang)
        items.append((t("architecture.detail_block", lang),
                      t("architecture.detail_block_value", lang, block=block.name, kind=kind,
                        params=_thousands(block.params), macs=_thousands(block.macs))))
    return {t("architecture.detail_field", lang): [k for k, _ in items],
            t("architecture.detail_value", lang): [v for _, v in items]}


def changes_table(changes: Sequence[Mapping[str, Any]], lang: str = "en") -> Columns:
    """Where a column's feature map changes size or width (``inspect.architecture.dimension_changes``)."""
    return {
        t("architecture.changes_where", lang): [e["name"] for e in changes],
        t("architecture.changes_from", lang): [fmt_shape(e["input_shape"]) for e in changes],
        t("architecture.changes_to", lang): [fmt_shape(e["output_shape"]) for e in changes],
        t("architecture.changes_shortcut", lang): [t(f"architecture.kind_{e['shortcut']}", lang) if e["shortcut"]
                                                   else "-" for e in changes],
    }


def options_table(rows: Sequence[Mapping[str, Any]], lang: str = "en") -> Columns:
    """Table 3: params, multiply-adds and shortcut kinds of options A, B and C (``shortcut_options``)."""
    return {
        t("architecture.options_option", lang): [t(f"architecture.option_{r['option']}", lang) for r in rows],
        t("architecture.options_params", lang): [_thousands(r["params"]) for r in rows],
        t("architecture.options_extra_params", lang): [f"+{r['extra_params']:,}" for r in rows],
        t("architecture.options_macs", lang): [f"{r['macs'] / 1e9:.3f}" for r in rows],
        t("architecture.options_extra_macs", lang): [f"+{r['extra_macs'] / 1e6:.1f}" for r in rows],
        t("architecture.options_kinds", lang): [t("architecture.options_kinds_value", lang, identity=r["identity"],
                                                  pad=r["pad"], projection=r["projection"]) for r in rows],
    }


def block_convs_table(s: Summary, lang: str = "en") -> Columns:
    """Figure 5: the convolutions of one block, with their params and multiply-adds."""
    convs = [(r, r.kernel) for r in s.rows if r.type == "Conv2d" and r.kernel is not None]  # a Conv2d has one
    return {
        t("architecture.blocks_layer", lang): [t("architecture.box_conv", lang, k=k[0], c=r.output_shape[0])
                                               for r, k in convs],
        t("architecture.detail_params", lang): [_thousands(r.params) for r, _ in convs],
        t("architecture.detail_macs", lang): [_thousands(r.macs) for r, _ in convs],
    }


def layers_table(s: Summary, lang: str = "en") -> Columns:
    """Every layer of ``s`` (a module called twice appears twice, "#2"), with numbers left as numbers."""
    return {
        t("architecture.col_name", lang): [r.name + (f" #{r.call + 1}" if r.call else "") for r in s.rows],
        t("architecture.col_paper", lang): [r.block or r.stage or "" for r in s.rows],
        t("architecture.col_type", lang): [r.type for r in s.rows],
        t("architecture.col_kernel", lang): [fmt_shape(r.kernel) if r.kernel else "" for r in s.rows],
        t("architecture.col_stride", lang): [fmt_shape(r.stride) if r.stride else "" for r in s.rows],
        t("architecture.col_output", lang): [fmt_shape(r.output_shape) for r in s.rows],
        t("architecture.col_params", lang): [r.params for r in s.rows],
        t("architecture.col_macs", lang): [r.macs for r in s.rows],
        t("architecture.col_rf", lang): [r.rf for r in s.rows],
        t("architecture.col_jump", lang): [r.jump for r in s.rows],
    }


def stages_table(s: Summary, lang: str = "en") -> Columns:
    """One row per stage of ``s``: its output, weight layers, blocks, params and multiply-adds."""
    return {
        t("architecture.col_stage", lang): [x.name for x in s.stages],
        t("architecture.col_output", lang): [fmt_shape(x.output_shape) for x in s.stages],
        t("architecture.col_layers", lang): [x.layers for x in s.stages],
        t("architecture.col_blocks", lang): [x.blocks for x in s.stages],
        t("architecture.col_params", lang): [_thousands(x.params) for x in s.stages],
        t("architecture.col_macs", lang): [_thousands(x.macs) for x in s.stages],
    }


def table1_cell(cell: Table1Cell, lang: str = "en") -> str:
    """One cell of Table 1 in the paper's notation, e.g. "[3x3, 64 / 3x3, 64] x 3"."""
    convs = " / ".join(t("architecture.table1_conv", lang, k=k, c=c) for k, c in cell.convs)
    if cell.stage == "fc":
        return t("architecture.table1_fc", lang, n=cell.convs[0][1] if cell.convs else 0)
    if cell.repeat <= 1 and len(cell.convs) == 1:
        text = t("architecture.table1_stem", lang, k=cell.convs[0][0], c=cell.convs[0][1], s=cell.stride)
    else:
        text = t("architecture.table1_block", lang, convs=convs, n=cell.repeat)
    if cell.pool is not None:
        text = t("architecture.table1_with_pool", lang, k=cell.pool[1], s=cell.pool[2], rest=text)
    return text


def table1_records(columns: list[Table1Column], lang: str = "en") -> tuple[list[str], list[list[str]]]:
    """(header, rows) of Table 1: one row per stage, then FLOPs (torchvision and paper layout) and params."""
    header = [t("architecture.table1_stage", lang), t("architecture.table1_output", lang)]
    header += [t("architecture.table1_model", lang, depth=c.depth) for c in columns]
    stages = [cell.stage for cell in columns[0].cells] if columns else []
    records = []
    for i, stage in enumerate(stages):
        size = columns[0].cells[i].output_size
        records.append([stage, f"{size}x{size}"] + [table1_cell(c.cells[i], lang) for c in columns])
    records.append([t("architecture.table1_flops", lang), ""] + [f"{c.macs / 1e9:.2f}" for c in columns])
    records.append([t("architecture.table1_flops_v1", lang), ""] + [f"{c.macs_v1 / 1e9:.2f}" for c in columns])
    records.append([t("architecture.table1_params", lang), ""] + [f"{c.params / 1e6:.1f}" for c in columns])
    return header, records


def table1_table(columns: list[Table1Column], lang: str = "en") -> Columns:
    """Table 1 as columns (header -> the column's cells)."""
    header, records = table1_records(columns, lang)
    return {h: [rec[i] for rec in records] for i, h in enumerate(header)}


# ---------------------------------------------------------------- conv & pooling lab

def conv_metrics(result: calc.ConvResult, lang: str = "en") -> list[Metric]:
    """The conv calculator's results: output shape, parameters, multiply-adds, the layer's own field."""
    rf_h, rf_w = result.receptive_field
    return [
        (t("conv_lab.output_shape", lang), " x ".join(str(n) for n in result.output_shape), None),
        (t("conv_lab.params", lang), format_number(result.params),
         t("conv_lab.params_help", lang, weights=format_number(result.weights), biases=format_number(result.biases))),
        (t("conv_lab.macs", lang), format_number(result.macs), t("conv_lab.macs_help", lang)),
        (t("conv_lab.rf_alone", lang), f"{rf_h} x {rf_w}", None),
    ]


def fc_vs_conv_metrics(r: calc.FcVsConv, lang: str = "en") -> list[Metric]:
    """The weights of a fully connected layer, of a conv layer, and their ratio."""
    return [
        (t("conv_lab.why_fc_weights", lang), format_number(r.fc_weights), None),
        (t("conv_lab.why_conv_weights", lang), format_number(r.conv_weights), None),
        (t("conv_lab.why_ratio", lang), f"{r.ratio:,.0f} x", None),
    ]


def chain_table(rows: list[calc.ChainRow], lang: str = "en") -> list[dict[str, object]]:
    """One table row per layer of a receptive-field chain: its geometry, the size it maps, jump and field."""
    return [{
        t("conv_lab.col_layer", lang): r.layer.name or str(i + 1),
        t("conv_lab.col_kind", lang): t(f"calc.kind_{r.layer.kind}", lang),
        "K": r.layer.kernel, "S": r.layer.stride, "P": r.layer.padding, "D": r.layer.dilation,
        t("conv_lab.col_size", lang): f"{r.size_in} → {r.size_out}",
        t("conv_lab.col_jump", lang): r.jump_out,
        t("conv_lab.col_rf", lang): r.rf_out,
    } for i, r in enumerate(rows)]


def chain_kind_labels(lang: str = "en") -> dict[str, str]:
    """Layer kind -> its label in the typed chain's kind column."""
    return {k: t(f"calc.kind_{k}", lang) for k in calc.LAYER_KINDS}


def chain_headers(lang: str = "en") -> dict[str, str]:
    """The typed chain's translated column headers (the others, K S P D, are the same in every language)."""
    return {"kind": t("conv_lab.col_kind", lang), "ceil": t("conv_lab.col_ceil", lang)}


def custom_chain_records(lang: str = "en") -> list[dict[str, object]]:
    """The rows the typed chain starts from (``parse.CUSTOM_CHAIN_EXAMPLE``), under translated headers."""
    headers = chain_headers(lang)
    return [{headers.get(k, k): v for k, v in row.items()}
            for row in parse.chain_records(parse.CUSTOM_CHAIN_EXAMPLE, chain_kind_labels(lang))]


def chain_from_table(records: Iterable[Mapping[str, Any]], lang: str = "en") -> list[calc.Layer]:
    """The layers of the rows a user typed under ``custom_chain_records``'s headers (InputError if unreadable)."""
    names = {label: name for name, label in chain_headers(lang).items()}
    rows = [{names.get(k, k): v for k, v in row.items()} for row in records]
    return parse.chain_from_records(rows, chain_kind_labels(lang))


# ---------------------------------------------------------------- feature maps

def layer_labels(cap: Capture, lang: str = "en") -> dict[str, str]:
    """Layer key -> its option label: name, stage and C x H x W."""
    labels = {}
    for key, rec in cap.layers.items():
        name = t("feature_maps.maxpool_name", lang) if key == "maxpool" else key
        c, h, w = rec.shape
        labels[key] = t("feature_maps.layer_option", lang, name=name, stage=rec.stage, channels=c, height=h, width=w)
    return labels


def channel_labels(rec: LayerRecord, channels: Iterable[int], lang: str = "en") -> dict[int, str]:
    """Channel -> its option label, with the channel's mean and maximum."""
    return {c: t("feature_maps.channel_option", lang, channel=c, mean=f"{rec.channel_mean[c]:.3f}",
                 max=f"{rec.channel_max[c]:.3f}") for c in channels}


def block_labels(cap: Capture, blocks: Iterable[str], lang: str = "en") -> dict[str, str]:
    """Block key -> its option label, which names the block's kind of shortcut."""
    return {k: t(f"feature_maps.shortcut_{cap.blocks[k].shortcut}", lang, block=k) for k in blocks}


def block_channel_labels(cap: Capture, block: str, channels: Iterable[int], lang: str = "en") -> dict[int, str]:
    """Channel -> its option label in the block anatomy, where -1 stands for the mean over channels; the channels
    that option A's shortcut fills with zeros say so."""
    zero = set(padded(cap, block))
    return {c: t("feature_maps.channel_mean", lang) if c < 0 else
            t("feature_maps.channel_padded", lang, channel=c) if c in zero else str(c) for c in channels}


def layer_metrics(rec: LayerRecord, lang: str = "en") -> list[Metric]:
    """A layer's mean, standard deviation and fraction of zeros (over every channel and position)."""
    return [
        (t("feature_maps.stat_mean", lang), f"{rec.mean:.3f}", None),
        (t("feature_maps.stat_std", lang), f"{rec.std:.3f}", None),
        (t("feature_maps.stat_zeros", lang), f"{100 * rec.zero_fraction:.1f}%",
         t("feature_maps.stat_zeros_help", lang)),
    ]


def prediction_labels(cap: Capture, lang: str = "en", k: int = 5) -> list[tuple[float, str]]:
    """The ``k`` most probable classes, each as (probability clipped to 0..1, e.g. "cat: 91.2%")."""
    return [(min(1.0, max(0.0, p)), t("feature_maps.prediction", lang, label=class_label(name, lang),
                                       prob=f"{100 * p:.1f}")) for name, p in cap.top(k)]


def colour_scale_caption(rec: LayerRecord, lang: str = "en") -> str:
    """The layer's colour scale, and where its colours saturate: the values above its top (a high percentile) and
    how far they go."""
    text = t("feature_maps.colour_scale", lang, low=f"{rec.vmin:.3g}", high=f"{rec.vmax:.3g}")
    share, top = beyond_scale(rec)
    if share > 0 and top > rec.vmax:
        text += " " + t("feature_maps.colour_saturates", lang, high=f"{rec.vmax:.3g}", top=f"{top:.3g}",
                        share=f"{100 * share:.2g}")
    return text


def anatomy_caption(cap: Capture, block: str, channel: int | None, lang: str = "en") -> str:
    """The block's ‖F(x)‖ / ‖x‖, of one channel or (None) over all channels, and its kind of shortcut; for a
    channel where x is zero (option A's padding, or this image) why the ratio has no value."""
    rec = cap.blocks[block]
    shortcut = t(f"feature_maps.shortcut_kind_{rec.shortcut}", lang)
    zero = padded(cap, block)
    if channel is not None and channel in zero:
        return t("feature_maps.anatomy_caption_padded", lang, block=block, channel=channel, count=len(zero),
                 in_channels=cap.layers[rec.input_key].shape[0], out_channels=cap.layers[block].shape[0])
    ratio = rec.ratio if channel is None else channel_ratio(cap, block, channel)
    if ratio is None or not np.isfinite(ratio):
        return t("feature_maps.anatomy_caption_zero", lang, block=block, shortcut=shortcut)
    return t("feature_maps.anatomy_caption" if channel is not None else "feature_maps.anatomy_caption_all", lang,
             block=block, ratio=f"{ratio:.3f}", shortcut=shortcut)


def ratio_caption(block_ratios: Sequence[tuple[str, float]], lang: str = "en") -> str:
    """The median of the blocks' ‖F(x)‖ / ‖x‖ (``inspect.feature_maps.ratios``), next to the paper's Figure 7."""
    median = float(np.median([v for _, v in block_ratios]))
    return t("feature_maps.ratio_caption", lang, median=f"{median:.2f}", count=len(block_ratios))


def compare_net(name: str, cap: Capture, accuracy: float | None, dataset: str | None, lang: str = "en") -> str:
    """One net of a plain/residual pair: its top prediction on the image, its test accuracy and data set."""
    label, p = cap.top(1)[0]
    return t("feature_maps.compare_net", lang, model=name, label=label, prob=f"{100 * p:.1f}",
             acc=f"{accuracy:.2f}" if accuracy is not None else "?",
             dataset=shown_dataset(dataset, lang) if dataset else "?")


# ---------------------------------------------------------------- models and their predictions

def model_order(spec: ModelSpec) -> tuple[int, int, int]:
    """Sort key of the model picker: family (plain, ResNet, VGG), CIFAR-10 before ImageNet, then depth."""
    family = FAMILY_ORDER.index(spec.family) if spec.family in FAMILY_ORDER else len(FAMILY_ORDER)
    return family, int(spec.dataset != "cifar10"), spec.depth


def epochs_text(epochs: float) -> str:
    """Epochs as labels say them: whole above 10 ("30"), one decimal below ("3.8")."""
    return f"{epochs:.0f}" if epochs >= 10 else f"{epochs:.1f}"


def epochs_span(epochs: Iterable[float | None]) -> str:
    """The epochs of several runs: "30", or "3.8–30" when they differ ("?" when none is recorded)."""
    known = sorted({e for e in epochs if e is not None})
    if not known:
        return "?"
    return epochs_text(known[0]) if len(known) == 1 else f"{epochs_text(known[0])}–{epochs_text(known[-1])}"


def checkpoint_option(model: str, stem: str, accuracy: float | None, shipped: bool, lang: str = "en",
                      epochs: float | None = None) -> str:
    """The picker's short label of a checkpoint, e.g. "ResNet-20 · 91.7 % · 30 epochs" (the file's name when it is
    not the model's, " · yours" for a user's checkpoint)."""
    acc = t("models.option_accuracy", lang, acc=f"{accuracy:.1f}") if accuracy is not None else ""
    if epochs is not None:
        acc += t("models.option_epochs", lang, epochs=epochs_text(epochs))
    if not shipped:
        acc += t("models.option_user", lang)
    if stem == model:
        return t("models.option_checkpoint", lang, model=display_name(model), acc=acc)
    return t("models.option_named", lang, model=display_name(model), stem=stem, acc=acc)


def pretrained_option(model: str, cached: bool, lang: str = "en") -> str:
    """The picker's short label of a pretrained net: torchvision's on ImageNet, chenyaofo's on CIFAR-10."""
    key = "models.option_pretrained" + ("_cifar" if get_spec(model).dataset == "cifar10" else "")
    return t(key + ("" if cached else "_download"), lang, model=display_name(model))


def model_scope(classes: Sequence[str], input_size: int, dataset: str, lang: str = "en") -> str:
    """What a model can answer: its classes (the first ``SCOPE_NAMES`` named) and input size, in one sentence."""
    names = ", ".join(class_label(c, lang) for c in classes[:SCOPE_NAMES])
    names += ", …" if len(classes) > SCOPE_NAMES else ""
    expected = {"cifar10": 10, "imagenet": 1000}.get(dataset)
    if expected != len(classes):  # a checkpoint with its own classes: no dataset to name
        return t("models.scope_classes", lang, count=len(classes), size=input_size, names=names)
    return t("models.scope", lang, count=len(classes), dataset=DATASET_NAMES[dataset], size=input_size,
             names=names)


def target_labels(classes: Sequence[str], top: str, probability: str, lang: str = "en") -> dict[int, str]:
    """Class index -> its label in the "class to explain" box; -1 is the top prediction, named with its
    probability (so the labels change with the image)."""
    labels = {-1: t("attribution.target_top", lang, name=top, prob=probability)}
    labels.update({i: t("attribution.target_option", lang, index=i, name=class_label(name, lang))
                   for i, name in enumerate(classes)})
    return labels


# ---------------------------------------------------------------- Figure 7

Sentence = tuple[str, str]  # (style, text): "markdown" for a verdict, "caption" for a note under it


def figure7_level() -> str:
    """The bootstrap intervals' level as the page writes it, e.g. "95 %"."""
    return f"{100 * LEVEL:.0f} %"


def interval_text(interval: tuple[float, float], value: str) -> str:
    """``(0.1234, 0.2)`` with ``value`` ".3f" -> "0.123–0.200"."""
    return f"{interval[0]:{value}}–{interval[1]:{value}}"


def _claim(key: str, holds: bool | None, too_close: bool | None, sides: dict, value: str, images: int,
           intervals: Mapping[str, tuple[float, float]], lang: str) -> list[Sentence]:
    """One claim's sentence, ``{key}_yes`` / ``_no`` / ``_close``; ``sides``: role -> (label, number) as the
    sentence names them ("resnet", "plain" or "deep", "shallow"). Where the intervals are apart, a note says so."""
    if holds is None:
        return []

    def ci(label: str) -> str:
        return "" if label not in intervals else interval_text(intervals[label], value)

    params: dict[str, Any] = {"level": figure7_level(), "images": images}
    for role, (label, number) in sides.items():
        params.update({role: label, f"{role}_mean": f"{number:{value}}", f"{role}_ci": ci(label)})
    out = [("markdown", t(f"{key}_{'close' if too_close else 'yes' if holds else 'no'}", lang, **params))]
    if too_close is False:
        (a, _), (b, _) = sides.values()
        out.append(("caption", t("figure7.intervals_apart", lang, level=figure7_level(), a=a, a_ci=ci(a), b=b,
                                 b_ci=ci(b))))
    return out


def claim_sentences(claims: ResponseClaims, prefix: str, images: int, lang: str = "en",
                    value: str = ".3f") -> list[Sentence]:
    """The two Figure 7 claims as sentences under ``prefix`` ("figure7.claim" or "figure7.typical"): "too close
    to call" where the compared networks' intervals overlap, and a note where values without per-image data
    leave a verdict without an interval."""
    out = _claim(f"{prefix}_smaller", claims.resnets_smaller, claims.smaller_too_close,
                 {"resnet": claims.largest_resnet, "plain": claims.smallest_plain}, value, images, claims.intervals,
                 lang)
    out += _claim(f"{prefix}_deeper", claims.deeper_smaller, claims.deeper_too_close,
                  {"deep": claims.deep_resnet, "shallow": claims.shallow_resnet}, value, images, claims.intervals,
                  lang)
    if ((claims.resnets_smaller is not None and claims.smaller_too_close is None)
            or (claims.deeper_smaller is not None and claims.deeper_too_close is None)):
        out.append(("caption", t("figure7.claim_no_interval", lang)))
    return out


def figure7_row(label: str, res: LayerResponses, interval: tuple[float, float] | None, live_images: int | None,
                lang: str = "en") -> dict[str, object]:
    """A network's row of the Figure 7 table; ``live_images``: the sample size computed live, None for values
    stored with the checkpoint."""
    source = (t("figure7.source_stored", lang, images=res.images) if live_images is None
              else t("figure7.source_live", lang, images=live_images))
    return {t("figure7.col_net", lang): label, t("figure7.col_layers", lang): len(res.std),
            t("figure7.col_mean", lang): f"{res.mean:.4g}",
            t("figure7.col_interval", lang, level=figure7_level()): t("figure7.interval_needs_live", lang)
            if interval is None else interval_text(interval, ".4g"),
            t("figure7.col_median", lang): f"{res.median:.4g}", t("figure7.col_max", lang): f"{res.max:.4g}",
            t("figure7.col_source", lang): source}


def spread_rows(spread: Sequence[Concentration], means: Mapping[str, float], lang: str = "en") -> list[dict]:
    """One row per network: its mean std, its median image's std and the share of its most extreme images."""
    return [{t("figure7.col_net", lang): c.label, t("figure7.col_mean", lang): f"{means[c.label]:.4g}",
             t("figure7.col_median_image", lang): f"{c.median_image_std:.4g}",
             t("figure7.col_top_share", lang, k=len(c.top)): f"{100 * c.top_share:.1f} %"} for c in spread]


def spread_sentence(worst: Concentration, lang: str = "en") -> str:
    """How much of the most concentrated network's variance its few most extreme images carry."""
    if not worst.dominated:
        return t("figure7.spread_even", lang, k=len(worst.top), n=worst.images, share=f"{100 * worst.top_share:.1f} %")
    return t("figure7.spread_sentence", lang, net=worst.label, k=len(worst.top), n=worst.images,
             share=f"{100 * worst.top_share:.0f} %", even=f"{100 * worst.even_share:.1f} %")


def thumb_caption(worst: Concentration, k: int, cls: str, lang: str = "en") -> str:
    """The caption under the ``k``-th most extreme image of ``worst``, of class ``cls``."""
    return t("figure7.thumb_caption", lang, cls=cls, std=f"{worst.top_std[k]:.2f}",
             share=f"{100 * worst.top_shares[k]:.0f} %")


def figure7_estimate(seconds: float, basis: str, images: int, nets: int, lang: str = "en") -> str:
    """How long "Recompute live" would take (``CostMeter.estimate``), and on what the estimate rests."""
    return t("figure7.estimate", lang, images=images, seconds=f"{max(seconds, 1):.0f}", nets=nets,
             basis=t(f"figure7.basis_{basis}", lang, ref_seconds=f"{REFERENCE_SECONDS:.0f}",
                     ref_images=REFERENCE_IMAGES))


def figure7_labels(sources: Sequence[Figure7Source], lang: str = "en") -> dict[str, str]:
    """Checkpoint path -> the network's name, with the file's stem where two checkpoints share a model; without
    checkpoints, the untrained plain-20 and ResNet-20 the page shows instead ("random:plain20", ...)."""
    if not sources:
        return {f"random:{m}": t("figure7.untrained_label", lang, net=display_name(m)) for m in ("plain20", "resnet20")}
    counts = Counter(s.model for s in sources)
    return {s.path: display_name(s.model) if counts[s.model] == 1 else f"{display_name(s.model)} ({s.stem})"
            for s in sources}


# ---------------------------------------------------------------- what each layer learns

def stage_words(rows: Sequence[StageRow], lang: str = "en") -> list[str]:
    """The notes' words for each stage: the level's sentence for the first stage of a level, and for a later stage
    of the same level (CIFAR's stage1 after conv1) what changed, with its wider window: never the same sentence
    twice."""
    out = []
    for i, row in enumerate(rows):
        previous = rows[i - 1] if i else None
        if previous is None or previous.level != row.level:
            out.append(t(f"layer_learns.words_{row.level}", lang))
        else:
            out.append(t(f"layer_learns.words_{row.level}_again", lang, rf=row.rf.size, prev=previous.stage,
                         prev_rf=previous.rf.size))
    return out
