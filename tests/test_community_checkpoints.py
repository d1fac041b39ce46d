"""akamaster/pytorch_resnet_cifar10's released files, in the exact format they were saved in (PyTorch 0.3/0.4),
through every door: the CLI's checkpoint, evaluate, features and responses commands and the sidebar upload."""

from __future__ import annotations

import json

import pytest
import torch

from resnet_viz.cli import main as cli_main
from resnet_viz.i18n import t
from resnet_viz.models.registry import build_model
from tests.corpus import akamaster_file_bytes
from tests.test_train import write_tiny_zip

SAMPLE_PHOTO = "assets/samples/cifar10/cat_1.png"


@pytest.fixture
def released(tmp_path):
    torch.manual_seed(3)
    path = tmp_path / "resnet20-12fca82f.th"
    path.write_bytes(akamaster_file_bytes(build_model("resnet20").eval(), best_prec1=91.73))
    return path


def test_checkpoint_command(released, capsys):
    assert cli_main(["checkpoint", str(released), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "akamaster" and info["model"] == "resnet20" and info["accuracy"] == 91.73
    assert cli_main(["checkpoint", str(released)]) == 0
    assert "91.73 (the file's own claim: best_prec1)" in capsys.readouterr().out


def test_evaluate_command(released, tmp_path, capsys):
    data = write_tiny_zip(tmp_path / "tiny.zip", per_class=1, test_per_class=4, size=32)
    assert cli_main(["evaluate", str(released), "--data", str(data), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total"] == 12 and 0 <= out["accuracy"] <= 100


def test_features_and_responses_commands(released, capsys):
    assert cli_main(["features", SAMPLE_PHOTO, "--model", str(released), "--json"]) == 0
    features = json.loads(capsys.readouterr().out)
    assert len(features["ratios"]) == 9 and features["top5"]
    assert cli_main(["responses", str(released), "--limit", "20", "--json"]) == 0
    assert capsys.readouterr().out.strip()


def _picker_script():
    import streamlit as st

    from ui.models import current_model, model_picker

    model_picker()
    loaded = current_model()
    st.text(f"loaded:{loaded.name}:{loaded.source}")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_sidebar_upload_says_the_accuracy_is_the_files_claim(released, lang):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_picker_script, default_timeout=60)
    at.session_state["lang"] = lang
    at.session_state["model_source"] = "upload"
    at.run()
    at.file_uploader(key="model_upload").set_value((released.name, released.read_bytes(), "application/octet-stream"))
    at.run()
    assert not at.exception and not at.error
    assert at.text[0].value == "loaded:resnet20:akamaster"
    captions = [c.value for c in at.sidebar.caption]
    assert any(t("models.upload_claimed", lang, acc="91.73") in c for c in captions), captions
