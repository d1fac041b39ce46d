"""Two CPU processes under torchrun (gloo): one valid run, files written by rank 0 only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from resnet_viz.checkpoints.read import load_checkpoint
from tests.train.test_loop import write_tiny_zip

pytestmark = pytest.mark.slow  # minutes of end-to-end work: outside the inner loop

ROOT = Path(__file__).resolve().parents[2]


def test_two_process_gloo_run(tmp_path):
    data = write_tiny_zip(tmp_path / "tiny.zip")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "resnet_viz",
           "train", "--model", "plain20", "--data", str(data), "--epochs", "2", "--batch-size", "16", "--device", "cpu",
           "--threads", "1", "--out", str(out), "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("accuracy") == 1  # only rank 0 reports
    assert sorted(p.name for p in out.iterdir()) == ["plain20.json", "plain20.resume.pt", "plain20.safetensors"]
    side = json.loads((out / "plain20.json").read_text())
    assert side["complete"] and "world size 2" in side["hardware"]
    assert [e["iteration"] for e in side["log"]] == [3, 6]
    # every image of the test split was evaluated once, across the two ranks
    assert side["eval_images"] == 12
    assert all(abs(e["test_error"] * 12 / 100 - round(e["test_error"] * 12 / 100)) < 1e-3 for e in side["log"])
    assert load_checkpoint(out / "plain20.safetensors").name == "plain20"
