"""The shared sidebar model picker, the process-wide model cache and the one cache key of a model.

A cached model is one object shared by every session's thread, never copied: its forward passes are serialised
by ``model_lock(model)``, whose key is the model object itself, so the lock comes with the model and needs
nothing kept here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st

from resnet_viz.checkpoints.find import file_stamp, find_checkpoints, folders_fingerprint, load_model
from resnet_viz.checkpoints.pretrained import offline, pretrained_cached
from resnet_viz.checkpoints.read import LoadedModel, load_checkpoint_bytes
from resnet_viz.errors import LoadError
from resnet_viz.i18n import t
from resnet_viz.inspect.feature_maps import model_fingerprint
from resnet_viz.models.registry import MODELS, display_name, get_spec, plain_twin
from resnet_viz.render import tables
from resnet_viz.train.lab import ModelShelf
from resnet_viz.work import ByteBudgetCache, model_cache_bytes, module_bytes
from ui.common import current_language, keep_labelled, show_error, tr

_CHOICE_KEY = "model_source"
_FAILED_KEY = "_model_failed"  # (source, message) of a pick that could not be loaded, for the page to say
_STALE_KEY = "_model_stale"  # a pick that failed after the picker was drawn: it moves to the default next run
_UPLOAD = "upload"
_TRAINED_KEY = "_trained_models"  # this session's ModelShelf (the training lab's nets)
UPLOAD_LIMIT_BYTES = 200 * 1024 * 1024


@st.cache_resource(show_spinner=False)
def model_cache() -> ByteBudgetCache[LoadedModel]:
    """The process's models, bounded by their bytes ($RESNET_VIZ_MODEL_CACHE_MB, default 1 GB), not their count:
    ResNet-20 holds 1 MB, VGG-19 548 MB."""
    return ByteBudgetCache(model_cache_bytes(), size_of=lambda loaded: module_bytes(loaded.model))


def _load(source: str) -> LoadedModel:
    loaded = load_model(source)
    model_key(loaded)  # hash the weights once, here, next to the model: no page pays for it on a rerun
    return loaded


def load_cached(source: str) -> LoadedModel:
    """One copy per process of each model (shared by every session; pages never modify it).

    A checkpoint file rewritten in place (a training run that goes on) is loaded again.
    """
    stamp = file_stamp(Path(source)) if ":" not in source.split("/")[0] else None
    return model_cache().get_or_create((source, stamp), lambda: _load(source))


def model_key(loaded: LoadedModel) -> str:
    """The cache key of everything a page computes from a model: its weights' hash and its preprocessing.

    Two checkpoints that differ in weights, mean, std, resize, crop or class count never share a result, and a
    model loaded after another was evicted never inherits its results (as a key made of ``id(model)`` could).
    The hash is computed once per model object (``model_fingerprint`` keeps it; the loaders above compute it).
    """
    return ":".join(str(v) for v in (loaded.spec.name, model_fingerprint(loaded.model), loaded.mean, loaded.std,
                                     loaded.resize_size, loaded.input_size, len(loaded.classes)))


@st.cache_data(max_entries=16, show_spinner=False)
def _checkpoint_sources(fingerprint: tuple, lang: str) -> dict[str, tuple[str, str]]:
    found = []
    for info in find_checkpoints():
        acc = info.meta.get("accuracy")
        where = t("models.shipped", lang) if info.shipped else t("models.user", lang)
        label = tables.checkpoint_option(info.model, info.stem, float(acc) if isinstance(acc, (int, float)) else None,
                                         info.shipped, lang)
        details = t("models.details_checkpoint", lang, model=display_name(info.model), where=where, path=info.path)
        found.append((tables.model_order(get_spec(info.model)), not info.shipped, str(info.path), label, details))
    return {source: (label, details) for *_, source, label, details in sorted(found, key=lambda f: f[:2])}


def checkpoint_sources() -> dict[str, tuple[str, str]]:
    """source -> (short label, details) of every checkpoint found, by family and depth, in the session's
    language."""
    return _checkpoint_sources(folders_fingerprint(), current_language())


@st.cache_data(max_entries=8, show_spinner=False)
def _checkpoints_by_model(fingerprint: tuple) -> dict[str, str]:
    """zoo model name -> path of its first checkpoint (shipped ones come first)."""
    found: dict[str, str] = {}
    for info in find_checkpoints():
        found.setdefault(info.model, str(info.path))
    return found


def weights_source(name: str) -> str | None:
    """Where trained weights of zoo model ``name`` are: its checkpoint, else the downloaded pretrained ones."""
    path = _checkpoints_by_model(folders_fingerprint()).get(name)
    return path or (f"pretrained:{name}" if pretrained_cached(name) else None)


def twin_checkpoints() -> list[tuple[str, str, str, str]]:
    """(plain name, plain path, resnet name, resnet path) for every ResNet whose plain twin has a checkpoint too,
    shallowest first."""
    found = _checkpoints_by_model(folders_fingerprint())
    pairs = []
    for name, path in found.items():
        plain = plain_twin(name)
        if plain is not None and plain in found:
            pairs.append((plain, found[plain], name, path))
    return sorted(pairs, key=lambda p: get_spec(p[2]).depth)


def trained_shelf() -> ModelShelf:
    """This session's models trained in the training lab (in its own state: no other session sees them)."""
    return st.session_state.setdefault(_TRAINED_KEY, ModelShelf())


def trained_sources() -> dict[str, tuple[str, str]]:
    """source -> (label, details) of this session's trained models, newest first."""
    out = {}
    for source, loaded in trained_shelf().snapshot().items():
        acc = loaded.accuracy
        label = (tr("training_lab.picker_label", net=loaded.label, acc=f"{acc:.1f} %") if acc is not None
                 else tr("training_lab.picker_label_untested", net=loaded.label))
        out[source] = (label, tr("training_lab.picker_details", iterations=loaded.meta.get("trained_iterations")))
    return out


def sources() -> dict[str, tuple[str, str]]:
    """Every model the picker offers, source -> (short label, details for the tooltip): checkpoints, then the
    pretrained ImageNet nets, each by family and depth, then an uploaded file."""
    options = {**trained_sources(), **checkpoint_sources()}
    lang = current_language()
    for name, spec in sorted(MODELS.items(), key=lambda item: tables.model_order(item[1])):
        if spec.pretrained:
            cached = pretrained_cached(name)
            state = tr("models.state_cached" if cached else "models.state_download")
            options[f"pretrained:{name}"] = (tables.pretrained_option(name, cached, lang),
                                             tr("models.details_pretrained", model=display_name(name), state=state))
    if not checkpoint_sources():
        options["random:resnet20"] = (tr("models.random", model=display_name("resnet20")),
                                      tr("models.details_random", model=display_name("resnet20")))
    options[_UPLOAD] = (tr("models.upload_option"), tr("models.details_upload"))
    return options


def default_source() -> str:
    ckpts = list(checkpoint_sources())
    for preferred in ("resnet20", "resnet56", "resnet110"):
        for src in ckpts:
            if src.endswith(f"/{preferred}.safetensors"):
                return src
    return ckpts[0] if ckpts else "random:resnet20"


def source_label(source: str) -> str:
    """The picker's label of ``source`` (the source itself for one the picker does not offer)."""
    return sources().get(source, (source, ""))[0]


def pick(source: str) -> None:
    """Make ``source`` the sidebar's model (from a callback, before the picker is drawn); one that cannot be
    loaded leaves the pick on the default model and its message for the page."""
    if source != _UPLOAD and source not in trained_shelf().snapshot():
        try:
            load_cached(source)
        except LoadError as exc:
            st.session_state[_FAILED_KEY] = (source, exc.message(current_language()))
            source = default_source()
    st.session_state[_CHOICE_KEY] = source


def model_picker() -> None:
    """Sidebar: choose the model every page uses (the choice is kept across pages); it always shows the model in
    use: a pick that cannot be loaded falls back to the default model there too."""
    options = sources()
    if st.session_state.pop(_STALE_KEY, None) == st.session_state.get(_CHOICE_KEY):
        st.session_state[_CHOICE_KEY] = default_source()
    keep_labelled(_CHOICE_KEY, {source: label for source, (label, _) in options.items()}, default_source())
    details = options[st.session_state[_CHOICE_KEY]][1]
    st.sidebar.selectbox(tr("models.picker"), list(options), format_func=lambda s: options[s][0], key=_CHOICE_KEY,
                         help=f"{tr('models.picker_help')}\n\n{details}",
                         on_change=lambda: pick(st.session_state[_CHOICE_KEY]))
    if st.session_state[_CHOICE_KEY] == _UPLOAD:
        st.sidebar.file_uploader(tr("models.upload_label"), type=["safetensors", "pt", "pth", "th"],
                                 key="model_upload", help=tr("models.upload_help"))


def _uploaded_model() -> LoadedModel | None:
    file = st.session_state.get("model_upload")
    if file is None:
        return None
    data = file.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    held = st.session_state.get("_uploaded_model")
    if held and held[0] == digest:
        return held[1]
    loaded = load_checkpoint_bytes(data, file.name, max_bytes=UPLOAD_LIMIT_BYTES)
    model_key(loaded)  # the weights' hash, once
    st.session_state["_uploaded_model"] = (digest, loaded)  # per session: never shared with others
    return loaded


def upload_summary(loaded: LoadedModel) -> str:
    """What the sidebar says about an uploaded checkpoint: its architecture, format and claimed accuracy."""
    text = tr("models.upload_loaded", model=loaded.name, format=loaded.source)
    if loaded.accuracy is not None:
        claimed = loaded.meta.get("accuracy_source") == "best_prec1"
        key = "models.upload_claimed" if claimed else "models.upload_accuracy"
        text += " " + tr(key, acc=f"{loaded.accuracy:.2f}")
    return text


def _fallback(reason: str) -> LoadedModel:
    """The default model, said on the page and in the sidebar."""
    fallback = default_source()
    label = source_label(fallback)
    st.caption(tr("models.fallback", model=label))
    st.sidebar.caption(tr("models.in_use", model=label, reason=reason))
    return load_cached(fallback)


def current_model() -> LoadedModel:
    """The picked model, or the default one with a clear message when the pick cannot be loaded."""
    source = st.session_state.get(_CHOICE_KEY) or default_source()
    failed = st.session_state.pop(_FAILED_KEY, None)
    if failed is not None:  # the picker already moved to the default model: say why, once
        st.error(failed[1])
        st.caption(tr("models.fallback", model=source_label(source)))
    try:
        if source == _UPLOAD:
            loaded = _uploaded_model()
            if loaded is not None:
                st.sidebar.caption(upload_summary(loaded))
                return loaded
            st.info(tr("models.upload_waiting"))
            return _fallback(tr("models.in_use_upload"))
        trained = trained_shelf().snapshot().get(source)
        return trained if trained is not None else load_cached(source)
    except LoadError as exc:
        show_error(exc)
    if source != _UPLOAD:  # the picker, drawn already, moves to the model in use on the next run
        st.session_state[_STALE_KEY] = source
    return _fallback(tr("models.in_use_upload" if source == _UPLOAD else "models.in_use_failed",
                        model=source_label(source)))


def imagenet_source() -> str | None:
    """A pretrained ImageNet net to switch to: the shallowest ResNet already downloaded, else the shallowest one
    when downloads are allowed (None: offline with none downloaded)."""
    nets = sorted((n for n, s in MODELS.items() if s.pretrained and s.family == "resnet"),
                  key=lambda n: MODELS[n].depth)
    cached = [n for n in nets if pretrained_cached(n)]
    if cached or not offline():
        return f"pretrained:{(cached or nets)[0]}"
    return None


def model_scope(loaded: LoadedModel, image_id: str, key: str) -> None:
    """Next to the predictions: the classes and input size the model knows and, for a photo on a CIFAR-10
    model, that it can only answer with those classes, with a button to an ImageNet model."""
    lang = current_language()
    st.caption(tables.model_scope(loaded.classes, loaded.input_size, loaded.spec.dataset, lang))
    if not (image_id.startswith("upload:") and loaded.spec.dataset == "cifar10"):
        return
    st.info(tr("models.photo_note", count=len(loaded.classes), dataset=tables.DATASET_NAMES["cifar10"]))
    source = imagenet_source()
    if source is not None:
        st.button(tr("models.switch_imagenet", model=display_name(source.split(":", 1)[1])), key=f"{key}_imagenet",
                  on_click=pick, args=(source,), help=tr("models.switch_imagenet_help"))
