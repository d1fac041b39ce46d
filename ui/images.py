"""The shared image input (sample picker + upload) and the cached preprocessing, for every page that
needs a picture.

Uploaded bytes stay in memory: they are decoded once per session (kept in that session's state only) and
never written to disk. The caches below hold only derived images/tensors, keyed by the bytes' sha256.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable

import numpy as np
import streamlit as st
from PIL import Image

from resnet_viz.checkpoints.read import LoadedModel
from resnet_viz.errors import ImageError
from resnet_viz.images import (
    MAX_BYTES,
    MAX_PIXELS,
    UPLOAD_TYPES,
    Preprocessed,
    load_image,
    load_sample,
    preprocess,
    sample_images,
)
from resnet_viz.render.colour import display_scale, png_bytes, zoom
from resnet_viz.render.plots.images import tensor_figure
from resnet_viz.samples import Split, load_test_sample
from ui.common import current_language, picture, show_error, tr

THUMB_SIDE = 96  # pixels: a sample image shown small
PHOTO_KEY = "_photo"  # (sha256, image, file name, uploader key): the session's last photo, shown on every page
LAST_INPUT_KEY = "_image_input_last"  # the uploader drawn last: the same one again means the page was rerun


@st.cache_resource(max_entries=4, show_spinner=False)
def test_sample(limit: int | None = None) -> Split:
    """The first ``limit`` images of the shipped CIFAR-10 test sample (class-balanced, uint8), their labels and
    class names: one copy per server for every page and session (Figure 7, Evaluate, What each layer learns), so
    callers never write into it."""
    return load_test_sample(limit)


@st.cache_data(max_entries=64, show_spinner=False)
def thumbnail(limit: int | None, index: int) -> bytes:
    """Image ``index`` of ``test_sample(limit)`` as a small PNG (Figure 7, Evaluate, the lesion study)."""
    images, _, _ = test_sample(limit)
    picture_hwc = images[index].permute(1, 2, 0).numpy()
    return png_bytes(zoom(picture_hwc, display_scale(picture_hwc.shape[0], picture_hwc.shape[1], target=THUMB_SIDE)))


@st.cache_data(max_entries=64, show_spinner=False)
def _sample(path: str) -> Image.Image:
    return load_sample(path)


def _decoded_upload(key: str, upload) -> tuple[Image.Image, str]:
    """Decode an UploadedFile once per session and widget; raises ImageError for a bad file (also memoised)."""
    memo_key = f"_{key}_decoded"
    held = st.session_state.get(memo_key)
    file_id = getattr(upload, "file_id", None)
    if held is None or file_id is None or held[0] != file_id:
        data = upload.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        try:
            result: Image.Image | ImageError = load_image(data, upload.name)
        except ImageError as exc:
            result = exc
        held = (file_id, digest, result)
        st.session_state[memo_key] = held  # this session only: never shared with other users
    _, digest, result = held
    if isinstance(result, ImageError):
        raise result
    return result, digest


def image_input(key: str, dataset: str) -> tuple[Image.Image, str] | None:
    """A sample picker and an uploader; returns (RGB image, stable id) or None when there is nothing to show.

    The id is ``"sample:<dataset>/<name>"`` or ``"upload:<sha256>"``: use it as a cache key. A bad upload
    shows its message and the sample is used instead. While a photo is in use the picker names it (and cannot be
    changed): a sample name there would say that the sample is shown.
    """
    samples = sample_images(dataset)
    picker = st.empty()
    previous = st.session_state.get(LAST_INPUT_KEY)
    st.session_state[LAST_INPUT_KEY] = key
    upload = st.file_uploader(tr("images.upload"), type=list(UPLOAD_TYPES), key=f"{key}_upload",
                              max_upload_size=MAX_BYTES // 2**20,
                              help=tr("images.upload_help", limit_mb=MAX_BYTES // 2**20,
                                      pixels=f"{MAX_PIXELS / 1e6:.0f}"))
    photo: tuple[Image.Image, str] | None = None
    if upload is not None:
        try:
            image, digest = _decoded_upload(key, upload)
            st.session_state[PHOTO_KEY] = (digest, image, upload.name, key)
            photo = image, f"upload:{digest}"
        except ImageError as exc:
            show_error(exc)
            if samples:
                st.caption(tr("images.fallback"))
    else:
        _empty_uploader(key, removed=previous == key)
        photo = _photo_from_another_page(key)
    if not samples:
        picker.warning(tr("images.no_samples"))
    if photo is not None:
        if samples:
            _photo_in_picker(picker.container(), key, dataset)
        return photo
    if not samples:
        return None
    name = _sample_picker(picker.container(), key, dataset, list(samples))
    return _sample(str(samples[name])), f"sample:{dataset}/{name}"


def _sample_picker(where, key: str, dataset: str, names: list[str]) -> str:
    """The sample picker; one per dataset, so that switching between a CIFAR and an ImageNet model keeps both
    choices, and kept while a photo stands in its place."""
    widget, kept = f"{key}_sample_{dataset}", f"_{key}_sample_{dataset}_kept"
    if widget not in st.session_state and st.session_state.get(kept) in names:
        st.session_state[widget] = st.session_state[kept]
    help_key = "images.samples_cifar10" if dataset == "cifar10" else "images.samples_imagenet"
    name = where.selectbox(tr("images.sample"), names, key=widget, help=tr(help_key))
    st.session_state[kept] = name
    return name


def _photo_in_picker(where, key: str, dataset: str) -> None:
    """The picker's place while a photo is in use: the photo's name, and how to get back to the samples."""
    _, _, filename, owner = st.session_state[PHOTO_KEY]
    way_back = "images.photo_way_back_here" if owner == key else "images.photo_way_back_button"
    # no key: a new photo's name is a new widget, which the browser shows as it is
    where.selectbox(tr("images.sample"), [tr("images.photo_option", name=filename)], disabled=True,
                    help=tr(way_back))


def _empty_uploader(key: str, *, removed: bool) -> None:
    """This page's uploader is empty: the student removed its file (``removed``: the page was rerun), and then the
    photo it had given follows them no further, or they come back from another page (Streamlit empties an uploader
    that is not on screen), and then the photo stays."""
    held = st.session_state.pop(f"_{key}_decoded", None)
    photo = st.session_state.get(PHOTO_KEY)
    if held is not None and removed and photo is not None and photo[3] == key:
        del st.session_state[PHOTO_KEY]


def _photo_from_another_page(key: str) -> tuple[Image.Image, str] | None:
    """The photo last uploaded in this session (on another page, or on this one before the student left it), said on
    the page with a way back to the samples."""
    photo = st.session_state.get(PHOTO_KEY)
    declined = f"_{key}_declined"
    if photo is None or st.session_state.get(declined) == photo[0]:
        return None
    digest, image, filename, _ = photo
    st.caption(tr("images.photo_from_elsewhere", name=filename))
    if st.button(tr("images.use_samples"), key=f"{key}_use_samples"):
        st.session_state[declined] = digest
        st.rerun()
    return image, f"upload:{digest}"


@st.cache_data(max_entries=32, show_spinner=False)
def _preprocess_cached(image_id: str, resize: int, crop: int, mean: tuple[float, ...], std: tuple[float, ...],
                       _image: Image.Image, _loaded: LoadedModel) -> Preprocessed:
    return preprocess(_image, _loaded)


def preprocessed(image: Image.Image, image_id: str, loaded: LoadedModel) -> Preprocessed:
    """``preprocess`` cached by image id and the model's preprocessing numbers (not its weights)."""
    return _preprocess_cached(image_id, int(loaded.resize_size or loaded.spec.resize_size), int(loaded.input_size),
                              tuple(loaded.mean), tuple(loaded.std), image, loaded)


@st.cache_data(max_entries=48, show_spinner=False)
def _preview(image_id: str, step: str, size: tuple[int, int], _image: Image.Image) -> bytes:
    """Encoded once: given a PIL image, st.image would encode it again on every rerun."""
    return png_bytes(_image, max_side=640)


def show_preprocessing(image: Image.Image, image_id: str, pre: Preprocessed, *,
                       lang_key: str = "images.preprocessing") -> None:
    """The steps from the picture to the tensor, with the images in between and the tensor itself."""
    st.markdown(f"**{tr(lang_key)}**")
    cols = st.columns(3)
    for col, (img, key) in zip(cols, ((image, "images.original"), (pre.resized, "images.resized"),
                                       (pre.cropped, "images.cropped"))):
        w, h = img.size
        picture(_preview(image_id, key, img.size, img), caption=tr(key, width=w, height=h), where=col)
    for step_key, params in pre.steps:
        st.markdown(f"- {tr(step_key, **params)}")
    st.plotly_chart(tensor_figure(pre, current_language()), width="stretch")
    st.caption(tr("images.tensor_caption"))


@st.cache_data(max_entries=96, show_spinner=False)
def cached_png(key: Hashable, _make: Callable[[], np.ndarray]) -> bytes:
    """The picture ``_make()`` encoded once per ``key`` (a tuple naming everything it depends on): a rerun for
    another widget neither colours nor encodes it again."""
    return png_bytes(_make())
