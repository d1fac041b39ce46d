"""``python -m resnet_viz`` as a user runs it: real subprocesses, exit codes, no tracebacks."""

import json
import os
import subprocess
import sys

import pytest

from resnet_viz.checkpoints.write import save_checkpoint
from resnet_viz.models.registry import build_model
from tests.conftest import ROOT
from tests.test_loading import malicious_pth
from tests.test_zoo import PARAMS


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RESNET_VIZ_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "resnet_viz", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300)


@pytest.mark.slow  # a new Python process per call
def test_help_lists_subcommands():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("models", "checkpoint"):
        assert command in result.stdout


@pytest.mark.slow  # a new Python process per call
def test_models_json_lists_all_nineteen_with_params():
    result = run_cli("models", "--json")
    assert result.returncode == 0, result.stderr
    table = json.loads(result.stdout)
    assert {name: row["params"] for name, row in table.items()} == PARAMS
    assert table["resnet50"]["pretrained"]["available"] and not table["plain34"]["pretrained"]["available"]
    assert table["resnet56"]["family"] == "resnet" and table["plain56"]["dataset"] == "cifar10"


@pytest.mark.slow  # a new Python process per call
def test_checkpoint_describes_a_file(tmp_path):
    meta = {"model": "resnet20", "shortcut": "A", "dataset": "unit test", "accuracy": 42.0,
            "classes": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"], "mean": [0.5] * 3, "std": [0.25] * 3}
    path = save_checkpoint(build_model("resnet20"), tmp_path / "r20", meta)
    result = run_cli("checkpoint", str(path), "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["model"] == "resnet20" and info["params"] == 269_722 and info["accuracy"] == 42.0
    text = run_cli("checkpoint", str(path))
    assert text.returncode == 0 and "269,722" in text.stdout


@pytest.mark.slow  # a new Python process per call
def test_checkpoint_refuses_malicious_pickle_without_running_it(tmp_path):
    path, marker = malicious_pth(tmp_path)
    result = run_cli("checkpoint", str(path))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "code" in result.stderr
    assert not marker.exists()


@pytest.mark.slow  # a new Python process per call
def test_checkpoint_refuses_missing_and_garbage_files(tmp_path):
    missing = run_cli("checkpoint", str(tmp_path / "nope.pt"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    garbage = tmp_path / "junk.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    result = run_cli("checkpoint", str(garbage))
    assert result.returncode == 2 and "Traceback" not in result.stderr and "not a readable checkpoint" in result.stderr


def test_a_command_loads_only_its_own_module():
    """The GPU machine has torch but no Plotly or Streamlit: `train` must not import another command's needs."""
    code = ("import sys; from resnet_viz.cli import build_parser; build_parser('train'); "
            "print(sorted(m for m in ('plotly', 'streamlit', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert out.stdout.strip() == "[]"
