"""The attribution page's explanations: Grad-CAM (one forward and one backward pass) cached per model, image,
layer and target, and the slower methods kept per session, whose progress bar is drawn while they run.

Keys are ``model_key(loaded)`` and the image id: weights, preprocessing and picture, never an object's id.
"""

from __future__ import annotations

import streamlit as st

from resnet_viz.checkpoints.identity import model_key
from resnet_viz.checkpoints.read import LoadedModel
from resnet_viz.explain import attribution as A
from resnet_viz.explain.methods import Method
from resnet_viz.images import Preprocessed
from ui.common import session_memo, tr
from ui.work import heavy

MEMO_ENTRIES = 8  # method results kept per session (each a 3 x H x W float array)


@st.cache_data(max_entries=32, show_spinner=False)
def _explain(model: str, image_id: str, layer: str, target: int | None, with_strip: bool,
             _loaded: LoadedModel, _pre: Preprocessed) -> A.Explanation:
    spec = _loaded.spec
    return A.explain(_loaded.model, _pre.tensor, layer=layer, layers=A.target_layers(spec), target=target,
                     strip=A.strip_layers(spec) if with_strip else None, with_saliency=with_strip)


def explanation(loaded: LoadedModel, pre: Preprocessed, image_id: str, layer: str, target: int | None, *,
                with_strip: bool) -> A.Explanation:
    """Predictions and Grad-CAM at ``layer`` (a paper name) for ``target`` (None: the top class), and with
    ``with_strip`` (the page's own explanation, not a comparison's) at the end of every stage and the saliency map
    too, all from one pass."""
    return _explain(model_key(loaded), image_id, layer, target, with_strip, _loaded=loaded, _pre=pre)


def method_result(method: Method, loaded: LoadedModel, pre: Preprocessed, image_id: str, target: int,
                  layer_path: str, params: dict[str, int], slot) -> A.Attribution:
    """A method other than Grad-CAM (``method.run``) for ``target`` with its ``params``; its progress bar is drawn in
    ``slot`` while it runs, and a slow one goes through the server's queue.

    Kept per session, not in st.cache_data: a progress bar drawn from inside a cached function could not be
    replayed on a cache hit. A map that does not depend on the layer is keyed without it: another layer must not
    recompute saliency, IG or occlusion.
    """
    assert method.run is not None, f"{method.name} comes from the explanation's one pass"
    run = method.run
    name = tr(method.label)
    key = (model_key(loaded), image_id, method.name, target, layer_path if method.layer else "",
           tuple(sorted(params.items())))

    def compute() -> A.Attribution:
        bar = slot.progress(0.0, text=tr("attribution.running", method=name))
        report = lambda f: bar.progress(float(f), text=tr("attribution.running", method=name))  # noqa: E731
        kwargs: dict[str, object] = dict(params)
        if method.layer:
            kwargs["layer"] = layer_path
        if method.slow:
            kwargs["progress"] = report
        try:
            return run(loaded.model, pre.tensor, target=target, **kwargs)
        finally:
            bar.empty()

    return session_memo("_attribution_memo", key, (lambda: heavy(key, compute)) if method.slow else compute,
                        entries=MEMO_ENTRIES)
