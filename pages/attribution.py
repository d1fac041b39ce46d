"""Where is the network looking? Grad-CAM at a chosen layer, the stage strip, Captum's other methods side by
side, and plain against residual. Everything shown is computed in resnet_viz.explain.attribution."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import streamlit as st

from resnet_viz.checkpoints.read import LoadedModel
from resnet_viz.errors import VizError
from resnet_viz.explain import attribution as A
from resnet_viz.images import Preprocessed
from resnet_viz.models.registry import plain_twin
from resnet_viz.render import tables
from resnet_viz.render.colour import COLORMAPS, SIGNS, display_scale, heatmap, overlay, png_bytes, raw_picture, zoom
from resnet_viz.render.plots.attribution import percent, predictions_figure
from ui.common import class_name as class_name_of
from ui.common import current_language, keep_labelled, keep_valid, show_error, tr
from ui.explanations import explanation, method_result
from ui.images import image_input, preprocessed
from ui.models import current_model, load_cached, model_key, model_scope, weights_source

KEY = "attribution"
DISPLAY_SIZE = 224  # small (CIFAR) pictures are enlarged to this, pixel by pixel
PAIR_RESNETS = {"cifar10": "resnet20", "imagenet": "resnet34"}  # the ResNet shown against its plain twin


def _display(rgb: np.ndarray) -> np.ndarray:
    """Enlarge a small picture by whole pixels so that CIFAR's 32 x 32 stays crisp on screen."""
    return zoom(rgb, display_scale(rgb.shape[0], rgb.shape[1], target=DISPLAY_SIZE))


def _method_column(side: str, col, *, loaded: LoadedModel, pre: Preprocessed, image_id: str, exp: A.Explanation,
                   layer_path: str, params: dict, alpha: float, cmap: str, base: np.ndarray) -> None:
    class_name = class_name_of(loaded.classes[exp.target]) if exp.target < len(loaded.classes) else str(exp.target)
    with col:
        methods = {m: tr(f"attribution.methods.{m}") for m in A.METHODS}
        keep_labelled(f"{KEY}_method_{side}", methods, A.METHODS[0])
        method = st.selectbox(tr("attribution.method"), A.METHODS, key=f"{KEY}_method_{side}",
                              format_func=methods.__getitem__)
        name = tr(f"attribution.methods.{method}")
        st.caption(tr(f"attribution.method_help.{method}"))
        if method == "grad_cam":  # the positive part only, by definition: shown, not offered
            positive = {"positive": tr("attribution.signs.positive")}
            keep_labelled(f"{KEY}_sign_{side}_grad_cam", positive, "positive")
            st.selectbox(tr("attribution.sign"), list(positive), key=f"{KEY}_sign_{side}_grad_cam", disabled=True,
                         help=tr("attribution.sign_help"), format_func=positive.__getitem__)
            heat = exp.cam.heat
            st.caption(tr("attribution.evaluations", method=name, count=1))
        else:
            sign_key = f"{KEY}_sign_{side}_{method}"
            signs = {s: tr(f"attribution.signs.{s}") for s in SIGNS}
            keep_labelled(sign_key, signs, A.DEFAULT_SIGN[method])
            sign = st.selectbox(tr("attribution.sign"), SIGNS, key=sign_key, help=tr("attribution.sign_help"),
                                format_func=signs.__getitem__)
            used = {k: v for k, v in params.items()
                    if (method == "integrated_gradients" and k == "steps")
                    or (method == "occlusion" and k in ("window", "stride"))}
            try:
                result = method_result(method, loaded, pre, image_id, exp.target, layer_path, used, st.empty())
            except Exception as exc:  # any failure of one method leaves the rest of the page working
                reason = (exc.message(current_language()) if isinstance(exc, VizError)
                          else f"{type(exc).__name__}: {exc}")
                st.error(tr("attribution.method_error", method=name, reason=reason))
                return
            heat = heatmap(result.values, sign=sign)
            st.caption(tr("attribution.evaluations", method=name, count=result.evaluations))
            if result.delta is not None:
                st.caption(tr("attribution.ig_delta", delta=f"{result.delta:.2g}"))
        st.image(_display(overlay(base, heat, alpha=alpha, cmap=cmap)), width="stretch",
                 caption=tr("attribution.result_caption", method=name, name=class_name))


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
    class_name = class_name_of(other.classes[result.target])
    st.image(_display(overlay(np.asarray(pre.cropped), result.cam.heat, alpha=alpha, cmap=cmap)),
             width="stretch", caption=tr("attribution.pair_caption", model=other.label, name=class_name,
                                         prob=percent(float(result.probabilities[result.target]))))
    if other.accuracy is not None:
        st.caption(tr("attribution.pair_accuracy", acc=f"{other.accuracy:.1f}",
                      dataset=other.meta.get("dataset", other.spec.dataset)))


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
    labels = tables.target_labels(loaded.classes, class_name_of(top.name), percent(top.probability), current_language())
    keep_labelled(f"{KEY}_target", labels, -1)
    st.selectbox(tr("attribution.target"), targets, key=f"{KEY}_target", help=tr("attribution.target_help"),
                 format_func=labels.__getitem__)
    st.plotly_chart(predictions_figure(exp.top_k(loaded.classes, 5), exp.target, current_language()), width="stretch")
    st.caption(tr("attribution.explained", name=class_name_of(loaded.classes[exp.target]), index=exp.target,
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
    over = _display(overlay(base, exp.cam.heat, alpha=alpha, cmap=cmap))
    h, w = base.shape[:2]
    c_in, c_over, c_raw = st.columns(3)
    c_in.image(_display(base), width="stretch", caption=tr("attribution.input_caption", width=w, height=h))
    explained = class_name_of(loaded.classes[exp.target])
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
        col.image(_display(overlay(base, cam.heat, alpha=alpha, cmap=cmap)), width="stretch",
                  caption=tr("attribution.strip_caption", stage=cam.name, height=cam.size[0], width=cam.size[1]))


def _method_params(methods: list[str], h: int, w: int) -> dict[str, int]:
    """The sliders of the slow methods picked on either side: IG's steps, occlusion's window and stride."""
    size = min(h, w)
    params: dict[str, int] = {}
    c_steps, c_window, c_stride = st.columns(3)
    if "integrated_gradients" in methods:
        params["steps"] = c_steps.slider(tr("attribution.ig_steps"), 4, 64, 16, 4, key=f"{KEY}_ig_steps",
                                         help=tr("attribution.ig_steps_help"))
    if "occlusion" in methods:
        low, high = max(1, size // 16), max(2, size // 2)
        keep_valid(f"{KEY}_occ_window", range(low, high + 1), max(low, size // 8))
        params["window"] = c_window.slider(tr("attribution.occ_window"), low, high, key=f"{KEY}_occ_window")
        # Fixed ranges: a slider whose bounds change is a new widget and would lose its value.
        keep_valid(f"{KEY}_occ_stride", range(1, high + 1), max(low, size // 8))
        stride = c_stride.slider(tr("attribution.occ_stride"), 1, high, key=f"{KEY}_occ_stride")
        params["stride"] = min(stride, params["window"])
        count = A.occlusion_evaluations((h, w), params["window"], params["stride"])
        c_stride.caption(tr("attribution.occ_help", count=count))
    return params


def _methods_section(loaded: LoadedModel, pre: Preprocessed, image_id: str, exp: A.Explanation, layer_name: str,
                     alpha: float, cmap: str) -> None:
    st.subheader(tr("attribution.methods_header"))
    st.write(tr("attribution.methods_explain"))
    keep_valid(f"{KEY}_method_left", A.METHODS, "grad_cam")
    keep_valid(f"{KEY}_method_right", A.METHODS, "saliency")
    base = np.asarray(pre.cropped)
    params = _method_params([st.session_state[f"{KEY}_method_{s}"] for s in ("left", "right")], *base.shape[:2])
    layer_path = A.target_layers(loaded.spec)[layer_name]
    for side, col in zip(("left", "right"), st.columns(2)):
        _method_column(side, col, loaded=loaded, pre=pre, image_id=image_id, exp=exp,
                       layer_path=layer_path, params=params, alpha=alpha, cmap=cmap, base=base)


def main() -> None:
    st.title(tr("attribution.title"))
    st.write(tr("attribution.intro"))
    loaded = current_model()
    st.caption(tr("attribution.model", model=loaded.label))
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
