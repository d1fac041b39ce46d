"""The shared sidebar model picker and the process-wide model cache."""

from __future__ import annotations

import hashlib
from pathlib import Path

import streamlit as st

from resnet_viz.checkpoints.find import checkpoint_dirs, find_checkpoints, load_model
from resnet_viz.checkpoints.pretrained import pretrained_cached
from resnet_viz.checkpoints.read import LoadedModel, load_checkpoint_bytes
from resnet_viz.errors import LoadError
from resnet_viz.i18n import t
from resnet_viz.models.registry import MODELS
from ui.common import current_language, show_error, tr

_CHOICE_KEY = "model_source"
_UPLOAD = "upload"
UPLOAD_LIMIT_BYTES = 200 * 1024 * 1024


@st.cache_resource(max_entries=6, show_spinner=False)
def _load_cached(source: str, stamp: tuple[int, int] | None) -> LoadedModel:
    return load_model(source)


def load_cached(source: str) -> LoadedModel:
    """One copy per process of each model (shared by every session; pages never modify it).

    A checkpoint file rewritten in place (a training run that goes on) is loaded again.
    """
    return _load_cached(source, _stamp(Path(source)) if ":" not in source.split("/")[0] else None)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def _fingerprint() -> tuple:
    """Path, mtime and size of every file in the checkpoint folders: a cheap scan on every run."""
    files = []
    for folder in checkpoint_dirs():
        if folder.is_dir():
            files += [(str(p), _stamp(p)) for p in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.json"))]
    return tuple(files)


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
    return _checkpoint_sources(_fingerprint(), current_language())


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
