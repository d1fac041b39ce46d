"""Loss landscape (Li et al. 2018): the loss around trained plain nets and ResNets on filter-normalised random
directions, the line from the initial weights, and a low-resolution grid computed live."""

from ui.common import current_language, keep_valid, tr
from ui.landscape import (
    LIVE_IMAGES,
    LIVE_POINTS,
    estimate,
    label,
    live,
    live_sources,
    ordered,
    request,
    shipped,
    shipped_epochs,
)

import streamlit as st

from resnet_viz.paper.landscape import DEFAULT_SEED, Landscape, shape
from resnet_viz.render.plots.landscape import (
    comparison_sentence,
    contour_figure,
    images_used,
    init_check_sentence,
    line_figures,
    line_sentence,
    method_caption,
    shape_row,
    shared_range,
    surface_figure,
)

DEFAULT_PAIR = ("plain56", "resnet56")


def _draw(named: list[tuple[str, Landscape]], lang: str, log: bool) -> None:
    """Each network's surface and contour map side by side, on one colour and z scale for all."""
    zrange = shared_range([land for _, land in named], log)
    for name, land in named:
        left, right = st.columns(2)
        left.plotly_chart(surface_figure(land, name, zrange, lang, log=log), width="stretch")
        right.plotly_chart(contour_figure(land, name, zrange, lang, log=log), width="stretch")
        st.caption(method_caption(land, lang))
    low, high = (10**v for v in zrange) if log else zrange
    st.caption(tr("landscape.same_scale", low=f"{low:.3g}", high=f"{high:.3g}"))


def _measures(named: list[tuple[str, Landscape]], lang: str) -> None:
    """The table of shape measures and, for two networks, the sentence comparing them."""
    shapes = [shape(land) for _, land in named]
    st.subheader(tr("landscape.measures_header"))
    st.dataframe([shape_row(name, land, s, lang) for (name, land), s in zip(named, shapes)], hide_index=True,
                 width="stretch")
    if len(named) == 2:
        accuracies = (named[0][1].meta.get("accuracy"), named[1][1].meta.get("accuracy"))
        st.markdown(comparison_sentence((named[0][0], named[1][0]), (shapes[0], shapes[1]), lang, accuracies))
    st.caption(tr("landscape.measures_help"))


def _compare(grids: dict[str, Landscape], lang: str) -> None:
    stems = ordered(grids)
    labels = {s: label(s, grids[s]) for s in stems}
    first, second = (s if s in stems else fallback for s, fallback in zip(DEFAULT_PAIR, (stems[0], stems[-1])))
    keep_valid("landscape_a", stems, first)
    keep_valid("landscape_b", stems, second)
    col_a, col_b, col_log = st.columns(3, vertical_alignment="bottom")
    a = col_a.selectbox(tr("landscape.choose_a"), stems, key="landscape_a", format_func=labels.__getitem__,
                        help=tr("landscape.choose_help"))
    b = col_b.selectbox(tr("landscape.choose_b"), stems, key="landscape_b", format_func=labels.__getitem__,
                        help=tr("landscape.choose_help"))
    log = col_log.toggle(tr("landscape.log_scale"), value=True, key="landscape_log", help=tr("landscape.log_help"))
    named = [(labels[a], grids[a]), (labels[b], grids[b])]
    _draw(named, lang, log)
    _measures(named, lang)


def _lines(grids: dict[str, Landscape], lang: str) -> None:
    """The loss from the initial to the trained weights of every shipped network that has the line."""
    st.subheader(tr("landscape.line_header"))
    st.markdown(tr("landscape.line_intro"))
    lines = [(label(s, grids[s]), grids[s]) for s in ordered(grids) if grids[s].line_t is not None]
    if not lines:
        st.caption(tr("landscape.line_missing"))
        return
    log = bool(st.session_state.get("landscape_log", True))
    for column, fig in zip(st.columns(2), line_figures(lines, lang, log=log)):  # stacked on a phone
        column.plotly_chart(fig, width="stretch")
    st.markdown("\n".join(f"- {line_sentence(name, land, lang)}" for name, land in lines))
    st.caption(init_check_sentence(lines, lang))


def _live(lang: str) -> None:
    """An 11 x 11 grid of a network and seed the student picks, computed on this server."""
    st.subheader(tr("landscape.live_header"))
    st.caption(tr("landscape.live_intro", points=LIVE_POINTS, images=LIVE_IMAGES))
    sources = live_sources()
    if not sources:
        st.info(tr("landscape.live_none"))
        return
    keep_valid("landscape_net", list(sources), next(iter(sources)))
    col_net, col_seed, col_button = st.columns([3, 1, 1], vertical_alignment="bottom")
    path = col_net.selectbox(tr("landscape.live_model"), list(sources), key="landscape_net",
                             format_func=sources.__getitem__)
    seed = int(col_seed.number_input(tr("landscape.live_seed"), min_value=0, max_value=2**31 - 1,
                                     value=DEFAULT_SEED, step=1, key="landscape_seed",
                                     help=tr("landscape.live_seed_help")))
    col_button.button(tr("landscape.recompute"), key="landscape_compute", on_click=request,
                      help=tr("landscape.recompute_help"))
    name = sources[path].split(" (")[0]
    st.caption(estimate(path, name, lang))
    land = live(path, seed, name)
    if land is not None:
        named = [(tr("landscape.live_result", net=name), land)]
        _draw(named, lang, bool(st.session_state.get("landscape_log", True)))
        _measures(named, lang)


def main() -> None:
    lang = current_language()
    st.title(tr("landscape.page_title"))
    st.markdown(tr("landscape.intro"))
    with st.expander(tr("landscape.paper_header"), expanded=True):
        st.markdown(tr("landscape.paper_finding"))
    grids = shipped()
    st.markdown(tr("landscape.ours_caveat", images=images_used(grids.values(), LIVE_IMAGES),
                   epochs=shipped_epochs(grids)))
    if grids:
        _compare(grids, lang)
        _lines(grids, lang)
    else:
        st.info(tr("landscape.none_shipped"))
    _live(lang)
    with st.expander(tr("paper.what_to_notice"), expanded=True):
        st.markdown(tr("landscape.notice"))


main()
