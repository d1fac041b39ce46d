"""The Evaluate page's data: the checkpoint uploaded on the page (its model in the process's cache, its name in the
session), and a model's evaluation, one forward pass over the shipped CIFAR-10 test sample cached per model and
computed in the server's queue."""

from __future__ import annotations

import streamlit as st

from resnet_viz.checkpoints.identity import model_key
from resnet_viz.checkpoints.read import LoadedModel
from resnet_viz.first_views import logits_tensor
from resnet_viz.samples import TEST_SAMPLE_NAME
from resnet_viz.train import evaluate
from ui.images import test_sample
from ui.models import UPLOAD_LIMIT_BYTES, first_views, held_names, held_upload, take_upload, uploader_key
from ui.work import heavy

KEY = "evaluate"
UPLOAD = f"{KEY}_upload"


@st.cache_data(max_entries=16, show_spinner=False)
def _evaluation(model: str, sample: str, _loaded: LoadedModel) -> evaluate.SampleEvaluation:
    images, labels, classes = test_sample()
    return evaluate.evaluate_sample(_loaded, images, labels, classes)


def sample_evaluation(loaded: LoadedModel) -> evaluate.SampleEvaluation:
    """``loaded`` evaluated on the whole test sample: from its logits shipped with it (a shipped network), else
    cached by its weights, computed in its turn."""
    shipped = first_views(loaded)
    if shipped is not None:
        _, labels, classes = test_sample()
        return evaluate.evaluation_of(logits_tensor(shipped), evaluate.align_labels(labels, classes, loaded.classes),
                                      loaded.classes)
    key = model_key(loaded)
    return heavy((KEY, key), lambda: _evaluation(key, TEST_SAMPLE_NAME, _loaded=loaded))


def upload_key() -> str:
    """The page uploader's key now (a new one after each upload, drawn empty)."""
    return uploader_key(UPLOAD)


def uploaded_checkpoint() -> LoadedModel | None:
    """The checkpoint last uploaded on the page (weights, and a sidecar if any), loaded once per upload; None before
    any; raises VizError for files that make no checkpoint."""
    take_upload(UPLOAD, lambda files: evaluate.load_uploaded(files, max_bytes=UPLOAD_LIMIT_BYTES))
    return held_upload(UPLOAD)


def uploaded_names() -> str | None:
    """The names of the files last uploaded on the page."""
    return held_names(UPLOAD)
