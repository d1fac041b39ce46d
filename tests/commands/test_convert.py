"""``convert`` as a student runs it: their file and their weights in, a checkpoint the app lists out (in
./checkpoints by default), or one line saying why and nothing written."""

from __future__ import annotations

import pytest
import torch

from resnet_viz.checkpoints.read import load_checkpoint
from resnet_viz.student.examples.my_resnet import MyResNet
from tests.conftest import ROOT
from tests.test_cli import run_cli

pytestmark = pytest.mark.slow  # a new Python process per call, and a worker process in it


def test_convert_writes_into_checkpoints_and_the_checkpoint_command_reads_it(tmp_path):
    (tmp_path / "my_resnet.py").write_text((ROOT / "resnet_viz/student/examples/my_resnet.py").read_text())
    torch.save(MyResNet().state_dict(), tmp_path / "my_resnet.pth")
    result = run_cli("convert", "my_resnet.py:MyResNet", "my_resnet.pth", "--mean", "0.5", "0.5", "0.5", cwd=tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert "Wrote checkpoints/my_resnet.safetensors and checkpoints/my_resnet.json." in result.stdout
    loaded = load_checkpoint(tmp_path / "checkpoints" / "my_resnet.safetensors")
    assert (loaded.name, loaded.mean) == ("resnet20", (0.5, 0.5, 0.5))
    described = run_cli("checkpoint", "checkpoints/my_resnet.safetensors", cwd=tmp_path)
    assert "resnet20 (shortcut option A)" in described.stdout


def test_convert_refuses_weights_of_another_network_in_one_line(tmp_path):
    (tmp_path / "my_resnet.py").write_text((ROOT / "resnet_viz/student/examples/my_resnet.py").read_text())
    torch.save(MyResNet(n=5).state_dict(), tmp_path / "resnet32.pth")
    result = run_cli("convert", "my_resnet.py:MyResNet", "resnet32.pth", "--lang", "zh", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: 权重与 MyResNet 不匹配")
    assert not (tmp_path / "checkpoints").exists()
