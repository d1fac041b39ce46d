"""The gradient-flow page's measurements: plain and residual nets at initialisation, and trained checkpoints, each
cached and computed in the server's queue; the page's first view is shipped (``resnet_viz.first_views``) and read
without the queue.

``at_init`` is looked up on ``resnet_viz.paper.gradient_flow`` at each call, so a test can replace it there.
"""

from __future__ import annotations

from functools import partial

import streamlit as st

from resnet_viz import first_views as shipped
from resnet_viz.checkpoints.find import folders_fingerprint, user_checkpoint_dir
from resnet_viz.paper import gradient_flow
from resnet_viz.paper.gradient_flow import BATCH_SIZE, DEFAULT_DEPTH, DEFAULT_INIT, SEED, GradientFlow
from resnet_viz.samples import load_npz
from ui.models import first_views, load_cached, paper_checkpoints
from ui.work import heavy

DEFAULT_TRAINED = ("plain56", "resnet56")  # the same depth with and without shortcuts; the others are one click away


@st.cache_data(max_entries=32, show_spinner=False)
def _at_init(depth: int, residual: bool, batch_norm: bool, init: str, seed: int) -> GradientFlow:
    images, labels, _ = load_npz(limit=BATCH_SIZE)
    return gradient_flow.at_init(depth, images, labels, residual=residual, seed=seed, batch_norm=batch_norm,
                                 init=init)


@st.cache_data(max_entries=16, show_spinner=False)
def _trained(path: str, fingerprint_key: tuple) -> GradientFlow:
    images, labels, _ = load_npz(limit=BATCH_SIZE)
    return gradient_flow.of_checkpoint(load_cached(path), images, labels)


@st.cache_data(max_entries=32, show_spinner=False)
def _shipped_at_init(depth: int, residual: bool, batch_norm: bool, init: str, seed: int) -> GradientFlow | None:
    return shipped.shipped_at_init(depth, residual, batch_norm, init, seed)


def _shipped_trained(path: str) -> GradientFlow | None:
    views = first_views(load_cached(path))
    return views.gradient_flow if views is not None else None


def at_init(depth: int, residual: bool, batch_norm: bool, init: str) -> GradientFlow:
    """Plain-``depth`` or ResNet-``depth``, freshly initialised (seed ``SEED``), on one batch."""
    key = ("gradient_flow", depth, residual, batch_norm, init, SEED)
    return (_shipped_at_init(depth, residual, batch_norm, init, SEED)
            or heavy(key, partial(_at_init, depth, residual, batch_norm, init, SEED)))


def trained(path: str, fingerprint_key: tuple) -> GradientFlow:
    """The same measurements on the checkpoint at ``path`` (``fingerprint_key``: the folders' state)."""
    return _shipped_trained(path) or heavy(("gradient_flow", path, fingerprint_key),
                                           partial(_trained, path, fingerprint_key))


def warm_up() -> None:
    """The page's first view, the same for every student (ui/warmup.py runs it once per server): plain and residual
    nets at the default depth and initialisation, and the default trained networks; read where shipped."""
    for residual in (False, True):
        if _shipped_at_init(DEFAULT_DEPTH, residual, True, DEFAULT_INIT, SEED) is None:
            _at_init(DEFAULT_DEPTH, residual, True, DEFAULT_INIT, SEED)
    fp = folders_fingerprint()
    for source in paper_checkpoints(fp, str(user_checkpoint_dir())):
        if source.model in DEFAULT_TRAINED and _shipped_trained(source.path) is None:
            _trained(source.path, fp)
