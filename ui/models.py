"""The shared sidebar model picker and the process-wide model cache."""

from __future__ import annotations

import hashlib

import streamlit as st

from resnet_viz.errors import LoadError
from resnet_viz.loading import (
    LoadedModel, find_checkpoints, load_checkpoint_bytes, load_model, pretrained_cached)
from resnet_viz.zoo import MODELS
from ui.common import show_error, tr

_CHOICE_KEY = "model_source"
_UPLOAD = "upload"
UPLOAD_LIMIT_BYTES = 200 * 1024 * 1024


@st.cache_resource(max_entries=6, show_spinner=False)
def load_cached(source: str) -> LoadedModel:
    """One copy per process of each model (shared by every session; pages never modify it)."""
    return load_model(source)


@st.cache_data(ttl=60, show_spinner=False)
def checkpoint_sources() -> dict[str, str]:
    """source -> label of every checkpoint found (shipped first), re-scanned at most once a minute."""
    out = {}
    for info in find_checkpoints():
        acc = info.meta.get("accuracy")
        where = tr("models.shipped") if info.shipped else tr("models.user")
        acc_text = tr("models.accuracy", acc=f"{float(acc):.1f}") if isinstance(acc, (int, float)) else ""
        out[f"{info.path}"] = f"{info.stem} · {where}{acc_text}"
    return out


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
    st.sidebar.selectbox(tr("models.picker"), list(options), format_func=options.get, key=_CHOICE_KEY,
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
    st.session_state["_uploaded_model"] = (digest, loaded)  # per session: never shared with others
    return loaded


def current_model() -> LoadedModel:
    """The picked model, or the default one with a clear message when the pick cannot be loaded."""
    source = st.session_state.get(_CHOICE_KEY) or default_source()
    try:
        if source == _UPLOAD:
            loaded = _uploaded_model()
            if loaded is not None:
                return loaded
            st.info(tr("models.upload_waiting"))
        else:
            return load_cached(source)
    except LoadError as exc:
        show_error(exc)
    fallback = default_source()
    st.caption(tr("models.fallback", model=checkpoint_sources().get(fallback, fallback)))
    return load_cached(fallback)
