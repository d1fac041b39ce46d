"""Figure 7: the std of every 3x3 conv layer's response, for plain nets and ResNets, on CIFAR-10 test images."""

import time

import streamlit as st

from resnet_viz.checkpoints.find import folders_fingerprint, user_checkpoint_dir
from resnet_viz.errors import VizError
from resnet_viz.images import preprocess
from resnet_viz.models.registry import display_name
from resnet_viz.paper.figure7 import (
    LEVEL,
    REFERENCE_IMAGES,
    REFERENCE_SECONDS,
    RESAMPLES,
    CostMeter,
    bootstrap_interval,
    concentration,
    default_selection,
    figure7_sources,
    image_to_uint8,
    load_npz,
    median_image_interval,
    median_image_std,
    response_claims,
    responses_of,
    wide_range,
)
from resnet_viz.render.colour import display_scale, png_bytes, zoom
from resnet_viz.render.plots.paper import figure7
from resnet_viz.work import ByteBudgetCache
from ui.common import class_name, current_language, keep_valid, picture, show_error, tr
from ui.images import image_input
from ui.models import load_cached
from ui.work import heavy

SAMPLE_SIZES = [100, 200, 500, 1000]
TOP_IMAGES = 3
THUMB_SIDE = 96
BATCH = 50  # images per forward pass: the progress bar's step, and how soon "Stop" takes effect
LIVE_CACHE_BYTES = 64 * 1024 * 1024  # 1000 images: under 1 MB per network


@st.cache_data(max_entries=8, show_spinner=False)
def _sources(fingerprint_key: tuple, user_dir: str):
    return figure7_sources()


@st.cache_data(max_entries=4, show_spinner=False)
def _sample(limit: int):
    return load_npz(limit=limit)


def _result_bytes(result) -> int:
    moments = result.per_image
    return 0 if moments is None else moments.sums.nbytes + moments.sumsq.nbytes


@st.cache_resource(show_spinner=False)
def _live_cache() -> ByteBudgetCache:
    """Values computed live, shared by every session of the server, bounded by their per-image data's bytes.
    Unlike st.cache_data it tells whether a value is there, so the page knows before computing anything."""
    return ByteBudgetCache(LIVE_CACHE_BYTES, _result_bytes)


@st.cache_resource(show_spinner=False)
def _meter() -> CostMeter:
    """Each network's seconds per image, measured on this server: the estimate next to the button."""
    return CostMeter()


def _model_of(path: str, by_path: dict) -> str:
    src = by_path.get(path)
    return src.model if src else path.rpartition(":")[2]


def _measure(path: str, model: str, size: int, on_batch):
    images, _, _ = _sample(size)
    loaded = load_cached(path)
    start = time.perf_counter()
    result = responses_of(loaded, images, batch_size=BATCH, per_image=True, on_batch=on_batch)
    _meter().record(model, len(images), time.perf_counter() - start)
    return result


@st.cache_data(max_entries=64, show_spinner=False)
def _thumbnail(limit: int, index: int) -> bytes:
    images, _, _ = _sample(limit)
    picture_hwc = images[index].permute(1, 2, 0).numpy()
    return png_bytes(zoom(picture_hwc, display_scale(picture_hwc.shape[0], picture_hwc.shape[1], target=THUMB_SIDE)))


def _level() -> str:
    return f"{100 * LEVEL:.0f} %"


def _interval_text(interval, value: str) -> str:
    return f"{interval[0]:{value}}–{interval[1]:{value}}"


def _one_claim(key: str, holds: bool | None, too_close: bool | None, sides: dict, value: str, images: int,
               intervals: dict) -> None:
    """One claim's sentence, ``{key}_yes`` / ``_no`` / ``_close``; ``sides``: role -> (label, number) as the
    sentence names them ("resnet", "plain" or "deep", "shallow")."""
    if holds is None:
        return

    def ci(label: str) -> str:
        return "" if label not in intervals else _interval_text(intervals[label], value)

    params: dict = {"level": _level(), "images": images}
    for role, (label, number) in sides.items():
        params.update({role: label, f"{role}_mean": f"{number:{value}}", f"{role}_ci": ci(label)})
    st.markdown(tr(f"{key}_{'close' if too_close else 'yes' if holds else 'no'}", **params))
    if too_close is False:
        (a, _), (b, _) = sides.values()
        st.caption(tr("figure7.intervals_apart", level=_level(), a=a, a_ci=ci(a), b=b, b_ci=ci(b)))


def _claim_sentences(claims, prefix: str, value: str, images: int) -> None:
    """The two Figure 7 claims as sentences ("too close to call" where the compared networks' intervals
    overlap), and a note where values without per-image data leave a verdict without an interval."""
    _one_claim(f"{prefix}_smaller", claims.resnets_smaller, claims.smaller_too_close,
               {"resnet": claims.largest_resnet, "plain": claims.smallest_plain}, value, images, claims.intervals)
    _one_claim(f"{prefix}_deeper", claims.deeper_smaller, claims.deeper_too_close,
               {"deep": claims.deep_resnet, "shallow": claims.shallow_resnet}, value, images, claims.intervals)
    if ((claims.resnets_smaller is not None and claims.smaller_too_close is None)
            or (claims.deeper_smaller is not None and claims.deeper_too_close is None)):
        st.caption(tr("figure7.claim_no_interval"))


def _spread(results, size: int) -> None:
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
        _, labels, classes = _sample(size)
        for col, k in zip(st.columns(len(worst.top) + 2), worst.outliers):
            index = worst.top[k]
            cls = class_name(classes[int(labels[index])]) if classes else str(int(labels[index]))
            picture(_thumbnail(size, index), where=col, caption=tr(
                "figure7.thumb_caption", cls=cls, std=f"{worst.top_std[k]:.2f}",
                share=f"{100 * worst.top_shares[k]:.0f} %"))
    intervals = {label: median_image_interval(r) for label, _, r in results}
    _claim_sentences(response_claims(results, median_image_std, intervals), "figure7.typical", ".3f", size)


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


def _request() -> None:
    """"Recompute live" (a callback, run before the rerun): compute on the size the slider shows now."""
    state = st.session_state
    state["figure7_prev"] = (state.get("figure7_size"), state.get("figure7_live", False))
    state["figure7_size"], state["figure7_live"] = state["figure7_images"], True
    state.pop("figure7_stopped", None)


def _stop() -> None:
    """"Stop": the click interrupts the running script at its next progress update (Streamlit stops a run
    when a widget changes); this callback then restores what was shown before and keeps the stopped size
    from starting again until "Recompute live" is pressed."""
    state = st.session_state
    state["figure7_stopped"] = state.get("figure7_size")
    previous, was_live = state.pop("figure7_prev", (None, False))
    if previous is not None:
        state["figure7_size"], state["figure7_live"] = previous, was_live


def _live_paths(chosen: list[str], by_path: dict, live: bool) -> list[str]:
    """The chosen nets computed here: all after "Recompute live", else those without stored values."""
    return [p for p in chosen if live or by_path.get(p) is None or by_path[p].stored is None]


def _compute_live(paths: list[str], by_path: dict, labels: dict[str, str], fp: tuple, size: int) -> dict:
    """Each net's live values at ``size``: from the server's cache, else computed in the queue with a progress
    bar and a Stop button. A stopped size is not started again; its nets are missing from the result."""
    cache = _live_cache()
    pending = [p for p in paths if (p, fp, size) not in cache]
    if pending and st.session_state.get("figure7_stopped") == size:
        st.info(tr("figure7.stopped"))
        paths = [p for p in paths if p not in pending]
        pending = []
    stop_slot, bar = st.empty(), st.empty()
    if pending:
        stop_slot.button(tr("figure7.stop"), key="figure7_stop", on_click=_stop, help=tr("figure7.stop_help"))
    out = {}
    for path in paths:
        k = pending.index(path) if path in pending else 0

        def progress(done: int, k: int = k, net: str = labels.get(path, path)) -> None:
            bar.progress((k + done / size) / len(pending), text=tr("figure7.progress", net=net, images=size,
                                                                   k=k + 1, total=len(pending)))

        def make(path: str = path, on_batch=progress):
            model = _model_of(path, by_path)
            return heavy(("figure7", path, fp, size), lambda: _measure(path, model, size, on_batch))
        try:
            out[path] = cache.get_or_create((path, fp, size), make)
        except VizError as exc:
            show_error(exc)
            st.caption(tr("figure7.load_failed", net=labels.get(path, path)))
    stop_slot.empty()
    bar.empty()
    return out


def _responses(chosen: list[str], by_path: dict, labels: dict[str, str], fp: tuple, size: int,
               live: bool) -> tuple[list, list[dict]]:
    """Each chosen net's responses (stored with its checkpoint unless computed live) and its row of the table."""
    live_paths = _live_paths(chosen, by_path, live)
    computed = _compute_live(live_paths, by_path, labels, fp, size)
    results, rows = [], []
    for path in chosen:
        if path in live_paths and path not in computed:
            st.caption(tr("figure7.not_computed", net=labels.get(path, path), images=size))
            continue
        if path in computed:
            res, source_text = computed[path], tr("figure7.source_live", images=size)
        else:
            res = by_path[path].stored
            source_text = tr("figure7.source_stored", images=res.images)
        interval = bootstrap_interval(res)
        results.append((labels.get(path, path), _family(path, by_path), res))
        rows.append({tr("figure7.col_net"): labels.get(path, path), tr("figure7.col_layers"): len(res.std),
                     tr("figure7.col_mean"): f"{res.mean:.4g}",
                     tr("figure7.col_interval", level=_level()): tr("figure7.interval_needs_live")
                     if interval is None else _interval_text(interval, ".4g"),
                     tr("figure7.col_median"): f"{res.median:.4g}", tr("figure7.col_max"): f"{res.max:.4g}",
                     tr("figure7.col_source"): source_text})
    return results, rows


def _estimate(chosen: list[str], by_path: dict, limit: int) -> None:
    """How long "Recompute live" would take on ``limit`` images, and on what the estimate rests."""
    seconds, basis = _meter().estimate([_model_of(p, by_path) for p in chosen], limit)
    st.caption(tr("figure7.estimate", images=limit, seconds=f"{max(seconds, 1):.0f}", nets=len(chosen),
                  basis=tr(f"figure7.basis_{basis}", ref_seconds=f"{REFERENCE_SECONDS:.0f}",
                           ref_images=REFERENCE_IMAGES)))


def _sample_section(sources: list, chosen: list[str], labels: dict[str, str], fp: tuple, lang: str) -> None:
    """Figure 7 on the CIFAR-10 test sample: the chart, the table, the paper's claims and which images drive them.
    The slider only chooses a size; values are computed on it when "Recompute live" is pressed."""
    col_n, col_button = st.columns([3, 1], vertical_alignment="bottom")
    limit = col_n.select_slider(tr("figure7.images"), SAMPLE_SIZES, key="figure7_images",
                                help=tr("figure7.images_help"))
    col_button.button(tr("figure7.recompute"), help=tr("figure7.recompute_help"), key="figure7_recompute",
                      on_click=_request)
    keep_valid("figure7_size", SAMPLE_SIZES, limit)
    size, live = st.session_state["figure7_size"], bool(st.session_state.get("figure7_live", False))
    by_path = {s.path: s for s in sources}
    if chosen:
        _estimate(chosen, by_path, limit)
    results, rows = _responses(chosen, by_path, labels, fp, size, live)
    if not results:
        return
    if size != limit and any(r.per_image is not None for _, _, r in results):
        st.caption(tr("figure7.shown_size", shown=size, images=limit))
    log_y = st.toggle(tr("figure7.log_axis"), value=wide_range([r for _, _, r in results]), key="figure7_log",
                      help=tr("figure7.log_axis_help"))
    st.plotly_chart(figure7(results, lang, log_y=log_y), width="stretch")
    st.dataframe(rows, hide_index=True, width="stretch")
    if any(r.per_image is not None for _, _, r in results):
        st.caption(tr("figure7.interval_note", resamples=RESAMPLES, images=size, level=_level()))
    if sources:  # untrained demo nets support no claim
        intervals = {label: bootstrap_interval(r) for label, _, r in results}
        _claim_sentences(response_claims(results, intervals=intervals), "figure7.claim", ".3f", size)
        st.subheader(tr("figure7.spread_header"))
        _spread(results, size)


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
