"""A student's own network, converted (python -m resnet_viz convert), opens on every page in both languages: the
sidebar lists it, the pages that show the sidebar's model run on it, and no page errs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from resnet_viz.student.code import InProcess
from resnet_viz.student.convert import convert
from resnet_viz.student.demo import RESNET
from resnet_viz.student.examples.my_resnet import MyResNet
from tests.app.test_app import PAGES
from tests.conftest import app_page, assert_no_exception
from ui.models import model_cache

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def converted(tmp_path) -> Path:
    torch.manual_seed(5)
    weights = tmp_path / "my_resnet.pth"
    torch.save(MyResNet().state_dict(), weights)
    _, path = convert(RESNET, weights, Path(os.environ["RESNET_VIZ_CHECKPOINTS"]) / "my_resnet.safetensors",
                      InProcess())
    return path


def _page_text(at) -> str:
    parts = [e.value for kind in ("title", "header", "subheader", "markdown", "caption", "info", "text")
             for e in at.get(kind)]
    return "\n".join(str(p) for p in parts)


@pytest.mark.slow  # every page twice
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_converted_network_opens_on_every_page(converted, lang):
    choice = str(converted)
    for page in PAGES:
        at = app_page(page, lang=lang, model_choice=choice)
        assert_no_exception(at)
        assert not at.error, (page, [e.value for e in at.error])
        assert at.session_state["model_choice"] == choice, page  # still picked: it loaded
        pickers = [s for s in at.sidebar.selectbox if s.key == "model_choice"]
        assert all(p.value == choice for p in pickers), page  # the sidebar lists it, where the page has it
    assert any(key[0] == choice for key in model_cache().keys())  # the pages ran on it
    at = app_page("pages/figure7.py", lang=lang)  # Figure 7 offers every CIFAR checkpoint found, this one too
    at.multiselect(key="figure7_nets").set_value([choice]).run()
    assert_no_exception(at)
    assert not at.error and at.multiselect(key="figure7_nets").value == [choice]
    at = app_page("pages/evaluate.py", lang=lang, model_choice=choice)
    assert "resnet20 (my_resnet.safetensors)" in _page_text(at)  # evaluated, and said so
