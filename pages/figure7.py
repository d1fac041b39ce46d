"""Figure 7: the std of every 3x3 conv layer's response, for plain nets and ResNets, on CIFAR-10 test images."""

import streamlit as st

from resnet_viz.checkpoints.find import user_checkpoint_dir
from resnet_viz.errors import VizError
from resnet_viz.images import display_scale, png_bytes, preprocess, zoom
from resnet_viz.models.registry import get_spec
from resnet_viz.paper.figure6 import fingerprint
from resnet_viz.paper.figure7 import (
    concentration,
    default_selection,
    figure7_sources,
    image_to_uint8,
    load_npz,
    median_image_std,
    response_claims,
    responses_of,
    wide_range,
)
from resnet_viz.render.plots.paper import figure7
from ui.common import current_language, picture, show_error, tr
from ui.images import image_input
from ui.models import load_cached

SAMPLE_SIZES = [100, 200, 500, 1000]
TOP_IMAGES = 3
THUMB_SIDE = 96
THREADS = 1  # small CIFAR convs: one thread is much faster on a busy CPU (benchmarks/paper_pages.py)


@st.cache_data(max_entries=8, show_spinner=False)
def _sources(fingerprint_key: tuple, user_dir: str):
    return figure7_sources()


@st.cache_data(max_entries=4, show_spinner=False)
def _sample(limit: int):
    return load_npz(limit=limit)


@st.cache_data(max_entries=32, show_spinner=False)
def _on_sample(source: str, fingerprint_key: tuple, limit: int):
    images, _, _ = _sample(limit)
    return responses_of(load_cached(source), images, threads=THREADS, per_image=True)


@st.cache_data(max_entries=64, show_spinner=False)
def _thumbnail(limit: int, index: int) -> bytes:
    images, _, _ = _sample(limit)
    picture_hwc = images[index].permute(1, 2, 0).numpy()
    return png_bytes(zoom(picture_hwc, display_scale(*picture_hwc.shape[:2], target=THUMB_SIDE)))


def _claim_sentences(claims, prefix: str, value: str) -> None:
    """The two Figure 7 claims as sentences, keys ``{prefix}_smaller_yes`` ... ``{prefix}_deeper_no``."""
    if claims.resnets_smaller is not None:
        (resnet, resnet_value), (plain, plain_value) = claims.largest_resnet, claims.smallest_plain
        st.markdown(tr(f"{prefix}_smaller_{'yes' if claims.resnets_smaller else 'no'}", resnet=resnet,
                       resnet_mean=f"{resnet_value:{value}}", plain=plain, plain_mean=f"{plain_value:{value}}"))
    if claims.deeper_smaller is not None:
        (deep, deep_value), (shallow, shallow_value) = claims.deep_resnet, claims.shallow_resnet
        st.markdown(tr(f"{prefix}_deeper_{'yes' if claims.deeper_smaller else 'no'}", deep=deep,
                       deep_mean=f"{deep_value:{value}}", shallow=shallow, shallow_mean=f"{shallow_value:{value}}"))


def _spread(results, limit: int) -> None:
    """Which images drive the pooled std (only for values computed live, which keep per-image moments)."""
    spread = concentration(results, top=TOP_IMAGES)
    if not spread:
        st.caption(tr("figure7.spread_needs_live"))
        return
    st.caption(tr("figure7.spread_intro"))  # it speaks of the values computed live, in the same pass
    means = {label: r.mean for label, _, r in results}
    st.dataframe([{tr("figure7.col_net"): c.label, tr("figure7.col_mean"): f"{means[c.label]:.4g}",
                   tr("figure7.col_median_image"): f"{c.median_image_std:.4g}",
                   tr("figure7.col_top_share", k=len(c.top)): f"{100 * c.top_share:.1f} %"} for c in spread],
                 hide_index=True, width="stretch")
    worst = spread[0]
    if not worst.dominated:
        st.markdown(tr("figure7.spread_even", k=len(worst.top), n=worst.images, share=f"{100 * worst.top_share:.1f} %"))
    else:
        st.markdown(tr("figure7.spread_sentence", net=worst.label, k=len(worst.top), n=worst.images,
                       share=f"{100 * worst.top_share:.0f} %", even=f"{100 * worst.even_share:.1f} %"))
        _, labels, classes = _sample(limit)
        for col, k in zip(st.columns(len(worst.top) + 2), worst.outliers):
            index = worst.top[k]
            cls = classes[int(labels[index])] if classes else str(int(labels[index]))
            picture(_thumbnail(limit, index), where=col, caption=tr(
                "figure7.thumb_caption", cls=cls, std=f"{worst.top_std[k]:.2f}", share=f"{100 * worst.top_shares[k]:.0f} %"))
    _claim_sentences(response_claims(results, median_image_std), "figure7.typical", ".3f")


@st.cache_data(max_entries=32, show_spinner=False)
def _on_image(source: str, fingerprint_key: tuple, image_id: str, _image):
    loaded = load_cached(source)
    return responses_of(loaded, image_to_uint8(preprocess(_image, loaded).cropped), threads=THREADS)


def _label(src, names_count):
    base = f"{'ResNet' if src.family == 'resnet' else 'plain'}-{get_spec(src.model).depth}"
    return base if names_count[src.model] == 1 else f"{base} ({src.stem})"


lang = current_language()
if st.session_state.get("figure7_images") not in SAMPLE_SIZES:  # first visit, or a value from elsewhere
    st.session_state["figure7_images"] = 100
st.title(tr("figure7.page_title"))
st.markdown(tr("figure7.intro"))

fp = fingerprint()
sources = _sources(fp, str(user_checkpoint_dir()))
counts = {}
for s in sources:
    counts[s.model] = counts.get(s.model, 0) + 1
by_path = {s.path: s for s in sources}
labels = {s.path: _label(s, counts) for s in sources}

if sources:
    if "figure7_nets" in st.session_state:  # keep only choices that still exist
        st.session_state["figure7_nets"] = [k for k in st.session_state["figure7_nets"] if k in by_path]
    default = None if "figure7_nets" in st.session_state else default_selection(sources)
    chosen = st.multiselect(tr("figure7.choose"), list(by_path), default=default,
                            format_func=labels.get, key="figure7_nets", help=tr("figure7.choose_help"))
else:
    st.info(tr("paper.no_checkpoints", user_dir=str(user_checkpoint_dir())))
    st.caption(tr("figure7.untrained"))
    chosen = ["random:plain20", "random:resnet20"]
    labels = {"random:plain20": tr("figure7.untrained_label", net="plain-20"),
              "random:resnet20": tr("figure7.untrained_label", net="ResNet-20")}

col_n, col_button = st.columns([3, 1], vertical_alignment="bottom")
limit = col_n.select_slider(tr("figure7.images"), SAMPLE_SIZES, key="figure7_images",
                            help=tr("figure7.images_help"))
if col_button.button(tr("figure7.recompute"), help=tr("figure7.recompute_help"), key="figure7_recompute"):
    st.session_state["figure7_live"] = True
live = st.session_state.get("figure7_live", False)

results, rows = [], []
with st.spinner(tr("paper.computing")):
    for path in chosen:
        src = by_path.get(path)
        family = src.family if src else ("resnet" if "resnet" in path else "plain")
        try:
            if src is not None and src.stored is not None and not live:
                res, source_text = src.stored, tr("figure7.source_stored", images=src.stored.images)
            else:
                res = _on_sample(path, fp, limit)
                source_text = tr("figure7.source_live", images=res.images)
        except VizError as exc:
            show_error(exc)
            st.caption(tr("figure7.load_failed", net=labels.get(path, path)))
            continue
        results.append((labels.get(path, path), family, res))
        rows.append({tr("figure7.col_net"): labels.get(path, path), tr("figure7.col_layers"): len(res.std),
                     tr("figure7.col_mean"): f"{res.mean:.4g}", tr("figure7.col_median"): f"{res.median:.4g}",
                     tr("figure7.col_max"): f"{res.max:.4g}", tr("figure7.col_source"): source_text})

if results:
    log_y = st.toggle(tr("figure7.log_axis"), value=wide_range([r for _, _, r in results]), key="figure7_log",
                      help=tr("figure7.log_axis_help"))
    st.plotly_chart(figure7(results, lang, log_y=log_y), width="stretch")
    st.dataframe(rows, hide_index=True, width="stretch")
    if sources:  # untrained demo nets support no claim
        _claim_sentences(response_claims(results), "figure7.claim", ".3f")
        st.subheader(tr("figure7.spread_header"))
        _spread(results, limit)

with st.expander(tr("paper.what_to_notice"), expanded=True):
    st.markdown(tr("figure7.notice"))

st.subheader(tr("figure7.upload_header"))
st.caption(tr("figure7.upload_intro"))
picked = image_input("figure7_image", "cifar10")
if picked is not None and chosen:
    image, image_id = picked
    one = []
    for path in chosen:
        try:
            res = _on_image(path, fp, image_id, image)
        except VizError as exc:
            show_error(exc)
            continue
        src = by_path.get(path)
        one.append((labels.get(path, path), src.family if src else ("resnet" if "resnet" in path else "plain"), res))
    if one:
        st.plotly_chart(figure7(one, lang, title_key="figure7.upload_title", log_y=wide_range([r for _, _, r in one])),
                        width="stretch")
