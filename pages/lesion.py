"""Lesion study (Veit et al. 2016): delete blocks of a trained network at test time and watch the error."""

from ui.common import class_name, current_language, keep_labelled, keep_valid, picture, show_error, tr, trn
from ui.images import test_sample, thumbnail
from ui.lesion import compute_study, depth_groups, not_stored, probabilities, study
from ui.models import current_model, model_label, pick

import streamlit as st

from resnet_viz.checkpoints.find import folders_fingerprint
from resnet_viz.checkpoints.identity import model_key
from resnet_viz.errors import VizError
from resnet_viz.models.registry import display_name
from resnet_viz.paper.lesion import (
    VEIT2016,
    LesionStudy,
    changes_shape,
    cifar_blocks,
    comparison_rows,
    downsampling_sentence,
    prediction_change,
    random_sentence,
    verdict,
    verdict_sentences,
)
from resnet_viz.render.plots.lesion import random_figure, single_figure

SIZES = [100, 250, 500, 1000]


def _studies(group: list[tuple[str, str]], fp: tuple) -> list[tuple[str, LesionStudy]]:
    """The sweeps of one depth's networks: shipped ones at once, the others after "Compute"."""
    found: list[tuple[str, LesionStudy]] = []
    missing: list[tuple[str, str]] = []
    for label, path in group:
        try:
            s = study(path, fp)
        except VizError as exc:
            show_error(exc)
            continue
        if s is None:
            missing.append((label, path))
        else:
            found.append((label, s))
    if missing:
        st.caption(not_stored(missing, current_language()))
        if st.button(tr("lesion.compute"), key="lesion_compute", help=tr("lesion.compute_help")):
            for label, path in missing:
                try:
                    found.append((label, compute_study(path, fp, label)))
                except VizError as exc:
                    show_error(exc)
    return found


def _default_depth(groups: dict[int, list[tuple[str, str]]], fp: tuple) -> int:
    """The paper's pair (56) if its sweeps are shipped, else 20, else 110, else the first depth found."""
    def ready(depth: int) -> bool:
        try:
            return all(study(path, fp) is not None for _, path in groups[depth])
        except VizError:
            return False
    return next((d for d in (56, 20, 110, *groups) if d in groups and ready(d)), next(iter(groups)))


def _verdict(studies: list[tuple[str, LesionStudy]], lang: str) -> None:
    resnet = next(((lb, s) for lb, s in studies if s.residual), None)
    plain = next(((lb, s) for lb, s in studies if not s.residual), None)
    if resnet and plain:
        for sentence in verdict_sentences(verdict(resnet[1], plain[1]), resnet[0], plain[0], lang):
            st.markdown(sentence)
        st.caption(tr("lesion.verdict_rule"))
    elif resnet:
        st.caption(tr("lesion.no_twin", net=resnet[0]))
    for label, s in studies:
        down = downsampling_sentence(s, label, lang)
        if down:
            st.markdown(down)
    st.markdown(f"**{tr('lesion.veit_header')}**")
    st.table(comparison_rows(resnet, plain, lang))  # a table wraps the sentences; a dataframe would cut them
    st.caption(tr("lesion.veit_source", citation=VEIT2016["citation"]))


def _sweeps(lang: str) -> tuple[int, list[tuple[str, str]]] | None:
    """The sweeps of one depth; that depth and its networks ((label, path) each), None without any."""
    fp = folders_fingerprint()
    groups = depth_groups(fp, lang)
    if not groups:
        st.info(tr("lesion.no_checkpoints"))
        return None
    if st.session_state.get("lesion_depth") not in groups:  # first visit: a depth whose sweeps are all there
        st.session_state["lesion_depth"] = _default_depth(groups, fp)
    names = {d: tr("lesion.depth_option", depth=d, nets=", ".join(label for label, _ in g)) for d, g in groups.items()}
    depth = st.radio(tr("lesion.depth"), list(groups), key="lesion_depth", horizontal=True, format_func=names.get)
    studies = _studies(groups[depth], fp)
    if not studies:
        return depth, groups[depth]
    st.plotly_chart(single_figure(studies, lang), width="stretch")
    _verdict(studies, lang)
    if any(s.ks for _, s in studies):
        st.plotly_chart(random_figure(studies, lang), width="stretch")
        for label, s in studies:
            sentence = random_sentence(s, label, lang)
            if sentence:
                st.markdown(sentence)
        st.caption(tr("lesion.random_note", draws=len(studies[0][1].random[0]) if studies[0][1].random else 0,
                      seed=studies[0][1].seed))
    return depth, groups[depth]


def _block_label(i: int, name: str, down: bool) -> str:
    return tr("lesion.block_option_down" if down else "lesion.block_option", n=i + 1, name=name)


def _one_image(loaded, size: int, intact, lesioned) -> None:
    _, labels, classes = test_sample(size)
    keep_valid("lesion_image", list(range(size)), 0)
    index = st.number_input(tr("lesion.image"), 0, size - 1, key="lesion_image", help=tr("lesion.image_help"))
    names = loaded.classes

    def said(probs) -> str:
        top = int(probs[index].argmax())
        return tr("lesion.prediction", cls=class_name(names[top]), p=f"{100 * float(probs[index, top]):.1f}")
    col_img, col_text = st.columns([1, 3])
    picture(thumbnail(size, int(index)), where=col_img)
    truth = classes[int(labels[index])] if classes else str(int(labels[index]))
    col_text.markdown(tr("lesion.truth", cls=class_name(truth)))
    col_text.markdown(tr("lesion.said_intact", pred=said(intact)))
    col_text.markdown(tr("lesion.said_lesioned", pred=said(lesioned)))


def _other_depth(loaded, swept: tuple[int, list[tuple[str, str]]] | None) -> None:
    """Say so when the sidebar's model is not of the depth whose sweep the page shows, with a way to it."""
    if swept is None or loaded.spec.depth == swept[0]:
        return
    depth, nets = swept
    st.info(tr("lesion.live_other_depth", depth=depth, net=display_name(loaded.spec.name),
               net_depth=loaded.spec.depth))
    label, path = nets[0]  # the ResNet of that depth (ResNets come first)
    st.button(tr("lesion.live_use", net=label), key="lesion_use_swept", on_click=pick, args=(path,))


def _interactive(lang: str, swept: tuple[int, list[tuple[str, str]]] | None) -> None:
    loaded = current_model()
    try:
        named = cifar_blocks(loaded.model)
    except VizError as exc:
        st.info(exc.message(lang))
        st.caption(tr("lesion.pick_cifar"))
        return
    st.caption(tr("lesion.live_intro", net=model_label(loaded)))
    _other_depth(loaded, swept)
    labels = {i: _block_label(i, loaded.spec.paper_path(name), changes_shape(b)) for i, (name, b) in enumerate(named)}
    st.session_state["lesion_deleted"] = [i for i in st.session_state.get("lesion_deleted", []) if i in labels]
    keep_labelled("lesion_images", {n: str(n) for n in SIZES}, 250)  # the browser then shows the value set here
    col_size, col_blocks = st.columns([1, 3])
    size = col_size.select_slider(tr("lesion.images"), SIZES, key="lesion_images", help=tr("lesion.images_help"))
    deleted = col_blocks.multiselect(tr("lesion.delete"), list(labels), format_func=labels.__getitem__,
                                     key="lesion_deleted", help=tr("lesion.delete_help"),
                                     placeholder=tr("common.choose"))
    mkey = model_key(loaded)
    try:
        intact = probabilities(loaded, mkey, size, ())
        lesioned = probabilities(loaded, mkey, size, tuple(sorted(deleted)))
    except VizError as exc:
        show_error(exc)
        return
    change = prediction_change(intact, lesioned, test_sample(size)[1])
    c1, c2, c3 = st.columns(3)
    c1.metric(tr("lesion.acc_intact"), f"{change.intact:.1f} %")
    c2.metric(trn("lesion.acc_lesioned", len(deleted)), f"{change.lesioned:.1f} %", delta=f"{change.delta:+.1f}")
    c3.metric(tr("lesion.changed"), f"{change.changed} / {change.images}")
    _one_image(loaded, size, intact, lesioned)


def main() -> None:
    lang = current_language()
    st.title(tr("lesion.page_title"))
    st.markdown(tr("lesion.intro"))
    with st.expander(tr("lesion.deleted_title")):
        st.markdown(tr("lesion.deleted_body"))
    st.subheader(tr("lesion.sweep_header"))
    swept = _sweeps(lang)
    st.subheader(tr("lesion.live_header"))
    _interactive(lang, swept)
    with st.expander(tr("paper.what_to_notice"), expanded=False):
        st.markdown(tr("lesion.notice"))


main()
