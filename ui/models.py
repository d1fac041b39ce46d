"""The shared sidebar model picker, the process-wide model cache and the one cache key of a model.

A *choice* is the picker's string for a model: a checkpoint's path, ``pretrained:<name>``, ``random:<name>``, a
model trained in this session (``trained:...``) or ``upload``; every cache of a model is keyed by it. (A loaded
model's ``source`` is another thing: the format its weights came in.)

A cached model is one object shared by every session's thread, never copied: its forward passes are serialised
by ``model_lock(model)``, whose key is the model object itself, so the lock comes with the model and needs
nothing kept here.

An uploaded checkpoint is loaded once, in its turn (at most ``$RESNET_VIZ_UPLOAD_MB`` of files load at once per
server), into the same byte-bounded cache under the SHA-256 of its files; the session keeps that key and the file's
name, never the bytes: Streamlit's copy is dropped and the uploader drawn anew, empty, refused or not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.uploaded_file_manager import UploadedFile

from resnet_viz.checkpoints import community, find
from resnet_viz.checkpoints.find import file_stamp, find_checkpoints, folders_fingerprint, load_model
from resnet_viz.checkpoints.identity import model_key
from resnet_viz.checkpoints.pretrained import (
    DOWNLOAD_HOST,
    download_blocker,
    has_pretrained,
    offline,
    pretrained_cached,
    pretrained_path,
)
from resnet_viz.checkpoints.read import LoadedModel, load_checkpoint_bytes, trained_epochs, with_maxpool
from resnet_viz.cost import CALIBRATION_MODEL
from resnet_viz.errors import LoadError, VizError
from resnet_viz.first_views import FirstViews, shipped_for
from resnet_viz.i18n import t
from resnet_viz.models.registry import MODELS, display_name, get_spec, plain_twin
from resnet_viz.paper.figure7 import Figure7Source, figure7_sources
from resnet_viz.render import tables
from resnet_viz.train.training_lab.shelf import ModelShelf
from resnet_viz.work import ByteBudgetCache, WorkQueue, model_cache_bytes, module_bytes, upload_bytes
from ui.common import current_language, keep_labelled, show_error, tr
from ui.navigation import SIDEBAR_MODEL_PAGES, page_titles

_CHOICE_KEY = "model_choice"
_FAILED_KEY = "_model_failed"  # (choice, message) of a pick that could not be loaded, for the page to say
_STALE_KEY = "_model_stale"  # a pick that failed after the picker was drawn: it moves to the model before next run
_UPLOAD = "upload"
_TRAINED_KEY = "_trained_models"  # this session's ModelShelf (the training lab's nets)
_UPLOADS_KEY = "_uploaded_models"  # this session's uploads, choice -> (file names, cache key, model): in the picker
_IN_USE_KEY = "_model_in_use"  # the choice of the model last used: a pick that cannot be loaded goes back to it
UPLOADED_PREFIX = "uploaded:"
KEPT_UPLOADS = 2  # older uploads leave this session's picker (their models stay only while the cache keeps them)
PROBE_TTL_S = 300  # how long the answer "can this server download weights?" is kept
_MAXPOOL_KEY = "model_upload_maxpool"  # + the upload's digest: whether an uploaded torchvision-CIFAR net kept its pool
MAXPOOL_CHOICES = ("removed", "kept")
SIDEBAR_UPLOAD = "model_upload"  # the sidebar uploader's first key (then model_upload_1, _2, ...: see uploader_key)
# The largest network a student plausibly brings: ImageNet ResNet-50's weights (98 MB) fit, with room for a
# checkpoint that carries more than the weights. .streamlit/config.toml's server.maxUploadSize is the same.
UPLOAD_LIMIT_MB = 128
UPLOAD_LIMIT_BYTES = UPLOAD_LIMIT_MB * 1024 * 1024
UPLOAD_TYPES = ["safetensors", "pt", "pth", "th"]


@st.cache_resource(show_spinner=False)
def model_cache() -> ByteBudgetCache[LoadedModel]:
    """The process's models, bounded by their bytes ($RESNET_VIZ_MODEL_CACHE_MB, default 1 GB), not their count:
    ResNet-20 holds 1 MB, VGG-19 548 MB."""
    return ByteBudgetCache(model_cache_bytes(), size_of=lambda loaded: module_bytes(loaded.model))


def _load(choice: str) -> LoadedModel:
    loaded = load_model(choice)
    model_key(loaded)  # hash the weights once, here, next to the model: no page pays for it on a rerun
    return loaded


def load_cached(choice: str) -> LoadedModel:
    """One copy per process of each model (shared by every session; pages never modify it).

    A checkpoint file rewritten in place (a training run that goes on) is loaded again.
    """
    stamp = file_stamp(Path(choice)) if ":" not in choice.split("/")[0] else None
    return model_cache().get_or_create((choice, stamp), lambda: _load(choice))


def calibration_net() -> LoadedModel | None:
    """The shipped network whose small pieces of work the warm-up times (``resnet_viz.cost.calibrate``); None when it
    is not shipped."""
    path = find.SHIPPED_DIR / f"{CALIBRATION_MODEL}.safetensors"
    return load_cached(str(path)) if path.is_file() else None


@st.cache_resource(max_entries=16, show_spinner=False)
def _first_views(name: str, key: str, _loaded: LoadedModel) -> FirstViews | None:
    return shipped_for(_loaded)


def first_views(loaded: LoadedModel) -> FirstViews | None:
    """What the first visit of What each layer learns and Evaluate computes for a shipped network, shipped with it
    (``python -m resnet_viz first-views``); None for any other network (it is computed live). Read once per server,
    never written into."""
    return _first_views(loaded.spec.name, model_key(loaded), _loaded=loaded)


@st.cache_data(max_entries=16, show_spinner=False)
def _checkpoint_choices(fingerprint: tuple, lang: str) -> dict[str, tuple[str, str]]:
    found = []
    for info in find_checkpoints():
        acc = info.meta.get("accuracy")
        where = t("models.shipped", lang) if info.shipped else t("models.user", lang)
        label = tables.checkpoint_option(info.model, info.stem, float(acc) if isinstance(acc, (int, float)) else None,
                                         info.shipped, lang, trained_epochs(info.meta))
        details = t("models.details_checkpoint", lang, model=display_name(info.model), where=where, path=info.path)
        found.append((tables.model_order(get_spec(info.model)), not info.shipped, str(info.path), label, details))
    return {choice: (label, details) for *_, choice, label, details in sorted(found, key=lambda f: f[:2])}


def checkpoint_choices() -> dict[str, tuple[str, str]]:
    """choice -> (short label, details) of every checkpoint found, by family and depth, in the session's
    language."""
    return _checkpoint_choices(folders_fingerprint(), current_language())


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


@st.cache_data(max_entries=8, show_spinner=False)
def paper_checkpoints(fingerprint_key: tuple, user_dir: str) -> list[Figure7Source]:
    """The CIFAR-10 plain nets and ResNets that have checkpoints (``figure7_sources``), for Figure 7 and the
    gradient-flow page; read again when the folders change."""
    return figure7_sources()


def trained_shelf() -> ModelShelf:
    """This session's models trained in the training lab (in its own state: no other session sees them)."""
    return st.session_state.setdefault(_TRAINED_KEY, ModelShelf())


@dataclass(frozen=True)
class KeptUpload:
    """An upload on this session's picker list: its files' names, its model's key in the process's cache and the
    zoo name (for the label). Never the model itself: the cache is bounded by bytes for the whole class."""

    names: str
    key: tuple[str, str]
    model: str


def uploaded_models() -> dict[str, KeptUpload]:
    """This session's uploaded checkpoints, newest last: once loaded, an upload stays in the picker (a switch to
    another model never drops it; if the server's cache lets its model go, the page asks for the file again)."""
    return st.session_state.setdefault(_UPLOADS_KEY, {})


def _keep_upload(base: str, loaded: LoadedModel) -> str:
    """Put the upload last taken with the uploader ``base`` on the picker's list; its choice."""
    held: Upload | None = st.session_state.get(f"_{base}_held")
    if held is None or held.key is None:
        return _UPLOAD
    kept = uploaded_models()
    choice = f"{UPLOADED_PREFIX}{held.key[1][:16]}"
    kept.pop(choice, None)
    kept[choice] = KeptUpload(held.names, held.key, loaded.spec.name)
    while len(kept) > KEPT_UPLOADS:
        kept.pop(next(iter(kept)))
    return choice


def uploaded_choices() -> dict[str, tuple[str, str]]:
    """choice -> (label, details) of this session's uploaded checkpoints, newest first."""
    return {choice: (tr("models.uploaded_option", model=display_name(up.model)),
                     tr("models.details_uploaded", file=up.names))
            for choice, up in reversed(uploaded_models().items())}


def trained_choices() -> dict[str, tuple[str, str]]:
    """choice -> (label, details) of this session's trained models, newest first."""
    out = {}
    for choice, loaded in trained_shelf().snapshot().items():
        acc = loaded.accuracy
        iterations = loaded.meta.get("trained_iterations")
        label = (tr("training_lab.picker_label", net=loaded.label, iterations=iterations, acc=f"{acc:.1f} %")
                 if acc is not None else
                 tr("training_lab.picker_label_untested", net=loaded.label, iterations=iterations))
        out[choice] = (label, tr("training_lab.picker_details", iterations=iterations))
    return out


def _pretrained_details(name: str, cached: bool) -> str:
    state = tr("models.state_cached" if cached else "models.state_download")
    release = community.RELEASES.get(name)
    if release is None:
        return tr("models.details_pretrained", model=display_name(name), state=state)
    return tr("models.details_pretrained_cifar", model=display_name(name), state=state, acc=f"{release.accuracy:.2f}",
              repository=community.FORMATS[community.RELEASE_FORMAT].repository)


def choices() -> dict[str, tuple[str, str]]:
    """Every model the picker offers, choice -> (short label, details for the tooltip): checkpoints, then the
    pretrained CIFAR-10 (while downloads are on, or once downloaded) and ImageNet nets, each by family and depth,
    then an uploaded file."""
    options = {**trained_choices(), **uploaded_choices(), **checkpoint_choices()}
    lang = current_language()
    for name, spec in sorted(MODELS.items(), key=lambda item: tables.model_order(item[1])):
        cached = pretrained_cached(name)
        if has_pretrained(name) and (spec.pretrained or cached or not offline()):
            options[f"pretrained:{name}"] = (tables.pretrained_option(name, cached, lang),
                                             _pretrained_details(name, cached))
    if not checkpoint_choices():
        options["random:resnet20"] = (tr("models.random", model=display_name("resnet20")),
                                      tr("models.details_random", model=display_name("resnet20")))
    options[_UPLOAD] = (tr("models.upload_option"), tr("models.details_upload"))
    return options


def default_choice() -> str:
    ckpts = list(checkpoint_choices())
    for preferred in ("resnet20", "resnet56", "resnet110"):
        for src in ckpts:
            if src.endswith(f"/{preferred}.safetensors"):
                return src
    return ckpts[0] if ckpts else "random:resnet20"


def choice_label(choice: str) -> str:
    """The picker's label of ``choice`` (the choice itself for one the picker does not offer)."""
    return choices().get(choice, (choice, ""))[0]


def previous_choice() -> str:
    """The model in use before (the student's own upload included), where a pick that cannot be loaded returns;
    the default model when there is none."""
    held = st.session_state.get(_IN_USE_KEY)
    return held if held is not None and held in choices() else default_choice()


def pick(choice: str) -> None:
    """Make ``choice`` the sidebar's model (from a callback, before the picker is drawn); one that cannot be
    loaded leaves the pick on the model in use before and its message for the page."""
    if choice != _UPLOAD:
        try:
            _of(choice)
        except LoadError as exc:
            st.session_state[_FAILED_KEY] = (choice, exc.message(current_language()))
            choice = previous_choice()
    st.session_state[_CHOICE_KEY] = choice


def picker_help() -> str:
    """The picker's help: which pages use the sidebar's model (ui.navigation.SIDEBAR_MODEL_PAGES)."""
    return tr("models.picker_help", pages=", ".join(tr(k) for k in page_titles(SIDEBAR_MODEL_PAGES)))


def model_picker() -> None:
    """Sidebar: choose the model every page uses (the choice is kept across pages); it always shows the model in
    use: a pick that cannot be loaded goes back to the model in use before there too."""
    options = choices()
    stale = st.session_state.pop(_STALE_KEY, None)
    if stale is not None and stale == st.session_state.get(_CHOICE_KEY):  # (a new session: keep_labelled's choice)
        st.session_state[_CHOICE_KEY] = previous_choice()
    keep_labelled(_CHOICE_KEY, {choice: label for choice, (label, _) in options.items()}, default_choice())
    details = options[st.session_state[_CHOICE_KEY]][1]
    st.sidebar.selectbox(tr("models.picker"), list(options), format_func=lambda s: options[s][0], key=_CHOICE_KEY,
                         help=f"{picker_help()}\n\n{details}",
                         on_change=lambda: pick(st.session_state[_CHOICE_KEY]))
    if st.session_state[_CHOICE_KEY] == _UPLOAD:
        st.sidebar.file_uploader(tr("models.upload_label", limit_mb=UPLOAD_LIMIT_MB), type=UPLOAD_TYPES,
                                 key=uploader_key(SIDEBAR_UPLOAD), max_upload_size=UPLOAD_LIMIT_MB,
                                 help=tr("models.upload_help", limit_mb=UPLOAD_LIMIT_MB))
        take_upload(SIDEBAR_UPLOAD, lambda files: load_checkpoint_bytes(files[0][1], files[0][0],
                                                                        max_bytes=UPLOAD_LIMIT_BYTES))


# ---------------------------------------------------------------- uploaded checkpoints

@dataclass(frozen=True)
class Upload:
    """What a session keeps of an upload: the model's key in the process's cache and the files' names, or, for a
    refused one, its message (key and parameters: an exception kept here would keep its frames, the bytes among
    them). Never the bytes."""

    names: str
    key: tuple[str, str] | None = None
    refused: tuple[str, dict] | None = None


@st.cache_resource(show_spinner=False)
def upload_queue() -> WorkQueue:
    """The server's line of uploads being loaded, weighed in bytes ($RESNET_VIZ_UPLOAD_MB at once)."""
    return WorkQueue(upload_bytes())


def uploader_key(base: str) -> str:
    """The key the uploader ``base`` has now: each taken upload gives it a new one, so that the next run draws it
    empty and Streamlit forgets the old widget's files."""
    round_ = st.session_state.get(f"_{base}_round", 0)
    return base if round_ == 0 else f"{base}_{round_}"


def _release(base: str, files: Sequence) -> None:
    """Let go of Streamlit's copies of ``files``: its upload store's, and the widget's (a new key)."""
    ctx = get_script_run_ctx()
    store = getattr(ctx, "uploaded_file_mgr", None)
    remove = getattr(store, "remove_file", None)  # the in-memory store Streamlit uses (chat_input does the same)
    if ctx is not None and remove is not None:
        for f in files:
            remove(session_id=ctx.session_id, file_id=f.file_id)
    st.session_state[f"_{base}_round"] = st.session_state.get(f"_{base}_round", 0) + 1


def _digest(files: Sequence[tuple[str, bytes]]) -> str:
    return hashlib.sha256(b"".join(n.encode() + b"\0" + hashlib.sha256(d).digest() for n, d in files)).hexdigest()


def _load_upload(load: Callable[[list[tuple[str, bytes]]], LoadedModel], files: list[tuple[str, bytes]]
                 ) -> LoadedModel:
    loaded = load(files)
    model_key(loaded)  # the weights' hash, once
    return loaded


def _held_files(base: str) -> list[UploadedFile]:
    """The files the uploader ``base`` holds now (not those the browser has deleted)."""
    value = st.session_state.get(uploader_key(base))
    return [f for f in (value if isinstance(value, list) else [value]) if isinstance(f, UploadedFile)]


def _take(base: str, load: Callable[[list[tuple[str, bytes]]], LoadedModel]) -> Upload:
    """Read the uploader's files, let go of Streamlit's copies, load them (once per content, into the cache)."""
    files = _held_files(base)
    names = ", ".join(f.name for f in files)
    named = [(f.name, f.getvalue()) for f in files]
    _release(base, files)
    key = ("upload", _digest(named))
    try:
        model_cache().get_or_create(key, lambda: _load_upload(load, named))
    except VizError as exc:
        return Upload(names, refused=(exc.key, dict(exc.params)))
    return Upload(names, key=key)


def take_upload(base: str, load: Callable[[list[tuple[str, bytes]]], LoadedModel]) -> None:
    """When the uploader ``base`` holds files: load them in their turn with ``load``, keep the outcome in this
    session (``held_upload``), and run the page again with the uploader empty and the bytes let go."""
    files = _held_files(base)
    if not files:
        return
    size, names = sum(f.size for f in files), ", ".join(f.name for f in files)
    del files
    note = st.empty()

    def tell(ahead: int) -> None:
        note.info(tr("models.upload_queue", n=ahead))

    try:
        with upload_queue().turn(tell, weight=size):
            note.empty()
            with st.spinner(tr("models.upload_loading", names=names)):
                held = _take(base, load)
    finally:
        note.empty()
    st.session_state[f"_{base}_held"] = held
    st.rerun()


def held_upload(base: str) -> LoadedModel | None:
    """The model last uploaded with the uploader ``base`` in this session (None: nothing uploaded); a LoadError for a
    file that was refused, or whose model the cache has dropped since (it is bounded by bytes)."""
    held: Upload | None = st.session_state.get(f"_{base}_held")
    if held is None:
        return None
    if held.refused is not None:
        raise LoadError(held.refused[0], **held.refused[1])
    loaded = model_cache().get(held.key)
    if loaded is None:
        raise LoadError("models.upload_dropped", file=held.names, budget_mb=model_cache_bytes() // 2**20)
    return loaded


def _maxpool_choice(base: str, loaded: LoadedModel) -> LoadedModel:
    """For an upload whose stem's max pool cannot be read from the weights (torchvision's resnet18 adapted to CIFAR):
    the choice under the uploader (removed, the common adaptation, by default), and when "kept" is chosen the same
    weights in the network with the pool, derived once and cached beside the upload's model."""
    fmt = community.FORMATS.get(str(loaded.meta.get("format")))
    held: Upload | None = st.session_state.get(f"_{base}_held")
    if fmt is None or not fmt.maxpool_unknown or held is None or held.key is None:
        return loaded
    choice_key = f"{_MAXPOOL_KEY}:{held.key[1]}"
    st.sidebar.radio(tr("models.maxpool_label"), MAXPOOL_CHOICES, key=choice_key, horizontal=True,
                     format_func=lambda c: tr(f"models.maxpool_{c}"), help=tr("models.maxpool_help"))
    if st.session_state.get(choice_key) != "kept":
        return loaded
    return model_cache().get_or_create((*held.key, "maxpool"), lambda: with_maxpool(loaded))


def held_names(base: str) -> str | None:
    """The names of the files last uploaded with ``base`` (None: none)."""
    held: Upload | None = st.session_state.get(f"_{base}_held")
    return held.names if held is not None else None


def upload_summary(loaded: LoadedModel) -> str:
    """What the sidebar says about an uploaded checkpoint: its architecture, format, claimed accuracy and, for a
    community format, where it comes from and how it is fed."""
    text = tr("models.upload_loaded", model=loaded.name, format=loaded.source)
    if loaded.accuracy is not None:
        claimed = loaded.meta.get("accuracy_source")
        text += " " + (tr("models.upload_claimed", acc=f"{loaded.accuracy:.2f}", field=claimed) if claimed
                       else tr("models.upload_accuracy", acc=f"{loaded.accuracy:.2f}"))
    described = community.describe(loaded, current_language())
    return f"{text} {described}" if described else text


def _held(choice: str) -> LoadedModel | None:
    """The model of a choice this session holds itself (trained here, or uploaded), None for any other; a LoadError
    for an upload whose model the server's cache has let go since (it is bounded by bytes)."""
    trained = trained_shelf().snapshot().get(choice)
    if trained is not None:
        return trained
    up = uploaded_models().get(choice)
    if up is None:
        return None
    loaded = model_cache().get(up.key)
    if loaded is None:
        raise LoadError("models.upload_dropped", file=up.names, budget_mb=model_cache_bytes() // 2**20)
    return loaded


def _of(choice: str) -> LoadedModel:
    """The model of any choice but "upload": held by this session, or loaded (and cached) for the process."""
    held = _held(choice)
    return held if held is not None else load_cached(choice)


def _fallback(reason: str) -> LoadedModel:
    """The model in use before (else the default one, when that one is gone too: an upload the cache let go), said
    on the page and in the sidebar."""
    fallback = previous_choice()
    try:
        loaded = _of(fallback)
    except LoadError:
        fallback = default_choice()
        loaded = _of(fallback)
    label = choice_label(fallback)
    st.caption(tr("models.fallback", model=label))
    st.sidebar.caption(tr("models.in_use", model=label, reason=reason))
    return loaded


def current_model() -> LoadedModel:
    """The picked model, or the default one with a clear message when the pick cannot be loaded."""
    choice = st.session_state.get(_CHOICE_KEY) or default_choice()
    failed = st.session_state.pop(_FAILED_KEY, None)
    if failed is not None:  # the picker already moved to the default model: say why, once
        st.error(failed[1])
        st.caption(tr("models.fallback", model=choice_label(choice)))
    try:
        if choice == _UPLOAD:
            loaded = held_upload(SIDEBAR_UPLOAD)
            if loaded is not None:
                loaded = _maxpool_choice(SIDEBAR_UPLOAD, loaded)
                st.session_state[_IN_USE_KEY] = _keep_upload(SIDEBAR_UPLOAD, loaded)
                st.sidebar.caption(upload_summary(loaded))
                return loaded
            st.info(tr("models.upload_waiting"))
            return _fallback(tr("models.in_use_upload"))
        loaded = _of(choice)
        st.session_state[_IN_USE_KEY] = choice
        described = community.describe(loaded, current_language())  # chenyaofo's downloaded weights
        if described:
            st.sidebar.caption(described)
        return loaded
    except LoadError as exc:
        show_error(exc)
    if choice != _UPLOAD:  # the picker, drawn already, moves to the model in use on the next run
        st.session_state[_STALE_KEY] = choice
    return _fallback(tr("models.in_use_upload" if choice == _UPLOAD else "models.in_use_failed",
                        model=choice_label(choice)))


@st.cache_data(ttl=PROBE_TTL_S, show_spinner=False)
def _download_probe() -> str | None:
    return download_blocker()


def downloads_blocked() -> str | None:
    """Why this server cannot download pretrained weights now ("switched_off", "unreachable"), None when it can;
    the network is asked at most once per PROBE_TTL_S for the whole server."""
    return "switched_off" if offline() else _download_probe()


def _imagenet_nets() -> list[str]:
    """The pretrained ImageNet ResNets, shallowest first."""
    nets = (n for n, s in MODELS.items() if s.pretrained and s.family == "resnet")
    return sorted(nets, key=lambda n: MODELS[n].depth)


def imagenet_choice() -> str | None:
    """A pretrained ImageNet net to switch to: the shallowest ResNet already downloaded, else the shallowest one
    when this server can download it (None: none downloaded and no download possible)."""
    nets = _imagenet_nets()
    cached = [n for n in nets if pretrained_cached(n)]
    if cached or downloads_blocked() is None:
        return f"pretrained:{(cached or nets)[0]}"
    return None


def imagenet_needs() -> str:
    """What the server needs for an ImageNet net when ``imagenet_choice`` has none: the file, where it goes, and why
    it cannot be downloaded here."""
    name = _imagenet_nets()[0]
    path = pretrained_path(name)
    assert path is not None
    return tr(f"models.imagenet_needs_{downloads_blocked()}", model=display_name(name), file=path.name,
              folder=str(path.parent), host=DOWNLOAD_HOST)


def model_scope(loaded: LoadedModel, image_id: str, key: str) -> None:
    """Next to the predictions: the classes and input size the model knows and, for a photo on a CIFAR-10
    model, that it can only answer with those classes, with a button to an ImageNet model."""
    lang = current_language()
    st.caption(tables.model_scope(loaded.classes, loaded.input_size, loaded.spec.dataset, lang))
    if not (image_id.startswith("upload:") and loaded.spec.dataset == "cifar10"):
        return
    st.info(tr("models.photo_note", count=len(loaded.classes), dataset=tables.DATASET_NAMES["cifar10"]))
    choice = imagenet_choice()
    if choice is None:  # the switch could not work: say what it would need instead of offering it
        st.caption(imagenet_needs())
        return
    st.button(tr("models.switch_imagenet", model=display_name(choice.split(":", 1)[1])), key=f"{key}_imagenet",
              on_click=pick, args=(choice,), help=tr("models.switch_imagenet_help"))


def model_label(loaded: LoadedModel) -> str:
    """How a page names a model: its label (the file's or the weights' name), an untrained one in the session's
    language (its label says "random init")."""
    return tr("models.random", model=display_name(loaded.name)) if loaded.source == "random" else loaded.label
