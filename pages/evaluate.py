"""Evaluate your checkpoint: top-1 and per-class accuracy, the confusion matrix and the most confident mistakes of
the sidebar's model or an uploaded checkpoint on the shipped 1,000-image CIFAR-10 test sample (the homework's
screenshot). Everything shown is computed in resnet_viz.train.evaluate: one forward pass per model, cached."""

from __future__ import annotations

from ui.common import current_language, keep_valid, picture, show_error, tr
from ui.evaluate import KEY, sample_evaluation, upload_key, uploaded_checkpoint, uploaded_names
from ui.images import test_sample, thumbnail
from ui.models import UPLOAD_LIMIT_MB, UPLOAD_TYPES, current_model, model_label

from pathlib import Path

import streamlit as st
import torch

from resnet_viz.checkpoints import community
from resnet_viz.checkpoints.read import LoadedModel
from resnet_viz.conv_lab.homework import TARGET as HOMEWORK_TARGET
from resnet_viz.conv_lab.homework import evaluate_command
from resnet_viz.data import shown_dataset
from resnet_viz.errors import VizError
from resnet_viz.i18n import class_label
from resnet_viz.models.registry import display_name
from resnet_viz.render.plots.evaluate import confusion_figure, per_class_figure
from resnet_viz.student.convert import EXAMPLE_TARGET, command, default_out
from resnet_viz.train import evaluate as E

SOURCES = ("sidebar", "upload")
MISTAKES, MISTAKE_WIDTH = 12, 165  # the most confident mistakes shown, each this many pixels wide


def _refused(exc: VizError) -> None:
    """A refused upload: why, which formats the page takes, and how to bring a network of one's own."""
    show_error(exc)
    names = (uploaded_names() or "").split(", ")
    weights = next((n for n in names if Path(n).suffix.lower() in (".pt", ".pth", ".th")), "my_resnet.pth")
    st.info(tr("evaluate.refused_formats", limit_mb=UPLOAD_LIMIT_MB, out=default_out(Path(weights)).as_posix()))
    st.code(command(EXAMPLE_TARGET, weights), language="bash", wrap_lines=True)
    st.caption(tr("evaluate.refused_convert_note"))


def _uploaded() -> LoadedModel | None:
    """The checkpoint uploaded on this page (its model kept by the server, its name by the session)."""
    st.file_uploader(tr("evaluate.upload_label", limit_mb=UPLOAD_LIMIT_MB), type=[*UPLOAD_TYPES, "json"],
                     accept_multiple_files=True, key=upload_key(), max_upload_size=UPLOAD_LIMIT_MB,
                     help=tr("evaluate.upload_help", limit_mb=UPLOAD_LIMIT_MB))
    try:
        loaded = uploaded_checkpoint()
    except VizError as exc:
        _refused(exc)
        return None
    if loaded is None:
        st.info(tr("evaluate.upload_waiting"))
        return None
    st.caption(tr("evaluate.upload_held", names=uploaded_names()))
    return loaded


def _pick_model() -> LoadedModel | None:
    labels = {"sidebar": tr("evaluate.source_sidebar"),  # the model itself is named once it is loaded
              "upload": tr("evaluate.source_upload")}
    keep_valid(f"{KEY}_source", SOURCES, "sidebar")
    source = st.radio(tr("evaluate.source"), SOURCES, key=f"{KEY}_source", horizontal=True,
                      format_func=labels.__getitem__, help=tr("evaluate.source_help"))
    loaded = current_model() if source == "sidebar" else _uploaded()
    fmt = community.FORMATS.get(str(loaded.meta.get("format"))) if loaded is not None else None
    if source == "upload" and fmt is not None and fmt.maxpool_unknown:  # the sidebar's upload lets one choose
        st.caption(tr("evaluate.maxpool_note"))
    if loaded is not None and loaded.spec.dataset != "cifar10":
        st.info(tr("evaluate.not_cifar", model=display_name(loaded.name)))
        return None
    return loaded


def _metrics(loaded: LoadedModel, result: E.EvalResult) -> None:
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(tr("evaluate.metric_accuracy"), f"{result.accuracy:.1f} %",
              help=tr("evaluate.metric_accuracy_help", images=f"{result.total:,}"))
    c2.metric(tr("evaluate.metric_correct"), f"{result.correct:,} / {result.total:,}")
    c3.metric(tr("evaluate.metric_loss"), f"{result.loss:.3f}", help=tr("evaluate.metric_loss_help"))
    claimed = loaded.accuracy
    source = loaded.meta.get("accuracy_source")  # a community file's own claim, or the README of its weights
    help_text = (tr("evaluate.metric_claimed_published") if source == "published" else
                 tr("evaluate.metric_claimed_file", field=source) if source else
                 tr("evaluate.metric_claimed_help",
                    dataset=shown_dataset(loaded.meta.get("dataset") or "CIFAR-10", current_language())))
    c4.metric(tr("evaluate.metric_claimed"), f"{claimed:.2f} %" if claimed is not None else tr("evaluate.metric_none"),
              help=help_text)
    # a community file's own figure (best_prec1, acc) and a published one are on the official CIFAR-10 test set
    gap = E.claim_gap(claimed, loaded.meta.get("dataset"), result.accuracy, result.total,
                      official_claim=source is not None)
    if gap is not None:
        st.caption(E.claim_sentence(gap, current_language()))


def _verdict(result: E.EvalResult) -> None:
    lang = current_language()
    h = E.highlights(result)
    if h is None:
        return
    names = dict(best=class_label(h.best[0], lang), best_acc=f"{h.best[1]:.0f}", worst=class_label(h.worst[0], lang),
                 worst_acc=f"{h.worst[1]:.0f}")
    if h.confusion is None:
        st.markdown(tr("evaluate.verdict_no_confusion", **names))
    else:
        true, predicted, count = h.confusion
        st.markdown(tr("evaluate.verdict", **names, count=count, true=class_label(true, lang),
                       predicted=class_label(predicted, lang)))
    passed = result.accuracy >= HOMEWORK_TARGET
    (st.success if passed else st.warning)(tr("evaluate.homework_pass" if passed else "evaluate.homework_short",
                                              acc=f"{result.accuracy:.1f}", target=f"{HOMEWORK_TARGET:.0f}"))


def _mistakes(evaluation: E.SampleEvaluation, classes: tuple[str, ...]) -> None:
    lang = current_language()
    st.subheader(tr("evaluate.mistakes_title"))
    st.caption(tr("evaluate.mistakes_intro"))
    mistakes = evaluation.mistakes(MISTAKES)
    if not mistakes:
        st.info(tr("evaluate.no_mistakes"))
        return
    confidences = E.percent_labels([m.confidence for m in mistakes])  # 99.97, not 100: they differ
    grid = st.container(horizontal=True, gap="small")  # as many to a row as fit: two on a phone, seven on a laptop
    for m, confidence in zip(mistakes, confidences):
        picture(thumbnail(None, m.index), where=grid.container(width=MISTAKE_WIDTH),
                caption=tr("evaluate.mistake_caption", true=class_label(classes[m.true], lang),
                           predicted=class_label(classes[m.predicted], lang), confidence=confidence))


def _checkpoint_name(loaded: LoadedModel) -> str:
    """The checkpoint's path as the student would type it: relative to here when it is below, else its name."""
    path = loaded.meta.get("path")
    if path is None:  # an upload: its label ends with the file name
        return loaded.label.split(" (", 1)[-1].removesuffix(")")
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return Path(path).name


def _sample_note(loaded: LoadedModel, result: E.EvalResult) -> None:
    per_class = torch.bincount(test_sample()[1]).tolist()
    st.subheader(tr("evaluate.sample_title"))
    st.info(tr("evaluate.sample_note", images=f"{result.total:,}",
               per_class=per_class[0] if len(set(per_class)) == 1 else f"{min(per_class)}–{max(per_class)}",
               margin=f"{E.sampling_margin(result.accuracy, result.total):.1f}"))
    st.code(evaluate_command(_checkpoint_name(loaded)), language="bash", wrap_lines=True)
    st.caption(tr("evaluate.sample_command_note"))


def main() -> None:
    st.title(tr("evaluate.title"))
    st.markdown(tr("evaluate.intro"))
    loaded = _pick_model()
    if loaded is None:
        return
    try:
        with st.spinner(tr("evaluate.running", images=f"{len(test_sample()[1]):,}")):
            evaluation = sample_evaluation(loaded)
    except VizError as exc:
        show_error(exc)
        return
    result = evaluation.result
    lang = current_language()
    st.subheader(tr("evaluate.result_title", model=display_name(loaded.name), images=f"{result.total:,}"))
    st.caption(tr("evaluate.model_caption", label=model_label(loaded), format=loaded.source,
                  shortcut=loaded.shortcut or "–"))
    described = community.describe(loaded, lang)  # a community model: where it comes from, how it is fed
    if described:
        st.caption(described)
    _metrics(loaded, result)
    _verdict(result)
    left, right = st.columns([3, 2])
    left.plotly_chart(confusion_figure(result, lang), key=f"{KEY}_confusion")
    right.plotly_chart(per_class_figure(result, lang), key=f"{KEY}_per_class")
    _mistakes(evaluation, loaded.classes)
    _sample_note(loaded, result)


main()
