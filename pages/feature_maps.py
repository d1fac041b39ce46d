"""Feature maps: what each layer sees in one image, a residual block taken apart, plain vs residual."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from resnet_viz.checkpoints.find import find_checkpoints
from resnet_viz.checkpoints.read import LoadedModel
from resnet_viz.errors import VizError
from resnet_viz.images import display_scale, png_bytes
from resnet_viz.inspect.feature_maps import (
    Capture,
    anatomy,
    capture,
    channel_mosaic,
    channel_order,
    channel_ratio,
    colorize,
    effective_receptive_field,
    mark_unit,
    mass_extent,
    model_fingerprint,
    page_of,
    ratios,
    value_range,
)
from ui.common import picture, show_error, tr
from ui.images import image_input, preprocessed, show_preprocessing
from ui.models import current_model, load_cached

PER_PAGE = 64
GRID_COLS = 8
STRIP_CHANNELS = 16
VIEWS = ("layers", "anatomy", "compare", "input")


# ---------------------------------------------------------------- caches (arrays only, bounded)

def model_key(loaded: LoadedModel) -> str:
    """Weights and preprocessing: two checkpoints differing in either never share a capture."""
    return (f"{loaded.spec.name}:{model_fingerprint(loaded.model)}:{loaded.mean}:{loaded.std}:"
            f"{loaded.resize_size}:{len(loaded.classes)}")


@st.cache_resource(max_entries=4, show_spinner=False)
def cached_capture(model: str, image_id: str, _loaded: LoadedModel, _tensor) -> Capture:
    """The one forward pass per (model, image); every view below reads from it.

    A resource, not st.cache_data: cache_data would unpickle a fresh copy of every activation on each rerun
    (about 40 % of a layer change on ResNet-50). The capture is frozen (read-only arrays), so sharing it is safe.
    """
    return capture(_loaded.model, _tensor, _loaded.spec, classes=_loaded.classes)


@st.cache_data(max_entries=16, show_spinner=False)
def cached_erf(model: str, image_id: str, path: str, row: int, col: int, channel: int | None,
               _loaded: LoadedModel, _tensor) -> np.ndarray:
    return effective_receptive_field(_loaded.model, _tensor, path, row=row, col=col, channel=channel)


@st.cache_data(max_entries=96, show_spinner=False)
def png(key: tuple, _make: Callable[[], np.ndarray]) -> bytes:
    """A picture coloured and encoded once per ``key``: a rerun for another widget does neither again."""
    return png_bytes(_make())


def grid_png(cap: Capture, mkey: str, image_id: str, layer: str, channels, cols: int, target: int,
             lo: float, hi: float) -> bytes:
    chans = tuple(int(i) for i in channels)

    def make() -> np.ndarray:
        mosaic = channel_mosaic(cap.layers[layer].array, np.array(chans, dtype=np.int64), cols=cols)
        return colorize(mosaic, lo, hi, scale=display_scale(*mosaic.shape, target=target))

    return png(("grid", mkey, image_id, layer, chans, cols, target, float(lo), float(hi)), make)


@st.cache_data(ttl=60, show_spinner=False)
def comparison_pairs() -> list[tuple[str, str, str, str]]:
    """(plain name, plain path, resnet name, resnet path) for every depth with both checkpoints."""
    found: dict[str, str] = {}
    for info in find_checkpoints():
        found.setdefault(info.model, str(info.path))  # shipped ones come first
    pairs = []
    for name, path in found.items():
        if name.startswith("plain"):
            twin = "resnet" + name[len("plain"):]
            if twin in found:
                pairs.append((name, path, twin, found[twin]))
    return sorted(pairs, key=lambda p: int(p[0][len("plain"):]))


# ---------------------------------------------------------------- small renderers

def layer_label(cap: Capture, key: str) -> str:
    rec = cap.layers[key]
    name = tr("feature_maps.maxpool_name") if key == "maxpool" else key
    c, h, w = rec.shape
    return tr("feature_maps.layer_option", name=name, stage=rec.stage, channels=c, height=h, width=w)


def colour_bar(lo: float, hi: float, cmap: str = "Viridis") -> None:
    bar = colorize(np.linspace(lo, hi, 256)[None, :].repeat(12, axis=0), lo, hi, cmap=cmap)
    picture(png(("bar", float(lo), float(hi), cmap), lambda: bar),
            caption=tr("feature_maps.colour_scale", low=f"{lo:.3g}", high=f"{hi:.3g}"))


def input_picture(pre) -> np.ndarray:
    """The model's input as a picture: the cropped image, which the normalised tensor encodes exactly."""
    return np.asarray(pre.cropped)


def predictions(cap: Capture, loaded: LoadedModel) -> None:
    st.markdown(f"**{tr('feature_maps.top_predictions')}**")
    for name, p in cap.top(5):
        st.progress(min(1.0, max(0.0, p)), text=tr("feature_maps.prediction", label=name, prob=f"{100 * p:.1f}"))
    if loaded.source == "random":
        st.warning(tr("feature_maps.random_weights"))


def depth_strip(cap: Capture, mkey: str, image_id: str, scales: dict[str, tuple[float, float]] | None = None,
                n: int = STRIP_CHANNELS) -> None:
    stages = [(s, k) for s, k in cap.stages.items() if not s.startswith("pool") and s != "fc"]
    cols = st.columns(len(stages))
    for col, (stage, key) in zip(cols, stages):
        rec = cap.layers[key]
        chans = channel_order(rec, "mean")[:n]
        lo, hi = scales[stage] if scales and stage in scales else (rec.vmin, rec.vmax)
        c, h, w = rec.shape
        picture(grid_png(cap, mkey, image_id, key, chans, int(np.ceil(np.sqrt(len(chans)))), 240, lo, hi), where=col)
        col.caption(tr("feature_maps.strip_caption", stage=stage, channels=c, height=h, width=w, rf=rec.rf.size,
                       jump=rec.rf.jump))


# ---------------------------------------------------------------- views

def layers_view(cap: Capture, loaded: LoadedModel, pre, mkey: str, image_id: str) -> None:
    st.subheader(tr("feature_maps.strip_title"))
    st.caption(tr("feature_maps.strip_help"))
    depth_strip(cap, mkey, image_id)

    st.subheader(tr("feature_maps.grid_title"))
    keys = list(cap.layers)
    if st.session_state.get("feature_maps_layer") not in keys:
        st.session_state["feature_maps_layer"] = keys[0]
    c1, c2, c3 = st.columns([3, 2, 2])
    labels = {k: layer_label(cap, k) for k in keys}
    key = c1.selectbox(tr("feature_maps.layer"), keys, format_func=labels.get, key="feature_maps_layer",
                       help=tr("feature_maps.layer_help"))
    rec = cap.layers[key]
    order_by = c2.radio(tr("feature_maps.order"), ("mean", "index"), key="feature_maps_order", horizontal=True,
                        format_func={o: tr(f"feature_maps.order_{o}") for o in ("mean", "index")}.get)
    order = channel_order(rec, order_by)
    pages = max(1, -(-len(order) // PER_PAGE))
    page = c3.number_input(tr("feature_maps.page", pages=pages), min_value=1, max_value=pages, value=1, step=1,
                           key=f"feature_maps_page_{key}") if pages > 1 else 1
    shown = page_of(order, int(page) - 1, PER_PAGE)
    lo, hi = rec.vmin, rec.vmax
    g1, g2 = st.columns([3, 2])
    with g1:
        picture(grid_png(cap, mkey, image_id, key, shown, GRID_COLS, 640, lo, hi))
        colour_bar(lo, hi)
        st.caption(tr("feature_maps.grid_caption", channels=", ".join(str(int(c)) for c in shown),
                      first=int(shown[0]) if len(shown) else 0))
        if rec.factor > 1:
            st.caption(tr("feature_maps.pooled", factor=rec.factor))
    with g2:
        m1, m2, m3 = st.columns(3)
        m1.metric(tr("feature_maps.stat_mean"), f"{rec.mean:.3f}")
        m2.metric(tr("feature_maps.stat_std"), f"{rec.std:.3f}")
        m3.metric(tr("feature_maps.stat_zeros"), f"{100 * rec.zero_fraction:.1f}%", help=tr("feature_maps.stat_zeros_help"))
        c, h, w = rec.shape
        st.caption(tr("feature_maps.layer_facts", channels=c, height=h, width=w, rf=rec.rf.size, jump=rec.rf.jump))
        channels = [int(c) for c in order]
        if st.session_state.get(f"feature_maps_channel_{key}") not in channels:
            st.session_state[f"feature_maps_channel_{key}"] = channels[0]
        channel = st.selectbox(tr("feature_maps.channel"), channels, key=f"feature_maps_channel_{key}",
                               format_func={c: tr("feature_maps.channel_option", channel=c,
                                                  mean=f"{rec.channel_mean[c]:.3f}",
                                                  max=f"{rec.channel_max[c]:.3f}") for c in channels}.get)
        channel_detail(rec, channel, pre, lo, hi, mkey, image_id)
    receptive_field_view(cap, loaded, rec, channel, pre, mkey, image_id)


def channel_detail(rec, channel: int, pre, lo: float, hi: float, mkey: str, image_id: str) -> None:
    fmap = rec.array[channel].astype(np.float32)
    fig = go.Figure(go.Heatmap(z=fmap, zmin=lo, zmax=hi, colorscale="Viridis",
                               colorbar=dict(title=dict(text=tr("feature_maps.activation")))),
                    layout=dict(title=tr("feature_maps.channel_title", channel=channel, layer=rec.key), height=330,
                                margin=dict(l=0, r=0, t=40, b=0)))
    fig.update_yaxes(autorange="reversed", scaleanchor="x", title=tr("feature_maps.axis_row"))
    fig.update_xaxes(title=tr("feature_maps.axis_col"))
    st.plotly_chart(fig, width="stretch")
    r, c = (int(v) for v in rec.channel_argmax[channel])
    input_pic = input_picture(pre)
    size = input_pic.shape[0]
    box = rec.rf.box(r, c, size, size)
    marked = png(("strongest", mkey, image_id, rec.key, channel),
                 lambda: mark_unit(input_pic, box, (rec.rf.centre(r), rec.rf.centre(c)), heat=fmap, vmin=lo, vmax=hi))
    picture(marked)
    st.caption(tr("feature_maps.strongest", row=r, col=c, value=f"{rec.channel_max[channel]:.3f}", rf=rec.rf.size))


def receptive_field_view(cap: Capture, loaded: LoadedModel, rec, channel: int, pre, mkey: str, image_id: str) -> None:
    st.subheader(tr("feature_maps.rf_title"))
    st.caption(tr("feature_maps.rf_help"))
    _, h, w = rec.shape
    r0, c0 = (int(v) for v in rec.channel_argmax[channel])
    a, b, c = st.columns([1, 1, 2])
    row = int(a.number_input(tr("feature_maps.unit_row", max=h - 1), 0, h - 1, r0, key=f"feature_maps_row_{rec.key}_{channel}"))
    col = int(b.number_input(tr("feature_maps.unit_col", max=w - 1), 0, w - 1, c0, key=f"feature_maps_col_{rec.key}_{channel}"))
    want_erf = c.toggle(tr("feature_maps.erf_toggle"), key="feature_maps_erf", help=tr("feature_maps.erf_help"))
    input_pic = input_picture(pre)
    size = input_pic.shape[0]
    box = rec.rf.box(row, col, size, size)
    centre = (rec.rf.centre(row), rec.rf.centre(col))
    p1, p2 = st.columns(2)
    picture(png(("rf", mkey, image_id, rec.key, row, col), lambda: mark_unit(input_pic, box, centre)), where=p1)
    p1.caption(tr("feature_maps.rf_caption", row=row, col=col, rf=rec.rf.size, top=box[0], left=box[1],
                  bottom=box[2], right=box[3]))
    if not want_erf:
        return
    try:
        grad = cached_erf(mkey, image_id, rec.path, row, col, channel, loaded, pre.tensor)
    except (ValueError, RuntimeError) as exc:
        show_error(exc)
        return
    if not grad.any():
        p2.info(tr("feature_maps.erf_zero"))
        return
    heat = grad / grad.max()
    shown = png(("erf", mkey, image_id, rec.key, row, col, channel),
                lambda: mark_unit(input_pic, box, centre, heat=heat, cmap="Hot"))
    extent = mass_extent(grad, centre)
    picture(shown, where=p2)
    p2.caption(tr("feature_maps.erf_caption", extent=extent, rf=rec.rf.size))


def anatomy_view(cap: Capture) -> None:
    st.subheader(tr("feature_maps.anatomy_title"))
    st.caption(tr("feature_maps.anatomy_help"))
    residual = [k for k, b in cap.blocks.items() if b.residual_array is not None]
    if not cap.blocks:
        st.info(tr("feature_maps.no_blocks"))
        return
    if not residual:
        st.info(tr("feature_maps.plain_no_split"))
        keys = list(cap.blocks)
        key = st.selectbox(tr("feature_maps.block"), keys, key="feature_maps_plain_block")
        rec = cap.layers[key]
        lo, hi = rec.vmin, rec.vmax
        chans = channel_order(rec, "mean")[:PER_PAGE]
        mosaic = channel_mosaic(rec.array, chans, cols=GRID_COLS)
        picture(png_bytes(colorize(mosaic, lo, hi, scale=display_scale(*mosaic.shape, target=640))),
                caption=tr("feature_maps.plain_output", block=key))
        colour_bar(lo, hi)
        return
    if st.session_state.get("feature_maps_block") not in residual:
        st.session_state["feature_maps_block"] = residual[0]
    c1, c2 = st.columns(2)
    block = c1.selectbox(tr("feature_maps.block"), residual, key="feature_maps_block",
                         format_func={k: tr(f"feature_maps.shortcut_{cap.blocks[k].shortcut}", block=k)
                                      for k in residual}.get)
    n_channels = cap.layers[block].shape[0]
    options = [-1] + list(range(n_channels))
    if st.session_state.get("feature_maps_block_channel") not in options:
        st.session_state["feature_maps_block_channel"] = -1
    ch = c2.selectbox(tr("feature_maps.channel"), options, key="feature_maps_block_channel",
                      format_func={c: tr("feature_maps.channel_mean") if c < 0 else str(c) for c in options}.get)
    channel = None if ch < 0 else int(ch)
    panels = anatomy(cap, block, channel)
    lo, hi = value_range(np.stack(list(panels.values())), symmetric=True, q=100)
    names = [tr("feature_maps.panel_x"), tr("feature_maps.panel_f"), tr("feature_maps.panel_sum"), tr("feature_maps.panel_out")]
    fig = make_subplots(rows=1, cols=4, subplot_titles=names, horizontal_spacing=0.02)
    for i, part in enumerate(("x", "f", "sum", "out")):
        fig.add_trace(go.Heatmap(z=panels[part], zmin=lo, zmax=hi, colorscale="RdBu_r", showscale=i == 3,
                                 colorbar=dict(title=dict(text=tr("feature_maps.activation"))),
                                 hovertemplate="%{y}, %{x}: %{z:.3f}<extra></extra>"), row=1, col=i + 1)
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{i + 1 if i else ''}", showticklabels=False,
                         row=1, col=i + 1)
        fig.update_xaxes(showticklabels=False, row=1, col=i + 1)
    fig.update_layout(height=300, margin=dict(l=0, r=0, t=40, b=0))
    st.plotly_chart(fig, width="stretch")
    rec = cap.blocks[block]
    here = rec.ratio if channel is None else channel_ratio(cap, block, channel)
    st.caption(tr("feature_maps.anatomy_caption" if channel is not None else "feature_maps.anatomy_caption_all",
                  block=block, ratio=f"{here:.3f}", shortcut=tr(f"feature_maps.shortcut_kind_{rec.shortcut}")))

    st.subheader(tr("feature_maps.ratio_title"))
    data = ratios(cap)
    fig = go.Figure(go.Bar(x=[k for k, _ in data], y=[v for _, v in data],
                           marker_color=["#d62728" if k == block else "#1f77b4" for k, _ in data],
                           hovertemplate="%{x}: %{y:.3f}<extra></extra>"))
    fig.add_hline(y=1.0, line_dash="dot", annotation_text=tr("feature_maps.ratio_one"), annotation_position="top left")
    fig.update_layout(title=tr("feature_maps.ratio_chart", model=cap.model), height=320,
                      xaxis_title=tr("feature_maps.axis_block"), yaxis_title=tr("feature_maps.axis_ratio"),
                      margin=dict(l=0, r=0, t=40, b=0))
    st.plotly_chart(fig, width="stretch")
    median = float(np.median([v for _, v in data]))
    st.caption(tr("feature_maps.ratio_caption", median=f"{median:.2f}", count=len(data)))


def compare_view(image, image_id: str) -> None:
    st.subheader(tr("feature_maps.compare_title"))
    st.caption(tr("feature_maps.compare_help"))
    pairs = comparison_pairs()
    if not pairs:
        st.info(tr("feature_maps.compare_missing"))
        return
    labels = {f"{p[0]} / {p[2]}": p for p in pairs}
    choice = st.selectbox(tr("feature_maps.compare_pair"), list(labels), key="feature_maps_pair")
    plain_name, plain_path, res_name, res_path = labels[choice]
    caps = {}
    for name, path in ((plain_name, plain_path), (res_name, res_path)):
        try:
            loaded = load_cached(path)
        except VizError as exc:
            show_error(exc)
            return
        pre = preprocessed(image, image_id, loaded)
        caps[name] = (loaded, cached_capture(model_key(loaded), image_id, loaded, pre.tensor))
    stages = [s for s in caps[res_name][1].stages if s != "fc"]
    scales = {}
    for stage in stages:
        arrays = []
        for _, cap in caps.values():
            rec = cap.layers[cap.stages[stage]]
            arrays.append(rec.array[channel_order(rec, "mean")[:STRIP_CHANNELS]])
        scales[stage] = value_range(np.concatenate([a.reshape(-1) for a in arrays]))
    for name, (loaded, cap) in caps.items():
        label, p = cap.top(1)[0]
        acc = loaded.accuracy
        st.markdown(tr("feature_maps.compare_net", model=name, label=label, prob=f"{100 * p:.1f}",
                       acc=f"{acc:.2f}" if acc is not None else "?", dataset=loaded.meta.get("dataset") or "?"))
        depth_strip(cap, model_key(loaded), image_id, scales)
    fig = go.Figure()
    for name, (_, cap) in caps.items():
        blocks = list(cap.blocks)
        fig.add_trace(go.Scatter(x=list(range(1, len(blocks) + 1)), y=[cap.layers[k].std for k in blocks],
                                 mode="lines+markers", name=name, text=blocks,
                                 hovertemplate="%{text}: %{y:.3f}<extra></extra>"))
    fig.update_layout(title=tr("feature_maps.compare_chart"), xaxis_title=tr("feature_maps.axis_block_index"),
                      yaxis_title=tr("feature_maps.axis_std"), height=320, margin=dict(l=0, r=0, t=40, b=0))
    st.plotly_chart(fig, width="stretch")
    st.caption(tr("feature_maps.compare_caption"))


# ---------------------------------------------------------------- the page

st.title(tr("feature_maps.title"))
st.caption(tr("feature_maps.intro"))
loaded = current_model()
left, right = st.columns([2, 3])
with left:
    picked = image_input("feature_maps_image", loaded.spec.dataset)
if picked is None:
    st.stop()
image, image_id = picked
try:
    pre = preprocessed(image, image_id, loaded)
    mkey = model_key(loaded)
    with st.spinner(tr("feature_maps.computing")):
        cap = cached_capture(mkey, image_id, loaded, pre.tensor)
except (VizError, RuntimeError, ValueError) as exc:
    show_error(exc)
    st.stop()
with right:
    a, b = st.columns(2)
    picture(png(("input", mkey, image_id), lambda: input_picture(pre)), where=a,
            caption=tr("feature_maps.model_input", model=loaded.label, size=loaded.input_size))
    with b:
        predictions(cap, loaded)

view = st.segmented_control(tr("feature_maps.view"), VIEWS, key="feature_maps_view", default="layers",
                            format_func={v: tr(f"feature_maps.view_{v}") for v in VIEWS}.get) or "layers"
if view == "layers":
    layers_view(cap, loaded, pre, mkey, image_id)
elif view == "anatomy":
    anatomy_view(cap)
elif view == "compare":
    compare_view(image, image_id)
else:
    show_preprocessing(image, image_id, pre)
