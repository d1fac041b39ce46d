"""Evaluate your checkpoint: top-1 and per-class accuracy, the confusion matrix and the most confident mistakes of
the sidebar's model or an uploaded checkpoint on the shipped 1,000-image CIFAR-10 test sample (the homework's
screenshot). Everything shown is computed in resnet_viz.train.evaluate: one forward pass per model, cached."""

from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st
import torch

from resnet_viz.checkpoints.read import LoadedModel
from resnet_viz.errors import VizError
from resnet_viz.i18n import class_label
from resnet_viz.lab.homework import TARGET as HOMEWORK_TARGET
from resnet_viz.lab.homework import evaluate_command
from resnet_viz.models.registry import display_name
from resnet_viz.render.colour import display_scale, png_bytes, zoom
from resnet_viz.render.plots.evaluate import confusion_figure, per_class_figure
from resnet_viz.samples import TEST_SAMPLE_NAME
from resnet_viz.train import evaluate as E
from ui.common import current_language, keep_valid, picture, show_error, tr
from ui.images import test_sample
from ui.models import UPLOAD_LIMIT_BYTES, current_model, model_key, source_label
from ui.work import heavy

KEY = "evaluate"
SOURCES = ("sidebar", "upload")
MISTAKES, PER_ROW = 12, 6
THUMB_SIDE = 96


@st.cache_data(max_entries=16, show_spinner=False)
def _evaluation(model: str, sample: str, _loaded: LoadedModel) -> E.SampleEvaluation:
    images, labels, classes = test_sample()
    return E.evaluate_sample(_loaded, images, labels, classes)


@st.cache_data(max_entries=64, show_spinner=False)
def _thumbnail(index: int) -> bytes:
    picture_hwc = test_sample()[0][index].permute(1, 2, 0).numpy()
    return png_bytes(zoom(picture_hwc, display_scale(32, 32, target=THUMB_SIDE)))


def _uploaded() -> LoadedModel | None:
    """The checkpoint uploaded on this page (kept per session, loaded once per upload)."""
    st.file_uploader(tr("evaluate.upload_label"), type=["safetensors", "json", "pt", "pth", "th"],
                     accept_multiple_files=True, key=f"{KEY}_upload", help=tr("evaluate.upload_help"))
    files = st.session_state.get(f"{KEY}_upload") or []
    if not files:
        st.info(tr("evaluate.upload_waiting"))
        return None
    blobs = [(f.name, f.getvalue()) for f in files]
    digest = hashlib.sha256(b"".join(n.encode() + b"\0" + hashlib.sha256(d).digest() for n, d in blobs)).hexdigest()
    held = st.session_state.get(f"_{KEY}_uploaded")
    if held and held[0] == digest:
        return held[1]
    try:
        loaded = E.load_uploaded(blobs, max_bytes=UPLOAD_LIMIT_BYTES)
    except VizError as exc:
        show_error(exc)
        return None
    model_key(loaded)  # the weights' hash, once
    st.session_state[f"_{KEY}_uploaded"] = (digest, loaded)  # this session's only: never shared
    return loaded


def _pick_model() -> LoadedModel | None:
    labels = {"sidebar": tr("evaluate.source_sidebar", model=source_label(st.session_state.get("model_source", ""))),
              "upload": tr("evaluate.source_upload")}
    keep_valid(f"{KEY}_source", SOURCES, "sidebar")
    source = st.radio(tr("evaluate.source"), SOURCES, key=f"{KEY}_source", horizontal=True,
                      format_func=labels.__getitem__, help=tr("evaluate.source_help"))
    loaded = current_model() if source == "sidebar" else _uploaded()
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
    akamaster = loaded.meta.get("accuracy_source") == "best_prec1"
    help_text = (tr("evaluate.metric_claimed_akamaster") if akamaster else
                 tr("evaluate.metric_claimed_help", dataset=loaded.meta.get("dataset") or "CIFAR-10"))
    c4.metric(tr("evaluate.metric_claimed"), f"{claimed:.2f} %" if claimed is not None else tr("evaluate.metric_none"),
              help=help_text)


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
    for row in range(0, len(mistakes), PER_ROW):
        for column, m in zip(st.columns(PER_ROW), mistakes[row:row + PER_ROW]):
            picture(_thumbnail(m.index), where=column,
                    caption=tr("evaluate.mistake_caption", true=class_label(classes[m.true], lang),
                               predicted=class_label(classes[m.predicted], lang),
                               confidence=f"{100 * m.confidence:.0f}"))


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
               per_class=per_class[0] if len(set(per_class)) == 1 else f"{min(per_class)}–{max(per_class)}"))
    st.code(evaluate_command(_checkpoint_name(loaded)), language="bash", wrap_lines=True)
    st.caption(tr("evaluate.sample_command_note"))


def main() -> None:
    st.title(tr("evaluate.title"))
    st.markdown(tr("evaluate.intro"))
    loaded = _pick_model()
    if loaded is None:
        return
    key = model_key(loaded)
    try:
        with st.spinner(tr("evaluate.running", images=f"{len(test_sample()[1]):,}")):
            evaluation = heavy((KEY, key), lambda: _evaluation(key, TEST_SAMPLE_NAME, _loaded=loaded))
    except VizError as exc:
        show_error(exc)
        return
    result = evaluation.result
    lang = current_language()
    st.subheader(tr("evaluate.result_title", model=display_name(loaded.name), images=f"{result.total:,}"))
    st.caption(tr("evaluate.model_caption", label=loaded.label, format=loaded.source,
                  shortcut=loaded.shortcut or "–"))
    _metrics(loaded, result)
    _verdict(result)
    left, right = st.columns([3, 2])
    left.plotly_chart(confusion_figure(result, lang), key=f"{KEY}_confusion")
    right.plotly_chart(per_class_figure(result, lang), key=f"{KEY}_per_class")
    _mistakes(evaluation, loaded.classes)
    _sample_note(loaded, result)


main()
