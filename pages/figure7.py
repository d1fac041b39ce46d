"""Figure 7: the std of every 3x3 conv layer's response, for plain nets and ResNets, on CIFAR-10 test images."""

import streamlit as st

from resnet_viz.checkpoints.find import folders_fingerprint, user_checkpoint_dir
from resnet_viz.errors import VizError
from resnet_viz.images import preprocess
from resnet_viz.models.registry import display_name
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
from resnet_viz.render.colour import display_scale, png_bytes, zoom
from resnet_viz.render.plots.paper import figure7
from ui.common import current_language, keep_valid, picture, show_error, tr
from ui.images import image_input
from ui.models import load_cached
from ui.work import heavy

SAMPLE_SIZES = [100, 200, 500, 1000]
TOP_IMAGES = 3
THUMB_SIDE = 96


@st.cache_data(max_entries=8, show_spinner=False)
def _sources(fingerprint_key: tuple, user_dir: str):
    return figure7_sources()


@st.cache_data(max_entries=4, show_spinner=False)
def _sample(limit: int):
    return load_npz(limit=limit)


@st.cache_data(max_entries=32, show_spinner=False)
def _on_sample(source: str, fingerprint_key: tuple, limit: int):
    images, _, _ = _sample(limit)
    return responses_of(load_cached(source), images, per_image=True)


@st.cache_data(max_entries=64, show_spinner=False)
def _thumbnail(limit: int, index: int) -> bytes:
    images, _, _ = _sample(limit)
    picture_hwc = images[index].permute(1, 2, 0).numpy()
    return png_bytes(zoom(picture_hwc, display_scale(picture_hwc.shape[0], picture_hwc.shape[1], target=THUMB_SIDE)))


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
                "figure7.thumb_caption", cls=cls, std=f"{worst.top_std[k]:.2f}",
                share=f"{100 * worst.top_shares[k]:.0f} %"))
    _claim_sentences(response_claims(results, median_image_std), "figure7.typical", ".3f")


@st.cache_data(max_entries=32, show_spinner=False)
def _on_image(source: str, fingerprint_key: tuple, image_id: str, _image):
    loaded = load_cached(source)
    return responses_of(loaded, image_to_uint8(preprocess(_image, loaded).cropped))


def _label(src, names_count):
    base = display_name(src.model)
    return base if names_count[src.model] == 1 else f"{base} ({src.stem})"


def _family(path: str, by_path: dict) -> str:
    src = by_path.get(path)
    return src.family if src else ("resnet" if "resnet" in path else "plain")


def _chosen_nets(sources: list) -> tuple[list[str], dict[str, str]]:
    """The nets picked (their sources) and every label; two untrained nets when there are no checkpoints."""
    if not sources:
        st.info(tr("paper.no_checkpoints", user_dir=str(user_checkpoint_dir())))
        st.caption(tr("figure7.untrained"))
        return ["random:plain20", "random:resnet20"], {
            "random:plain20": tr("figure7.untrained_label", net=display_name("plain20")),
            "random:resnet20": tr("figure7.untrained_label", net=display_name("resnet20"))}
    counts: dict[str, int] = {}
    for s in sources:
        counts[s.model] = counts.get(s.model, 0) + 1
    labels = {s.path: _label(s, counts) for s in sources}
    if "figure7_nets" in st.session_state:  # keep only choices that still exist
        st.session_state["figure7_nets"] = [k for k in st.session_state["figure7_nets"] if k in labels]
    default = None if "figure7_nets" in st.session_state else default_selection(sources)
    chosen = st.multiselect(tr("figure7.choose"), list(labels), default=default, format_func=labels.__getitem__,
                            key="figure7_nets", help=tr("figure7.choose_help"))
    return chosen, labels


def _responses(chosen: list[str], by_path: dict, labels: dict[str, str], fp: tuple, limit: int,
               live: bool) -> tuple[list, list[dict]]:
    """Each chosen net's responses (stored with its checkpoint unless ``live``) and its row of the table."""
    results, rows = [], []
    with st.spinner(tr("paper.computing")):
        for path in chosen:
            src = by_path.get(path)
            try:
                if src is not None and src.stored is not None and not live:
                    res, source_text = src.stored, tr("figure7.source_stored", images=src.stored.images)
                else:
                    res = heavy(("figure7", path, fp, limit), lambda p=path: _on_sample(p, fp, limit))
                    source_text = tr("figure7.source_live", images=res.images)
            except VizError as exc:
                show_error(exc)
                st.caption(tr("figure7.load_failed", net=labels.get(path, path)))
                continue
            results.append((labels.get(path, path), _family(path, by_path), res))
            rows.append({tr("figure7.col_net"): labels.get(path, path), tr("figure7.col_layers"): len(res.std),
                         tr("figure7.col_mean"): f"{res.mean:.4g}", tr("figure7.col_median"): f"{res.median:.4g}",
                         tr("figure7.col_max"): f"{res.max:.4g}", tr("figure7.col_source"): source_text})
    return results, rows


def _sample_section(sources: list, chosen: list[str], labels: dict[str, str], fp: tuple, lang: str) -> None:
    """Figure 7 on the CIFAR-10 test sample: the chart, the table, the paper's claims and which images drive them."""
    col_n, col_button = st.columns([3, 1], vertical_alignment="bottom")
    limit = col_n.select_slider(tr("figure7.images"), SAMPLE_SIZES, key="figure7_images",
                                help=tr("figure7.images_help"))
    if col_button.button(tr("figure7.recompute"), help=tr("figure7.recompute_help"), key="figure7_recompute"):
        st.session_state["figure7_live"] = True
    live = st.session_state.get("figure7_live", False)
    results, rows = _responses(chosen, {s.path: s for s in sources}, labels, fp, limit, live)
    if not results:
        return
    log_y = st.toggle(tr("figure7.log_axis"), value=wide_range([r for _, _, r in results]), key="figure7_log",
                      help=tr("figure7.log_axis_help"))
    st.plotly_chart(figure7(results, lang, log_y=log_y), width="stretch")
    st.dataframe(rows, hide_index=True, width="stretch")
    if sources:  # untrained demo nets support no claim
        _claim_sentences(response_claims(results), "figure7.claim", ".3f")
        st.subheader(tr("figure7.spread_header"))
        _spread(results, limit)


def _upload_section(sources: list, chosen: list[str], labels: dict[str, str], fp: tuple, lang: str) -> None:
    """The same curves for one picture of the user's."""
    st.subheader(tr("figure7.upload_header"))
    st.caption(tr("figure7.upload_intro"))
    picked = image_input("figure7_image", "cifar10")
    if picked is None or not chosen:
        return
    image, image_id = picked
    by_path = {s.path: s for s in sources}
    one = []
    for path in chosen:
        try:
            res = _on_image(path, fp, image_id, image)
        except VizError as exc:
            show_error(exc)
            continue
        one.append((labels.get(path, path), _family(path, by_path), res))
    if one:
        st.plotly_chart(figure7(one, lang, title_key="figure7.upload_title", log_y=wide_range([r for _, _, r in one])),
                        width="stretch")


def main() -> None:
    lang = current_language()
    keep_valid("figure7_images", SAMPLE_SIZES, 100)  # first visit, or a value from elsewhere
    st.title(tr("figure7.page_title"))
    st.markdown(tr("figure7.intro"))
    fp = folders_fingerprint()
    sources = _sources(fp, str(user_checkpoint_dir()))
    chosen, labels = _chosen_nets(sources)
    _sample_section(sources, chosen, labels, fp, lang)
    with st.expander(tr("paper.what_to_notice"), expanded=True):
        st.markdown(tr("figure7.notice"))
    _upload_section(sources, chosen, labels, fp, lang)


main()
