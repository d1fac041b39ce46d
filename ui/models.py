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
from resnet_viz.checkpoints.pretrained import pretrained_cached
from resnet_viz.checkpoints.read import LoadedModel, load_checkpoint_bytes
from resnet_viz.errors import LoadError
from resnet_viz.i18n import t
from resnet_viz.inspect.feature_maps import model_fingerprint
from resnet_viz.models.registry import MODELS, get_spec, plain_twin
from resnet_viz.work import ByteBudgetCache, model_cache_bytes, module_bytes
from ui.common import current_language, show_error, tr

_CHOICE_KEY = "model_source"
_UPLOAD = "upload"
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
def _checkpoint_sources(fingerprint: tuple, lang: str) -> dict[str, str]:
    out = {}
    for info in find_checkpoints():
        acc = info.meta.get("accuracy")
        where = t("models.shipped", lang) if info.shipped else t("models.user", lang)
        acc_text = t("models.accuracy", lang, acc=f"{float(acc):.1f}") if isinstance(acc, (int, float)) else ""
        out[f"{info.path}"] = f"{info.stem} · {where}{acc_text}"
    return out


def checkpoint_sources() -> dict[str, str]:
    """source -> label of every checkpoint found (shipped first), in the session's language."""
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


def sources() -> dict[str, str]:
    """Every model the picker offers: checkpoints, pretrained ImageNet nets, an uploaded file."""
    options = dict(checkpoint_sources())
    for name, spec in MODELS.items():
        if spec.pretrained:
            key = "models.pretrained_cached" if pretrained_cached(name) else "models.pretrained_download"
            options[f"pretrained:{name}"] = tr(key, model=name)
    if not checkpoint_sources():
        options["random:resnet20"] = tr("models.random", model="resnet20")
    options[_UPLOAD] = tr("models.upload_option")
    return options


def default_source() -> str:
    ckpts = list(checkpoint_sources())
    for preferred in ("resnet20", "resnet56", "resnet110"):
        for src in ckpts:
            if src.endswith(f"/{preferred}.safetensors"):
                return src
    return ckpts[0] if ckpts else "random:resnet20"


def model_picker() -> None:
    """Sidebar: choose the model every page uses (the choice is kept across pages)."""
    options = sources()
    if st.session_state.get(_CHOICE_KEY) not in options:
        st.session_state[_CHOICE_KEY] = default_source()
    st.sidebar.selectbox(tr("models.picker"), list(options), format_func=options.__getitem__, key=_CHOICE_KEY,
                         help=tr("models.picker_help"))
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


def current_model() -> LoadedModel:
    """The picked model, or the default one with a clear message when the pick cannot be loaded."""
    source = st.session_state.get(_CHOICE_KEY) or default_source()
    try:
        if source == _UPLOAD:
            loaded = _uploaded_model()
            if loaded is not None:
                st.sidebar.caption(upload_summary(loaded))
                return loaded
            st.info(tr("models.upload_waiting"))
        else:
            return load_cached(source)
    except LoadError as exc:
        show_error(exc)
    fallback = default_source()
    st.caption(tr("models.fallback", model=checkpoint_sources().get(fallback, fallback)))
    return load_cached(fallback)
