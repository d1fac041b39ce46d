"""Where is the network looking? Grad-CAM at a chosen layer, the stage strip, Captum's other methods side by
side, and plain against residual. Everything shown is computed in resnet_viz.explain.attribution."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from resnet_viz.checkpoints.find import find_checkpoints
from resnet_viz.checkpoints.pretrained import pretrained_cached
from resnet_viz.checkpoints.read import LoadedModel
from resnet_viz.errors import VizError
from resnet_viz.explain import attribution as A
from resnet_viz.images import Preprocessed, display_scale, zoom
from ui.common import current_language, show_error, tr
from ui.images import image_input, preprocessed
from ui.models import current_model, load_cached

KEY = "attribution"
DISPLAY_SIZE = 224  # small (CIFAR) pictures are enlarged to this, pixel by pixel
PAIRS = {"cifar10": ("plain20", "resnet20"), "imagenet": ("plain34", "resnet34")}
MEMO_ENTRIES = 8  # method results kept per session (each a 3 x H x W float array)


def _model_key(loaded: LoadedModel) -> str:
    """Tells cached models apart: the same file name can be uploaded with other weights."""
    return "|".join(str(v) for v in (loaded.label, loaded.meta.get("path", ""), loaded.meta.get("weights_sha256", ""),
                                     id(loaded.model)))


@st.cache_data(max_entries=32, show_spinner=False)
def _explain(model_key: str, image_id: str, layer: str, target: int | None, with_strip: bool,
             _loaded: LoadedModel, _pre: Preprocessed) -> A.Explanation:
    spec = _loaded.spec
    return A.explain(_loaded.model, _pre.tensor, layer=layer, layers=A.target_layers(spec), target=target,
                     strip=A.strip_layers(spec) if with_strip else None)


def _memo(key: tuple, compute: Callable[[], A.Attribution]) -> A.Attribution:
    """A small per-session cache for the slow methods, so that their progress bar can be shown.

    (A progress bar drawn from inside an st.cache_data function could not be replayed on a cache hit.)
    """
    memo = st.session_state.setdefault("_attr_memo", OrderedDict())
    if key in memo:
        memo.move_to_end(key)
        return memo[key]
    value = compute()
    memo[key] = value
    while len(memo) > MEMO_ENTRIES:
        memo.popitem(last=False)
    return value


def _display(rgb: np.ndarray) -> np.ndarray:
    """Enlarge a small picture by whole pixels so that CIFAR's 32 x 32 stays crisp on screen."""
    return zoom(rgb, display_scale(*rgb.shape[:2], target=DISPLAY_SIZE))


def _pct(p: float) -> str:
    return "< 0.1%" if 0 < p < 0.0005 else f"{100 * p:.1f}%"


def _keep_valid(key: str, options: list, default) -> None:
    if st.session_state.get(key) not in options:
        st.session_state[key] = default


def _predictions_chart(exp: A.Explanation, classes) -> go.Figure:
    top = exp.top_k(classes, 5)[::-1]
    fig = go.Figure(go.Bar(x=[p.probability for p in top], y=[f"{p.name} ({p.index})" for p in top],
                           orientation="h", text=[_pct(p.probability) for p in top], textposition="auto",
                           marker_color=["#d62728" if p.index == exp.target else "#1f77b4" for p in top],
                           hovertemplate="%{y}: %{x:.3f}<extra></extra>"))
    fig.update_layout(title=tr("attribution.predictions_title"), height=260, margin=dict(l=0, r=0, t=40, b=0),
                      xaxis=dict(title=tr("attribution.probability_axis"), range=[0, 1]),
                      yaxis=dict(title=tr("attribution.class_axis")))
    return fig


def _run_method(method: str, loaded: LoadedModel, pre: Preprocessed, image_id: str, target: int, layer_path: str,
                params: dict, slot) -> A.Attribution:
    name = tr(f"attribution.methods.{method}")
    key = (_model_key(loaded), image_id, method, target, layer_path, tuple(sorted(params.items())))

    def compute() -> A.Attribution:
        bar = slot.progress(0.0, text=tr("attribution.running", method=name))
        report = lambda f: bar.progress(float(f), text=tr("attribution.running", method=name))  # noqa: E731
        try:
            model, x = loaded.model, pre.tensor
            if method == "guided_grad_cam":
                return A.guided_grad_cam(model, x, layer_path, target=target)
            if method == "saliency":
                return A.saliency(model, x, target=target)
            if method == "integrated_gradients":
                return A.integrated_gradients(model, x, target=target, steps=params["steps"], progress=report)
            return A.occlusion(model, x, target=target, window=params["window"], stride=params["stride"],
                               progress=report)
        finally:
            bar.empty()

    return _memo(key, compute)


def _method_column(side: str, col, *, loaded: LoadedModel, pre: Preprocessed, image_id: str, exp: A.Explanation,
                   layer_path: str, params: dict, alpha: float, cmap: str, base: np.ndarray) -> None:
    class_name = loaded.classes[exp.target] if exp.target < len(loaded.classes) else str(exp.target)
    with col:
        method = st.selectbox(tr("attribution.method"), A.METHODS, key=f"{KEY}_method_{side}",
                              format_func=lambda m: tr(f"attribution.methods.{m}"))
        name = tr(f"attribution.methods.{method}")
        st.caption(tr(f"attribution.method_help.{method}"))
        if method == "grad_cam":  # the positive part only, by definition: shown, not offered
            st.selectbox(tr("attribution.sign"), ("positive",), key=f"{KEY}_sign_{side}_grad_cam", disabled=True,
                         help=tr("attribution.sign_help"), format_func=lambda s: tr(f"attribution.signs.{s}"))
            heat = exp.cam.heat
            st.caption(tr("attribution.evaluations", method=name, count=1))
        else:
            sign_key = f"{KEY}_sign_{side}_{method}"
            _keep_valid(sign_key, list(A.SIGNS), A.DEFAULT_SIGN[method])
            sign = st.selectbox(tr("attribution.sign"), A.SIGNS, key=sign_key, help=tr("attribution.sign_help"),
                                format_func=lambda s: tr(f"attribution.signs.{s}"))
            used = {k: v for k, v in params.items()
                    if (method == "integrated_gradients" and k == "steps")
                    or (method == "occlusion" and k in ("window", "stride"))}
            try:
                result = _run_method(method, loaded, pre, image_id, exp.target, layer_path, used, st.empty())
            except Exception as exc:  # any failure of one method leaves the rest of the page working
                reason = (exc.message(current_language()) if isinstance(exc, VizError)
                          else f"{type(exc).__name__}: {exc}")
                st.error(tr("attribution.method_error", method=name, reason=reason))
                return
            heat = A.heatmap(result.values, sign=sign)
            st.caption(tr("attribution.evaluations", method=name, count=result.evaluations))
            if result.delta is not None:
                st.caption(tr("attribution.ig_delta", delta=f"{result.delta:.2g}"))
        st.image(_display(A.overlay(base, heat, alpha=alpha, colormap=cmap)), width="stretch",
                 caption=tr("attribution.result_caption", method=name, name=class_name))


def _pair_source(name: str) -> str | None:
    for info in find_checkpoints():  # shipped checkpoints first
        if info.model == name:
            return str(info.path)
    return f"pretrained:{name}" if pretrained_cached(name) else None


def _pair_section(image, image_id: str, loaded: LoadedModel, exp: A.Explanation, alpha: float, cmap: str) -> None:
    st.subheader(tr("attribution.pair_header"))
    st.write(tr("attribution.pair_explain"))
    plain, resnet = PAIRS[loaded.spec.dataset] if loaded.spec.dataset in PAIRS else PAIRS["imagenet"]
    sources = {name: _pair_source(name) for name in (plain, resnet)}
    if not all(sources.values()):
        st.info(tr("attribution.pair_missing", plain=plain, resnet=resnet))
        return
    for col, (name, source) in zip(st.columns(2), sources.items()):
        with col:
            try:
                other = load_cached(source)
                pre = preprocessed(image, image_id, other)
                target = exp.target if exp.target < len(other.classes) else None
                result = _explain(_model_key(other), image_id, A.default_layer(other.spec), target, False,
                                  _loaded=other, _pre=pre)
            except VizError as exc:
                show_error(exc)
                continue
            class_name = other.classes[result.target]
            st.image(_display(A.overlay(np.asarray(pre.cropped), result.cam.heat, alpha=alpha, colormap=cmap)),
                     width="stretch", caption=tr("attribution.pair_caption", model=other.label, name=class_name,
                                                 prob=_pct(float(result.probabilities[result.target]))))
            if other.accuracy is not None:
                st.caption(tr("attribution.pair_accuracy", acc=f"{other.accuracy:.1f}",
                              dataset=other.meta.get("dataset", other.spec.dataset)))


def main() -> None:
    st.title(tr("attribution.title"))
    st.write(tr("attribution.intro"))
    loaded = current_model()
    spec = loaded.spec
    st.caption(tr("attribution.model", model=loaded.label))
    if loaded.source == "random":
        st.info(tr("attribution.random_weights"))

    col_image, col_settings = st.columns([1, 2])
    with col_image:
        st.subheader(tr("attribution.image_header"))
        picked = image_input(KEY, spec.dataset)
    if picked is None:
        st.info(tr("attribution.no_image"))
        return
    image, image_id = picked
    pre = preprocessed(image, image_id, loaded)

    layers = A.target_layers(spec)
    with col_settings:
        st.subheader(tr("attribution.settings_header"))
        _keep_valid(f"{KEY}_layer", list(layers), A.default_layer(spec))
        layer_name = st.selectbox(tr("attribution.layer"), list(layers), key=f"{KEY}_layer", help=tr("attribution.layer_help"))
        targets = [-1, *range(len(loaded.classes))]
        _keep_valid(f"{KEY}_target", targets, -1)
        chosen = st.session_state[f"{KEY}_target"]
        try:
            exp = _explain(_model_key(loaded), image_id, layer_name, None if chosen < 0 else int(chosen), True,
                           _loaded=loaded, _pre=pre)
        except VizError as exc:
            show_error(exc)
            return
        top = exp.top_k(loaded.classes, 1)[0]
        st.selectbox(tr("attribution.target"), targets, key=f"{KEY}_target", help=tr("attribution.target_help"),
                     format_func=lambda i: tr("attribution.target_top", name=top.name, prob=_pct(top.probability)) if i < 0
                     else tr("attribution.target_option", index=i, name=loaded.classes[i]))
        class_name = loaded.classes[exp.target]
        st.plotly_chart(_predictions_chart(exp, loaded.classes), width="stretch")
        st.caption(tr("attribution.explained", name=class_name, index=exp.target,
                      prob=_pct(float(exp.probabilities[exp.target]))))

    st.subheader(tr("attribution.cam_header", layer=layer_name))
    st.write(tr("attribution.cam_explain"))
    c_alpha, c_cmap = st.columns(2)
    alpha = c_alpha.slider(tr("attribution.opacity"), 0.0, 1.0, 0.5, 0.05, key=f"{KEY}_alpha")
    cmap = c_cmap.selectbox(tr("attribution.colormap"), A.COLORMAPS, key=f"{KEY}_cmap", help=tr("attribution.colormap_help"))
    base = np.asarray(pre.cropped)
    over = _display(A.overlay(base, exp.cam.heat, alpha=alpha, colormap=cmap))
    h, w = base.shape[:2]
    c_in, c_over, c_raw = st.columns(3)
    c_in.image(_display(base), width="stretch", caption=tr("attribution.input_caption", width=w, height=h))
    c_over.image(over, width="stretch", caption=tr("attribution.overlay_caption", name=class_name))
    rh, rw = exp.cam.size
    c_raw.image(A.raw_picture(exp.cam.raw, colormap=cmap, scale=display_scale(rh, rw, target=DISPLAY_SIZE)),
                width="stretch", caption=tr("attribution.raw_caption", layer=layer_name, height=rh, width=rw))
    c_raw.caption(tr("attribution.raw_peak", peak=f"{float(exp.cam.raw.max()):.3g}"))
    st.download_button(tr("attribution.download"), A.png_bytes(over), file_name=f"gradcam_{spec.name}_{layer_name}.png",
                       mime="image/png", key=f"{KEY}_download", on_click="ignore")

    st.subheader(tr("attribution.strip_header"))
    st.write(tr("attribution.strip_explain"))
    for col, cam in zip(st.columns(len(exp.strip)), exp.strip):
        col.image(_display(A.overlay(base, cam.heat, alpha=alpha, colormap=cmap)), width="stretch",
                  caption=tr("attribution.strip_caption", stage=cam.name, height=cam.size[0], width=cam.size[1]))

    st.subheader(tr("attribution.methods_header"))
    st.write(tr("attribution.methods_explain"))
    _keep_valid(f"{KEY}_method_left", list(A.METHODS), "grad_cam")
    _keep_valid(f"{KEY}_method_right", list(A.METHODS), "saliency")
    side_methods = [st.session_state[f"{KEY}_method_{s}"] for s in ("left", "right")]
    size = min(h, w)
    params: dict[str, int] = {}
    c_steps, c_window, c_stride = st.columns(3)
    if "integrated_gradients" in side_methods:
        params["steps"] = c_steps.slider(tr("attribution.ig_steps"), 4, 64, 16, 4, key=f"{KEY}_ig_steps",
                                         help=tr("attribution.ig_steps_help"))
    if "occlusion" in side_methods:
        low, high = max(1, size // 16), max(2, size // 2)
        _keep_valid(f"{KEY}_occ_window", list(range(low, high + 1)), max(low, size // 8))
        params["window"] = c_window.slider(tr("attribution.occ_window"), low, high, key=f"{KEY}_occ_window")
        # Fixed ranges: a slider whose bounds change is a new widget and would lose its value.
        _keep_valid(f"{KEY}_occ_stride", list(range(1, high + 1)), max(low, size // 8))
        stride = c_stride.slider(tr("attribution.occ_stride"), 1, high, key=f"{KEY}_occ_stride")
        params["stride"] = min(stride, params["window"])
        count = A.occlusion_evaluations((h, w), params["window"], params["stride"])
        c_stride.caption(tr("attribution.occ_help", count=count))
    layer_path = layers[layer_name]
    for side, col in zip(("left", "right"), st.columns(2)):
        _method_column(side, col, loaded=loaded, pre=pre, image_id=image_id, exp=exp,
                       layer_path=layer_path, params=params, alpha=alpha, cmap=cmap, base=base)

    _pair_section(image, image_id, loaded, exp, alpha, cmap)


main()
