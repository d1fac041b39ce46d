"""Where is the network looking? Grad-CAM at a chosen layer, the stage strip, Captum's other methods side by
side, and plain against residual. Everything shown is computed in resnet_viz.explain.attribution; the methods on
offer, their settings and first signs are the entries of resnet_viz.explain.methods."""

from __future__ import annotations

from ui.attribution import explanation, method_result
from ui.common import class_name, current_language, keep_labelled, keep_valid, show_error, tr
from ui.images import image_input, preprocessed
from ui.models import current_model, load_cached, model_label, model_scope, weights_source

from dataclasses import replace

import numpy as np
import streamlit as st

from resnet_viz.checkpoints.identity import model_key
from resnet_viz.checkpoints.read import LoadedModel
from resnet_viz.data import shown_dataset
from resnet_viz.errors import VizError
from resnet_viz.explain import attribution as A
from resnet_viz.explain.methods import METHODS
from resnet_viz.images import Preprocessed
from resnet_viz.models.registry import plain_twin
from resnet_viz.render import tables
from resnet_viz.render.colour import (
    COLORMAPS,
    SIGNS,
    cam_heat,
    display_scale,
    heatmap,
    overlay,
    png_bytes,
    raw_picture,
    zoom,
)
from resnet_viz.render.plots.attribution import percent, predictions_figure

KEY = "attribution"
DISPLAY_SIZE = 224  # small (CIFAR) pictures are enlarged to this, pixel by pixel
PAIR_RESNETS = {"cifar10": "resnet20", "imagenet": "resnet34"}  # the ResNet shown against its plain twin
SIDES = {"left": "grad_cam", "right": "saliency"}  # the two compared columns, and the method each shows at first


def _display(rgb: np.ndarray) -> np.ndarray:
    """Enlarge a small picture by whole pixels so that CIFAR's 32 x 32 stays crisp on screen."""
    return zoom(rgb, display_scale(rgb.shape[0], rgb.shape[1], target=DISPLAY_SIZE))


def _method_column(side: str, col, *, loaded: LoadedModel, pre: Preprocessed, image_id: str, exp: A.Explanation,
                   layer_path: str, params: dict[str, dict[str, int]], alpha: float, cmap: str,
                   base: np.ndarray) -> None:
    shown_class = class_name(loaded.classes[exp.target]) if exp.target < len(loaded.classes) else str(exp.target)
    with col:
        labels = {m.name: tr(m.label) for m in METHODS.values()}
        keep_labelled(f"{KEY}_method_{side}", labels, next(iter(METHODS)))
        method = METHODS[st.selectbox(tr("attribution.method"), list(METHODS), key=f"{KEY}_method_{side}",
                                      format_func=labels.__getitem__)]
        name = labels[method.name]
        st.caption(tr(method.help))
        # A map with one sign by definition (Grad-CAM's positive part) shows it, without offering the others.
        sign_key = f"{KEY}_sign_{side}_{method.name}"
        signs = {s: tr(f"attribution.signs.{s}") for s in (SIGNS if method.signed else (method.default_sign,))}
        keep_labelled(sign_key, signs, method.default_sign)
        sign = st.selectbox(tr("attribution.sign"), list(signs), key=sign_key, disabled=not method.signed,
                            help=tr("attribution.sign_help"), format_func=signs.__getitem__)
        if method.run is None:  # Grad-CAM: the map of the pass above
            heat, evaluations, delta = cam_heat(exp.cam.raw, exp.cam.input_size), 1, None
        else:
            try:
                result = (method.from_pass and method.from_pass(exp)) or method_result(
                    method, loaded, pre, image_id, exp.target, layer_path, params.get(method.name, {}), st.empty())
            except Exception as exc:  # any failure of one method leaves the rest of the page working
                reason = (exc.message(current_language()) if isinstance(exc, VizError)
                          else f"{type(exc).__name__}: {exc}")
                st.error(tr("attribution.method_error", method=name, reason=reason))
                return
            heat, evaluations, delta = heatmap(result.values, sign=sign), result.evaluations, result.delta
        st.caption(tr("attribution.evaluations", method=name, count=evaluations))
        if delta is not None:
            st.caption(tr("attribution.ig_delta", delta=f"{delta:.2g}"))
        st.image(_display(overlay(base, heat, alpha=alpha, cmap=cmap)), width="stretch",
                 caption=tr("attribution.result_caption", method=name, name=shown_class))


def _pair_explanation(other: LoadedModel, pre: Preprocessed, image_id: str, *, loaded: LoadedModel,
                      exp: A.Explanation) -> A.Explanation:
    """Grad-CAM of ``other`` at its last stage for the class explained above.

    For the picked model that map is already in the stage strip above: asking again (with the resolved target,
    without the strip) would be another cache key, so another pass.
    """
    layer = A.default_layer(other.spec)
    if model_key(other) == model_key(loaded):
        return replace(exp, cam=next(cam for cam in exp.strip if cam.name == layer))
    target = exp.target if exp.target < len(other.classes) else None
    return explanation(other, pre, image_id, layer, target, with_strip=False)


def _pair_column(source: str, image, image_id: str, loaded: LoadedModel, exp: A.Explanation, alpha: float,
                 cmap: str) -> None:
    try:
        other = load_cached(source)
        pre = preprocessed(image, image_id, other)
        result = _pair_explanation(other, pre, image_id, loaded=loaded, exp=exp)
    except VizError as exc:
        show_error(exc)
        return
    shown_class = class_name(other.classes[result.target])
    st.image(_display(overlay(np.asarray(pre.cropped), cam_heat(result.cam.raw, result.cam.input_size), alpha=alpha,
                              cmap=cmap)),
             width="stretch", caption=tr("attribution.pair_caption", model=model_label(other), name=shown_class,
                                         prob=percent(float(result.probabilities[result.target]))))
    if other.accuracy is not None:
        st.caption(tr("attribution.pair_accuracy", acc=f"{other.accuracy:.1f}",
                      dataset=shown_dataset(other.meta.get("dataset", other.spec.dataset), current_language())))


def _pair_section(image, image_id: str, loaded: LoadedModel, exp: A.Explanation, alpha: float, cmap: str) -> None:
    st.subheader(tr("attribution.pair_header"))
    st.write(tr("attribution.pair_explain"))
    resnet = PAIR_RESNETS.get(loaded.spec.dataset, PAIR_RESNETS["imagenet"])
    plain = plain_twin(resnet)
    sources = [weights_source(name) for name in (plain, resnet) if name is not None]
    if plain is None or not all(sources):
        st.info(tr("attribution.pair_missing", plain=plain, resnet=resnet))
        return
    for col, source in zip(st.columns(2), sources):
        with col:
            _pair_column(str(source), image, image_id, loaded, exp, alpha, cmap)


def _settings_section(loaded: LoadedModel, pre: Preprocessed, image_id: str) -> tuple[str, A.Explanation] | None:
    """Layer and target pickers, the predictions: returns the layer's name and its explanation (None: failed)."""
    st.subheader(tr("attribution.settings_header"))
    layers = list(A.target_layers(loaded.spec))
    keep_valid(f"{KEY}_layer", layers, A.default_layer(loaded.spec))
    layer_name = st.selectbox(tr("attribution.layer"), layers, key=f"{KEY}_layer", help=tr("attribution.layer_help"))
    targets = [-1, *range(len(loaded.classes))]
    keep_valid(f"{KEY}_target", targets, -1)
    chosen = st.session_state[f"{KEY}_target"]
    try:
        exp = explanation(loaded, pre, image_id, layer_name, None if chosen < 0 else int(chosen), with_strip=True)
    except VizError as exc:
        show_error(exc)
        return None
    top = exp.top_k(loaded.classes, 1)[0]
    labels = tables.target_labels(loaded.classes, class_name(top.name), percent(top.probability), current_language())
    keep_labelled(f"{KEY}_target", labels, -1)
    st.selectbox(tr("attribution.target"), targets, key=f"{KEY}_target", help=tr("attribution.target_help"),
                 format_func=labels.__getitem__)
    st.plotly_chart(predictions_figure(exp.top_k(loaded.classes, 5), exp.target, current_language()), width="stretch")
    st.caption(tr("attribution.explained", name=class_name(loaded.classes[exp.target]), index=exp.target,
                  prob=percent(float(exp.probabilities[exp.target]))))
    model_scope(loaded, image_id, KEY)
    return layer_name, exp


def _cam_section(loaded: LoadedModel, base: np.ndarray, exp: A.Explanation, layer_name: str) -> tuple[float, str]:
    """The input, the Grad-CAM overlay and the raw map, with the overlay's settings (returned for the rest)."""
    st.subheader(tr("attribution.cam_header", layer=layer_name))
    st.write(tr("attribution.cam_explain"))
    c_alpha, c_cmap = st.columns(2)
    alpha = c_alpha.slider(tr("attribution.opacity"), 0.0, 1.0, 0.5, 0.05, key=f"{KEY}_alpha")
    cmap = c_cmap.selectbox(tr("attribution.colormap"), COLORMAPS, key=f"{KEY}_cmap",
                            help=tr("attribution.colormap_help"))
    over = _display(overlay(base, cam_heat(exp.cam.raw, exp.cam.input_size), alpha=alpha, cmap=cmap))
    h, w = base.shape[:2]
    c_in, c_over, c_raw = st.columns(3)
    c_in.image(_display(base), width="stretch", caption=tr("attribution.input_caption", width=w, height=h))
    explained = class_name(loaded.classes[exp.target])
    c_over.image(over, width="stretch", caption=tr("attribution.overlay_caption", name=explained))
    rh, rw = exp.cam.size
    c_raw.image(raw_picture(exp.cam.raw, cmap=cmap, scale=display_scale(rh, rw, target=DISPLAY_SIZE)),
                width="stretch", caption=tr("attribution.raw_caption", layer=layer_name, height=rh, width=rw))
    c_raw.caption(tr("attribution.raw_peak", peak=f"{float(exp.cam.raw.max()):.3g}"))
    st.download_button(tr("attribution.download"), png_bytes(over),
                       file_name=f"gradcam_{loaded.spec.name}_{layer_name}.png", mime="image/png",
                       key=f"{KEY}_download", on_click="ignore")
    return alpha, cmap


def _strip_section(base: np.ndarray, exp: A.Explanation, alpha: float, cmap: str) -> None:
    st.subheader(tr("attribution.strip_header"))
    st.write(tr("attribution.strip_explain"))
    for col, cam in zip(st.columns(len(exp.strip)), exp.strip):
        col.image(_display(overlay(base, cam_heat(cam.raw, cam.input_size), alpha=alpha, cmap=cmap)), width="stretch",
                  caption=tr("attribution.strip_caption", stage=cam.name, height=cam.size[0], width=cam.size[1]))


def _method_params(picked: list[str], h: int, w: int) -> dict[str, dict[str, int]]:
    """The settings of the methods picked on either side (method -> name -> value): every setting of the registry
    has its column, in order, and a picked method's are drawn there as sliders."""
    slots = [(method, param) for method in METHODS.values() for param in method.params]
    params: dict[str, dict[str, int]] = {}
    for col, (method, param) in zip(st.columns(len(slots)), slots):
        if method.name not in picked:
            continue
        low, high, default = param.bounds(min(h, w))
        key = f"{KEY}_{param.widget}"
        keep_valid(key, range(low, high + 1, param.step), default)
        value = col.slider(tr(param.label), low, high, step=param.step, key=key,
                           help=tr(param.help) if param.help else None)
        values = params.setdefault(method.name, {})
        values[param.name] = min(value, values[param.at_most]) if param.at_most else value
        if method.passes is not None and method.passes_label and param is method.params[-1]:
            col.caption(tr(method.passes_label, count=method.passes((h, w), values)))
    return params


def _methods_section(loaded: LoadedModel, pre: Preprocessed, image_id: str, exp: A.Explanation, layer_name: str,
                     alpha: float, cmap: str) -> None:
    st.subheader(tr("attribution.methods_header"))
    st.write(tr("attribution.methods_explain"))
    for side, first in SIDES.items():
        keep_valid(f"{KEY}_method_{side}", list(METHODS), first)
    base = np.asarray(pre.cropped)
    params = _method_params([st.session_state[f"{KEY}_method_{s}"] for s in SIDES], *base.shape[:2])
    layer_path = A.target_layers(loaded.spec)[layer_name]
    for side, col in zip(SIDES, st.columns(2)):
        _method_column(side, col, loaded=loaded, pre=pre, image_id=image_id, exp=exp,
                       layer_path=layer_path, params=params, alpha=alpha, cmap=cmap, base=base)


def main() -> None:
    st.title(tr("attribution.title"))
    st.write(tr("attribution.intro"))
    loaded = current_model()
    st.caption(tr("attribution.model", model=model_label(loaded)))
    if loaded.source == "random":
        st.info(tr("attribution.random_weights"))
    col_image, col_settings = st.columns([1, 2])
    with col_image:
        st.subheader(tr("attribution.image_header"))
        picked = image_input(KEY, loaded.spec.dataset)
    if picked is None:
        st.info(tr("attribution.no_image"))
        return
    image, image_id = picked
    pre = preprocessed(image, image_id, loaded)
    with col_settings:
        explained = _settings_section(loaded, pre, image_id)
    if explained is None:
        return
    layer_name, exp = explained
    base = np.asarray(pre.cropped)
    alpha, cmap = _cam_section(loaded, base, exp, layer_name)
    _strip_section(base, exp, alpha, cmap)
    _methods_section(loaded, pre, image_id, exp, layer_name, alpha, cmap)
    _pair_section(image, image_id, loaded, exp, alpha, cmap)


main()
