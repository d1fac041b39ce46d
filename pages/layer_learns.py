"""What each layer learns: receptive field per stage (the telescope), the stem's filters, each channel's top
patches over the CIFAR-10 sample, and feature visualisations (shipped, or computed live)."""

from __future__ import annotations

from ui.common import class_name, current_language, follow_input, keep_labelled, keep_valid, picture, show_error, tr
from ui.layer_learns import chance, grid_of, live_visual, patches_png, request, sample, tops
from ui.models import current_model

import numpy as np
import streamlit as st

from resnet_viz.checkpoints.identity import model_key
from resnet_viz.checkpoints.read import LoadedModel
from resnet_viz.conv_lab.sliding import KERNELS
from resnet_viz.errors import VizError
from resnet_viz.inspect.feature_maps import LayerSpec, layer_specs
from resnet_viz.inspect.layer_learns import (
    StageRow,
    TopActivations,
    class_agreement,
    conv1_filters,
    crops,
    layer_channels,
    luminance_share,
    stage_rows,
)
from resnet_viz.render import tables
from resnet_viz.render.colour import png_bytes, zoom
from resnet_viz.render.plots.layer_learns import (
    agreement_sentence,
    filter_pictures,
    filters_sentence,
    grey_kernel,
    mosaic,
    rf_figure,
    stage_table,
    telescope_sentence,
)

SAMPLE_SIZES = [200, 500, 1000]
HAND_KERNELS = ("sobel_x", "sobel_y", "laplacian", "gaussian_blur")
VIS_SIDE = 96


def _vis_png(image) -> bytes:
    return png_bytes(zoom(image, max(1, VIS_SIDE // image.shape[0])))


def _shipped_vis(loaded: LoadedModel, layer: LayerSpec, channel: int):
    grid = grid_of(loaded)
    return None if grid is None else grid.find(layer.key, channel)


def _stage_column(loaded: LoadedModel, row: StageRow, words: str, top: TopActivations | None, limit: int) -> None:
    """One stage: its field, the notes' words for it, the busiest channel's top patches and its picture."""
    st.markdown(tr("layer_learns.column_head", stage=row.stage, layer=row.layer.key,
                   level=tr(f"layer_learns.level_{row.level}")))
    st.caption(words)
    if top is None:
        return
    channel = top.busiest(1)[0]
    picture(patches_png(loaded, top, channel, limit), caption=tr("layer_learns.patches_caption", channel=channel,
                                                                     rf=row.rf.size))
    shipped = _shipped_vis(loaded, row.layer, channel)
    if shipped is not None:
        picture(_vis_png(shipped), caption=tr("layer_learns.vis_caption_shipped", channel=channel))
    else:
        st.caption(tr("layer_learns.vis_none"))


def story(loaded: LoadedModel, rows: list[StageRow], limit: int, lang: str) -> None:
    """The notes' story with this model's numbers: the table, the telescope, one channel per stage."""
    size = loaded.spec.input_size
    cifar = loaded.spec.dataset == "cifar10"
    found = tops(loaded, [row.layer for row in rows], limit) if cifar else {}
    agreement = {k: class_agreement(v, sample(limit)[1]) for k, v in found.items()} if found else None
    st.dataframe(stage_table(rows, size, agreement, lang), hide_index=True, width="stretch")
    st.markdown(telescope_sentence(rows, size, lang))
    if agreement is not None:
        st.markdown(agreement_sentence(rows, agreement, chance(limit), lang))
    st.plotly_chart(rf_figure(rows, size, lang), width="stretch")
    st.caption(tr("layer_learns.telescope"))
    st.subheader(tr("layer_learns.side_by_side"))
    if not cifar:
        st.info(tr("layer_learns.no_patches_imagenet"))
    for where, row, words in zip(st.columns(len(rows)), rows, tables.stage_words(rows, lang)):
        with where:
            _stage_column(loaded, row, words, found.get(row.layer.key), limit)
    st.caption(tr("layer_learns.patches_help"))


def filters_view(loaded: LoadedModel, lang: str) -> None:
    """The stem's learned filters on one symmetric scale, next to hand-made kernels of the conv lab."""
    st.subheader(tr("layer_learns.filters_title"))
    weights = conv1_filters(loaded.model)
    left, right = st.columns([3, 2])
    tiles = list(filter_pictures(weights))
    picture(png_bytes(mosaic(tiles, cols=min(8, len(tiles)), target=48)), where=left,
            caption=tr("layer_learns.filters_caption", n=len(tiles), k=weights.shape[-1]))
    hand = [filter_pictures(grey_kernel(np.array(KERNELS[name])))[0] for name in HAND_KERNELS]
    picture(png_bytes(mosaic(hand, cols=len(hand), target=48)), where=right,
            caption=" · ".join(tr(f"conv_lab.kernel_{name}") for name in HAND_KERNELS))
    st.markdown(filters_sentence(list(luminance_share(weights)), lang))
    st.caption(tr("layer_learns.filters_help"))


def _channel_labels(top: TopActivations | None, channels: int) -> dict[int, str]:
    if top is None:
        return {c: str(c) for c in range(channels)}
    return {c: tr("layer_learns.channel_label", channel=c, mean=f"{top.channel_mean[c]:.3f}") for c in range(channels)}


def any_channel(loaded: LoadedModel, limit: int) -> None:
    """Any layer, any channel: its top patches (CIFAR nets) and its picture, shipped or computed live."""
    st.subheader(tr("layer_learns.any_title"))
    layers = {layer.key: layer for layer in layer_specs(loaded.model, loaded.spec) if layer.kind != "pool"}
    keep_valid("layer_learns_layer", list(layers), list(layers)[-1])
    c1, c2 = st.columns(2)
    key = c1.selectbox(tr("layer_learns.layer"), list(layers), key="layer_learns_layer")
    layer = layers[key]
    top = tops(loaded, [layer], limit)[key] if loaded.spec.dataset == "cifar10" else None
    channels = top.channels if top is not None else layer_channels(loaded.model, layer)
    labels = _channel_labels(top, channels)
    busiest = top.busiest(1)[0] if top is not None else 0
    follow_input(f"layer_learns_channel_{key}", (model_key(loaded), limit), busiest)  # other images: their busiest
    keep_labelled(f"layer_learns_channel_{key}", labels, busiest)
    channel = c2.selectbox(tr("layer_learns.channel"), list(labels), key=f"layer_learns_channel_{key}",
                           format_func=labels.__getitem__)
    left, right = st.columns([3, 2])
    if top is not None:
        images, sample_labels, classes = sample(limit)
        picture(patches_png(loaded, top, channel, limit, target=120), where=left)
        names = [class_name(classes[int(sample_labels[c.image])]) for c in crops(top, channel)]
        left.caption(tr("layer_learns.patches_classes", classes=tr("layer_learns.list_sep").join(names),
                                      rf=top.rf.size))
    with right:
        _channel_picture(loaded, layer, channel)


def _channel_picture(loaded: LoadedModel, layer: LayerSpec, channel: int) -> None:
    shipped = _shipped_vis(loaded, layer, channel)
    if shipped is not None:
        picture(_vis_png(shipped), caption=tr("layer_learns.vis_caption_shipped", channel=channel))
        return
    key = (model_key(loaded), layer.key, int(channel))
    st.button(tr("layer_learns.vis_button"), key="layer_learns_vis", on_click=request, args=(key,),
              help=tr("layer_learns.vis_help"))
    try:
        result = live_visual(loaded, layer, channel)
    except (VizError, RuntimeError, ValueError) as exc:
        show_error(exc)
        return
    if result is not None:
        picture(_vis_png(result.images[0]), caption=tr("layer_learns.vis_caption_live", channel=channel,
                                                       seconds=f"{result.seconds:.1f}", steps=result.config.steps,
                                                       start=f"{result.start[0]:.2f}", end=f"{result.end[0]:.2f}"))


def main() -> None:
    lang = current_language()
    st.title(tr("layer_learns.title"))
    st.markdown(tr("layer_learns.intro"))
    loaded = current_model()
    keep_valid("layer_learns_images", SAMPLE_SIZES, SAMPLE_SIZES[-1])
    limit = int(st.select_slider(tr("layer_learns.images"), SAMPLE_SIZES, key="layer_learns_images",
                                 help=tr("layer_learns.images_help")))
    try:
        rows = stage_rows(loaded.model, loaded.spec)
        story(loaded, rows, limit, lang)
        any_channel(loaded, limit)
        filters_view(loaded, lang)
    except (VizError, RuntimeError, ValueError) as exc:
        show_error(exc)
        return
    with st.expander(tr("layer_learns.honest_title"), expanded=True):
        st.markdown(tr(f"layer_learns.honest_{loaded.spec.dataset}"))
    with st.expander(tr("layer_learns.how_title")):
        st.markdown(tr("layer_learns.how"))


main()
