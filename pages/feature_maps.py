"""Feature maps: what each layer sees in one image, a residual block taken apart, plain vs residual."""

from __future__ import annotations

from ui.common import current_language, follow_input, keep_labelled, picture, show_error, tr
from ui.feature_maps import (
    capture_of,
    colour_bar,
    depth_strip,
    erf_of,
    grid_png,
    input_picture,
    pair_captures,
    strip_scales,
)
from ui.images import cached_png, image_input, preprocessed, show_preprocessing
from ui.models import current_model, model_label, model_scope, twin_checkpoints

import numpy as np
import streamlit as st

from resnet_viz.checkpoints.identity import model_key
from resnet_viz.checkpoints.read import LoadedModel
from resnet_viz.errors import VizError
from resnet_viz.images import Preprocessed
from resnet_viz.inspect.feature_maps import Capture, anatomy, channel_order, mass_extent, padded, page_of, ratios
from resnet_viz.render import tables
from resnet_viz.render.colour import mark_unit
from resnet_viz.render.plots.feature_maps import anatomy_figure, channel_figure, compare_figure, ratio_figure

PER_PAGE = 64
GRID_COLS = 8
VIEWS = ("layers", "anatomy", "compare", "input")


# ---------------------------------------------------------------- small renderers

def predictions(cap: Capture, loaded: LoadedModel, image_id: str) -> None:
    st.markdown(f"**{tr('feature_maps.top_predictions')}**")
    for p, text in tables.prediction_labels(cap, current_language()):
        st.progress(p, text=text)
    model_scope(loaded, image_id, "feature_maps")
    if loaded.source == "random":
        st.warning(tr("feature_maps.random_weights"))


# ---------------------------------------------------------------- views

def layers_view(cap: Capture, loaded: LoadedModel, pre: Preprocessed, mkey: str, image_id: str) -> None:
    st.subheader(tr("feature_maps.strip_title"))
    st.caption(tr("feature_maps.strip_help"))
    depth_strip(cap, mkey, image_id)

    st.subheader(tr("feature_maps.grid_title"))
    keys = list(cap.layers)
    lang = current_language()
    layer_labels = tables.layer_labels(cap, lang)
    keep_labelled("feature_maps_layer", layer_labels, keys[0])
    c1, c2, c3 = st.columns([3, 2, 2])
    key = c1.selectbox(tr("feature_maps.layer"), keys, format_func=layer_labels.__getitem__,
                       key="feature_maps_layer", help=tr("feature_maps.layer_help"))
    rec = cap.layers[key]
    orders = {o: tr(f"feature_maps.order_{o}") for o in ("mean", "index")}
    keep_labelled("feature_maps_order", orders, "mean")
    order_by = c2.radio(tr("feature_maps.order"), list(orders), key="feature_maps_order", horizontal=True,
                        format_func=orders.__getitem__)
    order = channel_order(rec, order_by)
    pages = max(1, -(-len(order) // PER_PAGE))
    page = c3.number_input(tr("feature_maps.page", pages=pages), min_value=1, max_value=pages, value=1, step=1,
                           key=f"feature_maps_page_{key}") if pages > 1 else 1
    shown = page_of(order, int(page) - 1, PER_PAGE)
    lo, hi = rec.vmin, rec.vmax
    g1, g2 = st.columns([3, 2])
    with g1:
        picture(grid_png(cap, mkey, image_id, key, shown, GRID_COLS, 640, lo, hi))
        colour_bar(lo, hi, tables.colour_scale_caption(rec, lang))
        st.caption(tr("feature_maps.grid_caption", channels=", ".join(str(int(c)) for c in shown),
                      first=int(shown[0]) if len(shown) else 0))
        if rec.factor > 1:
            st.caption(tr("feature_maps.pooled", factor=rec.factor))
    with g2:
        for where, (label, value, help_text) in zip(st.columns(3), tables.layer_metrics(rec, lang)):
            where.metric(label, value, help=help_text)
        c, h, w = rec.shape
        st.caption(tr("feature_maps.layer_facts", channels=c, height=h, width=w, rf=rec.rf.size, jump=rec.rf.jump))
        channels = [int(c) for c in order]
        channel_labels = tables.channel_labels(rec, channels, lang)  # the image's numbers: new with each image
        follow_input(f"feature_maps_channel_{key}", (mkey, image_id), channels[0])  # a new image: its first channel
        keep_labelled(f"feature_maps_channel_{key}", channel_labels, channels[0])
        channel = st.selectbox(tr("feature_maps.channel"), channels, key=f"feature_maps_channel_{key}",
                               format_func=channel_labels.__getitem__)
        channel_detail(rec, channel, pre, lo, hi, mkey, image_id)
    receptive_field_view(loaded, rec, channel, pre, mkey, image_id)


def channel_detail(rec, channel: int, pre: Preprocessed, lo: float, hi: float, mkey: str, image_id: str) -> None:
    fmap = rec.array[channel].astype(np.float32)
    st.plotly_chart(channel_figure(fmap, lo, hi, layer=rec.key, channel=channel, lang=current_language()),
                    width="stretch")
    r, c = (int(v) for v in rec.channel_argmax[channel])
    input_pic = input_picture(pre)
    size = input_pic.shape[0]
    box = rec.rf.box(r, c, size, size)
    marked = cached_png(("strongest", mkey, image_id, rec.key, channel),
                        lambda: mark_unit(input_pic, box, (rec.rf.centre(r), rec.rf.centre(c)), heat=fmap, vmin=lo,
                                          vmax=hi))
    picture(marked)
    st.caption(tr("feature_maps.strongest", row=r, col=c, value=f"{rec.channel_max[channel]:.3f}", rf=rec.rf.size))


def receptive_field_view(loaded: LoadedModel, rec, channel: int, pre: Preprocessed, mkey: str, image_id: str) -> None:
    st.subheader(tr("feature_maps.rf_title"))
    st.caption(tr("feature_maps.rf_help"))
    _, h, w = rec.shape
    r0, c0 = (int(v) for v in rec.channel_argmax[channel])
    a, b, c = st.columns([1, 1, 2])
    unit = f"{rec.key}_{channel}"
    follow_input(f"feature_maps_row_{unit}", (mkey, image_id), r0)  # a new image: its own strongest unit
    follow_input(f"feature_maps_col_{unit}", (mkey, image_id), c0)
    row = int(a.number_input(tr("feature_maps.unit_row", max=h - 1), 0, h - 1, key=f"feature_maps_row_{unit}"))
    col = int(b.number_input(tr("feature_maps.unit_col", max=w - 1), 0, w - 1, key=f"feature_maps_col_{unit}"))
    want_erf = c.toggle(tr("feature_maps.erf_toggle"), key="feature_maps_erf", help=tr("feature_maps.erf_help"))
    input_pic = input_picture(pre)
    size = input_pic.shape[0]
    box = rec.rf.box(row, col, size, size)
    centre = (rec.rf.centre(row), rec.rf.centre(col))
    p1, p2 = st.columns(2)
    picture(cached_png(("rf", mkey, image_id, rec.key, row, col), lambda: mark_unit(input_pic, box, centre)), where=p1)
    p1.caption(tr("feature_maps.rf_caption", row=row, col=col, rf=rec.rf.size, top=box[0], left=box[1],
                  bottom=box[2], right=box[3]))
    if not want_erf:
        return
    try:
        grad = erf_of(loaded, pre, image_id, rec.path, row, col, channel)
    except (ValueError, RuntimeError) as exc:
        show_error(exc)
        return
    if not grad.any():
        p2.info(tr("feature_maps.erf_zero"))
        return
    heat = grad / grad.max()
    shown = cached_png(("erf", mkey, image_id, rec.key, row, col, channel),
                       lambda: mark_unit(input_pic, box, centre, heat=heat, cmap="Hot"))
    extent = mass_extent(grad, centre)
    picture(shown, where=p2)
    p2.caption(tr("feature_maps.erf_caption", extent=extent, rf=rec.rf.size))


def plain_anatomy(cap: Capture, mkey: str, image_id: str) -> None:
    """A plain block has no shortcut to take apart: its output, the most active channels first."""
    st.info(tr("feature_maps.plain_no_split"))
    key = st.selectbox(tr("feature_maps.block"), list(cap.blocks), key="feature_maps_plain_block")
    rec = cap.layers[key]
    lo, hi = rec.vmin, rec.vmax
    picture(grid_png(cap, mkey, image_id, key, channel_order(rec, "mean")[:PER_PAGE], GRID_COLS, 640, lo, hi),
            caption=tr("feature_maps.plain_output", block=key))
    colour_bar(lo, hi, tables.colour_scale_caption(rec, current_language()))


def block_choice(cap: Capture, residual: list[str]) -> tuple[str, int | None]:
    """The residual block to take apart, and one of its channels (None: the mean over channels)."""
    block_labels = tables.block_labels(cap, residual, current_language())
    keep_labelled("feature_maps_block", block_labels, residual[0])
    c1, c2 = st.columns(2)
    block = c1.selectbox(tr("feature_maps.block"), residual, key="feature_maps_block",
                         format_func=block_labels.__getitem__)
    options = [-1, *range(cap.layers[block].shape[0])]
    channel_labels = tables.block_channel_labels(cap, block, options, current_language())
    keep_labelled("feature_maps_block_channel", channel_labels, -1)
    ch = c2.selectbox(tr("feature_maps.channel"), options, key="feature_maps_block_channel",
                      format_func=channel_labels.__getitem__)
    return block, None if ch < 0 else int(ch)


def anatomy_view(cap: Capture, mkey: str, image_id: str) -> None:
    st.subheader(tr("feature_maps.anatomy_title"))
    st.caption(tr("feature_maps.anatomy_help"))
    if not cap.blocks:
        st.info(tr("feature_maps.no_blocks"))
        return
    residual = [k for k, b in cap.blocks.items() if b.residual_array is not None]
    if not residual:
        plain_anatomy(cap, mkey, image_id)
        return
    block, channel = block_choice(cap, residual)
    st.plotly_chart(anatomy_figure(anatomy(cap, block, channel), current_language(),
                                   x_padded=channel in padded(cap, block)), width="stretch")
    st.caption(tables.anatomy_caption(cap, block, channel, current_language()))
    ratio_section(cap, block)


def ratio_section(cap: Capture, block: str) -> None:
    st.subheader(tr("feature_maps.ratio_title"))
    data = ratios(cap)
    st.plotly_chart(ratio_figure(data, block=block, model=cap.model, lang=current_language()), width="stretch")
    st.caption(tables.ratio_caption(data, current_language()))


def compare_view(image, image_id: str) -> None:
    st.subheader(tr("feature_maps.compare_title"))
    st.caption(tr("feature_maps.compare_help"))
    pairs = twin_checkpoints()
    if not pairs:
        st.info(tr("feature_maps.compare_missing"))
        return
    labels = {f"{p[0]} / {p[2]}": p for p in pairs}
    choice = st.selectbox(tr("feature_maps.compare_pair"), list(labels), key="feature_maps_pair")
    caps = pair_captures(image, image_id, labels[choice])
    if caps is None:
        return
    scales = strip_scales([cap for _, cap in caps.values()])
    for name, (loaded, cap) in caps.items():
        st.markdown(tables.compare_net(name, cap, loaded.accuracy, loaded.meta.get("dataset"), current_language()))
        depth_strip(cap, model_key(loaded), image_id, scales)
    stds = {name: [(k, cap.layers[k].std) for k in cap.blocks] for name, (_, cap) in caps.items()}
    st.plotly_chart(compare_figure(stds, current_language()), width="stretch")
    st.caption(tr("feature_maps.compare_caption"))


# ---------------------------------------------------------------- the page

def main() -> None:
    st.title(tr("feature_maps.title"))
    st.caption(tr("feature_maps.intro"))
    loaded = current_model()
    left, right = st.columns([2, 3])
    with left:
        picked = image_input("feature_maps_image", loaded.spec.dataset)
    if picked is None:
        return
    image, image_id = picked
    try:
        pre = preprocessed(image, image_id, loaded)
        mkey = model_key(loaded)
        with st.spinner(tr("feature_maps.computing")):
            cap = capture_of(loaded, pre, image_id)
    except (VizError, RuntimeError, ValueError) as exc:
        show_error(exc)
        return
    with right:
        a, b = st.columns(2)
        picture(cached_png(("input", mkey, image_id), lambda: input_picture(pre)), where=a,
                caption=tr("feature_maps.model_input", model=model_label(loaded), size=loaded.input_size))
        with b:
            predictions(cap, loaded, image_id)

    view = st.segmented_control(tr("feature_maps.view"), VIEWS, key="feature_maps_view", default="layers",
                                format_func={v: tr(f"feature_maps.view_{v}") for v in VIEWS}.__getitem__) or "layers"
    if view == "layers":
        layers_view(cap, loaded, pre, mkey, image_id)
    elif view == "anatomy":
        anatomy_view(cap, mkey, image_id)
    elif view == "compare":
        compare_view(image, image_id)
    else:
        show_preprocessing(image, image_id, pre)


main()
