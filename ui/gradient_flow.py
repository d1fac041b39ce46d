"""The gradient-flow page's measurements: plain and residual nets at initialisation, and trained checkpoints, each
cached and computed in the server's queue.

``at_init`` is looked up on ``resnet_viz.paper.gradient_flow`` at each call, so a test can replace it there.
"""

from __future__ import annotations

from functools import partial

import streamlit as st

from resnet_viz.checkpoints.find import folders_fingerprint, user_checkpoint_dir
from resnet_viz.paper import gradient_flow
from resnet_viz.paper.gradient_flow import BATCH_SIZE, GradientFlow
from resnet_viz.samples import load_npz
from ui.models import load_cached, paper_checkpoints
from ui.work import heavy

SEED = 0
DEFAULT_DEPTH, DEFAULT_INIT = 56, "he"  # with batch norm: the paper's setting
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


def at_init(depth: int, residual: bool, batch_norm: bool, init: str) -> GradientFlow:
    """Plain-``depth`` or ResNet-``depth``, freshly initialised (seed ``SEED``), on one batch."""
    key = ("gradient_flow", depth, residual, batch_norm, init, SEED)
    return heavy(key, partial(_at_init, depth, residual, batch_norm, init, SEED))


def trained(path: str, fingerprint_key: tuple) -> GradientFlow:
    """The same measurements on the checkpoint at ``path`` (``fingerprint_key``: the folders' state)."""
    return heavy(("gradient_flow", path, fingerprint_key), partial(_trained, path, fingerprint_key))


def warm_up() -> None:
    """The page's first view, the same for every student (ui/warmup.py runs it once per server): plain and residual
    nets at the default depth and initialisation, and the default trained networks."""
    for residual in (False, True):
        _at_init(DEFAULT_DEPTH, residual, True, DEFAULT_INIT, SEED)
    fp = folders_fingerprint()
    for source in paper_checkpoints(fp, str(user_checkpoint_dir())):
        if source.model in DEFAULT_TRAINED:
            _trained(source.path, fp)
