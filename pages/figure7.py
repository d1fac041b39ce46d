"""Figure 7: the std of every 3x3 conv layer's response, for plain nets and ResNets, on CIFAR-10 test images."""

from ui.common import class_name, current_language, keep_valid, picture, show_error, tr
from ui.figure7 import compute_live, image_requested, measured, meter, on_image, request, request_image, shown_size
from ui.images import image_input, test_sample, thumbnail
from ui.models import paper_checkpoints

import streamlit as st

from resnet_viz.checkpoints.find import folders_fingerprint, user_checkpoint_dir
from resnet_viz.errors import VizError
from resnet_viz.paper.figure7 import (
    RESAMPLES,
    bootstrap_interval,
    concentration,
    default_selection,
    live_paths,
    median_image_interval,
    median_image_std,
    response_claims,
    responses_work,
    source_family,
    source_model,
    trained_alike,
    wide_range,
)
from resnet_viz.render import tables
from resnet_viz.render.plots.paper import figure7

SAMPLE_SIZES = [100, 200, 500, 1000]
TOP_IMAGES = 3


def _show(sentences: list[tables.Sentence]) -> None:
    """Verdicts as text, the notes under them as captions."""
    for style, text in sentences:
        (st.markdown if style == "markdown" else st.caption)(text)


def _spread(results, size: int, lang: str) -> None:
    """Which images drive the pooled std (only for values computed live, which keep per-image moments)."""
    spread = concentration(results, top=TOP_IMAGES)
    if not spread:
        st.caption(tr("figure7.spread_needs_live"))
        return
    st.caption(tr("figure7.spread_intro"))  # it speaks of the values computed live, in the same pass
    means = {label: r.mean for label, _, r in results}
    st.dataframe(tables.spread_rows(spread, means, lang), hide_index=True, width="stretch")
    worst = spread[0]
    st.markdown(tables.spread_sentence(worst, lang))
    if worst.dominated:
        _, labels, classes = test_sample(size)
        for col, k in zip(st.columns(len(worst.top) + 2), worst.outliers):
            index = worst.top[k]
            cls = class_name(classes[int(labels[index])]) if classes else str(int(labels[index]))
            picture(thumbnail(size, index), where=col, caption=tables.thumb_caption(worst, k, cls, lang))
    intervals = {label: median_image_interval(r) for label, _, r in results}
    _show(tables.claim_sentences(response_claims(results, median_image_std, intervals), "figure7.typical", size,
                                 lang))


def _chosen_nets(sources: list) -> tuple[list[str], dict[str, str]]:
    """The nets picked (their sources) and every label; two untrained nets when there are no checkpoints."""
    labels = tables.figure7_labels(sources, current_language())
    if not sources:
        st.info(tr("paper.no_checkpoints", user_dir=str(user_checkpoint_dir())))
        st.caption(tr("figure7.untrained"))
        return list(labels), labels
    if "figure7_nets" in st.session_state:  # keep only choices that still exist
        st.session_state["figure7_nets"] = [k for k in st.session_state["figure7_nets"] if k in labels]
    default = None if "figure7_nets" in st.session_state else default_selection(sources)
    chosen = st.multiselect(tr("figure7.choose"), list(labels), default=default, format_func=labels.__getitem__,
                            key="figure7_nets", help=tr("figure7.choose_help"), placeholder=tr("common.choose"))
    return chosen, labels


def _responses(chosen: list[str], by_path: dict, labels: dict[str, str], fp: tuple, size: int,
               live: bool) -> tuple[list, list[dict]]:
    """Each chosen net's responses (stored with its checkpoint unless computed live) and its row of the table."""
    to_compute = live_paths(chosen, by_path, live)
    computed = compute_live(to_compute, by_path, labels, fp, size)
    results, rows = [], []
    for path in chosen:
        if path in to_compute and path not in computed:
            st.caption(tr("figure7.not_computed", net=labels.get(path, path), images=size))
            continue
        res = computed[path] if path in computed else by_path[path].stored
        label = labels.get(path, path)
        results.append((label, source_family(path, by_path), res))
        rows.append(tables.figure7_row(label, res, bootstrap_interval(res), size if path in computed else None,
                                       current_language()))
    return results, rows


def _estimate(chosen: list[str], by_path: dict, limit: int) -> None:
    """How long "Recompute live" would take on ``limit`` images, and on what the estimate rests."""
    seconds, basis = meter().estimate(responses_work([source_model(p, by_path) for p in chosen], limit))
    st.caption(tables.figure7_estimate(seconds, basis, limit, len(chosen), current_language()))


def _sample_section(sources: list, chosen: list[str], labels: dict[str, str], fp: tuple, lang: str) -> None:
    """Figure 7 on the CIFAR-10 test sample: the chart, the table, the paper's claims and which images drive them.
    The slider only chooses a size; values are computed on it when "Recompute live" is pressed."""
    col_n, col_button = st.columns([3, 1], vertical_alignment="bottom")
    limit = col_n.select_slider(tr("figure7.images"), SAMPLE_SIZES, key="figure7_images",
                                help=tr("figure7.images_help"))
    col_button.button(tr("figure7.recompute"), help=tr("figure7.recompute_help"), key="figure7_recompute",
                      on_click=request)
    size, live = shown_size(SAMPLE_SIZES, limit)
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
    wide = {tr("figure7.col_interval", level=tables.figure7_level()): st.column_config.Column(width="medium"),
            tr("figure7.col_source"): st.column_config.Column(width="large")}  # their sentences are not cut
    st.dataframe(rows, hide_index=True, width="stretch", column_config=wide)
    if any(r.per_image is not None for _, _, r in results):
        st.caption(tr("figure7.interval_note", resamples=RESAMPLES, images=size, level=tables.figure7_level()))
    if sources:  # untrained demo nets support no claim
        intervals = {label: bootstrap_interval(r) for label, _, r in results}
        _show(tables.claim_sentences(response_claims(results, intervals=intervals), "figure7.claim", size, lang))
        if not trained_alike(chosen, by_path):
            st.caption(tr("figure7.unfair", epochs=tr("figure7.unfair_sep").join(
                tr("figure7.unfair_net", net=labels.get(p, p), epochs=tables.epochs_text(by_path[p].epochs))
                if by_path[p].epochs is not None else tr("figure7.unfair_net_unknown", net=labels.get(p, p))
                for p in chosen if p in by_path)))
        st.subheader(tr("figure7.spread_header"))
        _spread(results, size, lang)


def _upload_section(sources: list, chosen: list[str], labels: dict[str, str], fp: tuple, lang: str) -> None:
    """The same curves for one picture of the user's."""
    st.subheader(tr("figure7.upload_header"))
    st.caption(tr("figure7.upload_intro"))
    picked = image_input("figure7_image", "cifar10")
    if picked is None or not chosen:
        return
    image, image_id = picked
    if not measured(chosen, fp, image_id) and not image_requested(image_id):
        st.button(tr("figure7.measure_image", n=len(chosen)), key="figure7_measure", on_click=request_image,
                  args=(image_id,), help=tr("figure7.measure_image_help"))
        return
    by_path = {s.path: s for s in sources}
    one = []
    for path in chosen:
        try:
            res = on_image(path, fp, image_id, image)
        except VizError as exc:
            show_error(exc)
            continue
        one.append((labels.get(path, path), source_family(path, by_path), res))
    if one:
        st.plotly_chart(figure7(one, lang, title_key="figure7.upload_title", log_y=wide_range([r for _, _, r in one])),
                        width="stretch")


def main() -> None:
    lang = current_language()
    keep_valid("figure7_images", SAMPLE_SIZES, 100)  # first visit, or a value from elsewhere
    st.title(tr("figure7.page_title"))
    st.markdown(tr("figure7.intro"))
    fp = folders_fingerprint()
    sources = paper_checkpoints(fp, str(user_checkpoint_dir()))
    chosen, labels = _chosen_nets(sources)
    _sample_section(sources, chosen, labels, fp, lang)
    with st.expander(tr("paper.what_to_notice"), expanded=True):
        st.markdown(tr("figure7.notice"))
    _upload_section(sources, chosen, labels, fp, lang)


main()
