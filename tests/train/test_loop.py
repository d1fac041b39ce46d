"""Training on tiny image folders written by the tests: loss goes down, checkpoints load, resume is exact."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from resnet_viz.checkpoints.read import load_checkpoint
from resnet_viz.cli import main as cli_main
from resnet_viz.train.loop import TrainConfig, train
from resnet_viz.train.recipes import learning_rate, make_recipe

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ("cat", "dog", "ship")


def write_tiny_zip(path: Path, *, per_class: int = 16, test_per_class: int = 4, size: int = 8, seed: int = 0) -> Path:
    """Three easily separable classes (a dominant colour each) as PNGs in train/<class>/, test/<class>/."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    with zipfile.ZipFile(path, "w") as z:
        for split, n in (("train", per_class), ("test", test_per_class)):
            for c, cls in enumerate(CLASSES):
                for i in range(n):
                    arr = (rng.random((size, size, 3)) * 120).astype(np.uint8)
                    arr[:, :, c] += 130
                    buf = io.BytesIO()
                    Image.fromarray(arr).save(buf, format="PNG")
                    z.writestr(f"{split}/{cls}/{i:03d}.png", buf.getvalue())
    return path


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def tiny_zip(tmp_path) -> Path:
    return write_tiny_zip(tmp_path / "tiny.zip")


def _cfg(data: Path, out: Path, **kw) -> TrainConfig:
    base = dict(model="resnet20", data=str(data), recipe="fast", epochs=4, batch_size=16, lr=0.05, out=str(out),
                device="cpu", progress=False, eval_batch_size=64)
    base.update(kw)
    return TrainConfig(**base)


def test_short_run_lowers_loss_and_writes_a_loadable_checkpoint(tiny_zip, tmp_path):
    result = train(_cfg(tiny_zip, tmp_path / "out", epochs=5), log_fn=lambda m: None)
    log = result.log
    assert [e["epoch"] for e in log] == [1, 2, 3, 4, 5]
    assert log[-1]["train_loss"] < log[0]["train_loss"]
    assert log[-1]["iteration"] == 5 * (48 // 16)
    side = json.loads(result.checkpoint.with_suffix(".json").read_text())
    for key in ("model", "shortcut", "dataset", "classes", "mean", "std", "accuracy", "recipe", "hardware", "seed",
                "date", "wall_time_s", "complete", "log"):
        assert key in side, key
    assert side["complete"] is True and side["model"] == "resnet20" and side["shortcut"] == "A"
    assert side["classes"] == list(CLASSES)
    assert side["recipe"]["name"] == "fast" and side["recipe"]["epochs"] == 5
    assert set(side["log"][0]) == {"epoch", "iteration", "lr", "train_loss", "train_error", "test_loss", "test_error",
                                   "wall_time_s"}
    assert side["accuracy"] == pytest.approx(100 - side["log"][-1]["test_error"], abs=1e-3)
    loaded = load_checkpoint(result.checkpoint)
    assert loaded.name == "resnet20" and loaded.classes == CLASSES
    assert loaded.mean == pytest.approx(tuple(side["mean"]))
    # the statistics are the training split's own, not CIFAR-10's defaults
    from resnet_viz.data import channel_stats, load_split

    mean, std = channel_stats(load_split(tiny_zip, "train")[0])
    assert loaded.mean == pytest.approx(mean, abs=1e-5) and loaded.std == pytest.approx(std, abs=1e-5)


def test_stopped_then_resumed_run_equals_an_uninterrupted_one(tiny_zip, tmp_path):
    full = train(_cfg(tiny_zip, tmp_path / "a", model="plain20", epochs=3), log_fn=lambda m: None)
    part = train(_cfg(tiny_zip, tmp_path / "b", model="plain20", epochs=3, stop_after_epochs=1), log_fn=lambda m: None)
    assert not part.complete and len(part.log) == 1
    assert json.loads((tmp_path / "b" / "plain20.json").read_text())["complete"] is False
    # the resumed run takes its recipe from the saved state, whatever the command line says now
    resumed = train(_cfg(tiny_zip, tmp_path / "b", model="plain20", epochs=99, lr=9.0, resume=True),
                    log_fn=lambda m: None)
    assert resumed.complete
    strip = lambda log: [{k: v for k, v in e.items() if k != "wall_time_s"} for e in log]  # noqa: E731
    assert strip(resumed.log) == strip(full.log)
    a = load_checkpoint(tmp_path / "a" / "plain20.safetensors").model.state_dict()
    b = load_checkpoint(tmp_path / "b" / "plain20.safetensors").model.state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


def test_resume_between_intermediate_log_points_equals_an_uninterrupted_run(tiny_zip, tmp_path):
    kw = dict(model="resnet20", epochs=2, eval_every=2, eval_limit=5)
    full = train(_cfg(tiny_zip, tmp_path / "a", **kw), log_fn=lambda m: None)
    assert [e["iteration"] for e in full.log] == [2, 3, 4, 6]  # every 2 iterations and at each epoch's end
    assert [e["epoch"] for e in full.log] == [pytest.approx(2 / 3, abs=1e-3), 1, pytest.approx(4 / 3, abs=1e-3), 2]
    side = json.loads((tmp_path / "a" / "resnet20.json").read_text())
    assert side["recipe"]["log_eval_images"] == 5 and side["eval_images"] == 12
    # the final accuracy is measured on the whole test split, not on the 5-image subset
    assert side["accuracy"] * 12 / 100 == pytest.approx(round(side["accuracy"] * 12 / 100), abs=1e-3)
    part = train(_cfg(tiny_zip, tmp_path / "b", stop_at_iteration=4, **kw), log_fn=lambda m: None)
    assert part.log[-1]["iteration"] == 4 and not part.complete
    resumed = train(_cfg(tiny_zip, tmp_path / "b", resume=True, **kw), log_fn=lambda m: None)
    strip = lambda log: [{k: v for k, v in e.items() if k != "wall_time_s"} for e in log]  # noqa: E731
    assert strip(resumed.log) == strip(full.log) and resumed.accuracy == full.accuracy


def test_existing_run_is_not_overwritten_by_accident(tiny_zip, tmp_path, capsys):
    args = ["train", "--model", "resnet20", "--data", str(tiny_zip), "--epochs", "1", "--batch-size", "16",
            "--out", str(tmp_path), "--device", "cpu", "--no-progress"]
    assert cli_main(args) == 0
    before = (tmp_path / "resnet20.safetensors").read_bytes()
    assert cli_main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error:") and "--resume" in err[-1]
    assert (tmp_path / "resnet20.safetensors").read_bytes() == before


@pytest.mark.slow
def test_kill_9_mid_run_then_resume_gives_a_complete_valid_run(tmp_path):
    data = write_tiny_zip(tmp_path / "tiny.zip", per_class=32)
    out = tmp_path / "out"
    base = [sys.executable, "-m", "resnet_viz", "train", "--model", "resnet20", "--data", str(data), "--epochs", "40",
            "--batch-size", "16", "--out", str(out), "--device", "cpu", "--no-progress", "--threads", "1"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(base, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    side = out / "resnet20.json"
    try:
        deadline = time.time() + 90
        while time.time() < deadline and proc.poll() is None:
            if side.is_file() and json.loads(side.read_text())["log"][-1]["epoch"] >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    partial = load_checkpoint(out / "resnet20.safetensors")  # whatever moment it died at, the files are whole
    assert partial.meta["complete"] is False
    done = subprocess.run(base + ["--resume", "--stop-after-epochs", "2"], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert "resuming resnet20 from iteration" in done.stderr
    meta = load_checkpoint(out / "resnet20.safetensors").meta
    epochs = [e["epoch"] for e in meta["log"]]
    assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) >= 4
    iterations = [e["iteration"] for e in meta["log"]]
    assert iterations == [6 * e for e in epochs]


def test_recipes_follow_the_paper_and_the_fast_schedule():
    paper = make_recipe("paper", "resnet56")
    assert (paper.batch_size, paper.lr, paper.momentum, paper.weight_decay, paper.iterations) == (128, 0.1, 0.9, 1e-4,
                                                                                                 64000)
    assert learning_rate(paper, 0, 64000) == 0.1
    assert learning_rate(paper, 31999, 64000) == pytest.approx(0.1)
    assert learning_rate(paper, 32000, 64000) == pytest.approx(0.01)
    assert learning_rate(paper, 48000, 64000) == pytest.approx(0.001)
    deep = make_recipe("paper", "resnet110")
    assert learning_rate(deep, 399, 64000) == 0.01 and learning_rate(deep, 400, 64000) == pytest.approx(0.1)
    fast = make_recipe("fast", "plain20", epochs=10)
    lrs = [learning_rate(fast, i, 1000) for i in range(1000)]
    assert max(lrs) == pytest.approx(fast.lr) and lrs[0] < 0.01 and lrs[-1] < 0.001
    assert make_recipe("fast", "resnet20") == make_recipe("fast", "plain20")  # one recipe for plain and residual


def test_bad_numbers_are_one_line_errors(tiny_zip, tmp_path, capsys):
    assert cli_main(["train", "--model", "resnet20", "--data", str(tiny_zip), "--epochs", "0",
                     "--out", str(tmp_path)]) == 2
    assert cli_main(["train", "--model", "resnet20", "--data", str(tmp_path / "nope.zip"), "--epochs", "1",
                     "--out", str(tmp_path)]) == 2
    assert cli_main(["train", "--model", "resnet20", "--data", str(tiny_zip), "--epochs", "1", "--batch-size", "512",
                     "--out", str(tmp_path)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 3 and "epochs" in err[0] and "nope.zip" in err[1] and "512" in err[2]


def test_resume_repairs_a_checkpoint_pair_from_different_points(tiny_zip, tmp_path):
    """A kill between writing the weights and the sidecar leaves a mismatched pair; --resume rewrites both."""
    out = tmp_path / "out"
    train(_cfg(tiny_zip, out, epochs=3, stop_after_epochs=1), log_fn=lambda m: None)
    old_weights = (out / "resnet20.safetensors").read_bytes()
    train(_cfg(tiny_zip, out, epochs=3, resume=True, stop_after_epochs=1), log_fn=lambda m: None)
    (out / "resnet20.safetensors").write_bytes(old_weights)  # epoch 1's weights beside epoch 2's sidecar
    from resnet_viz.errors import LoadError

    with pytest.raises(LoadError):
        load_checkpoint(out / "resnet20.safetensors")
    train(_cfg(tiny_zip, out, epochs=3, resume=True, stop_after_epochs=0), log_fn=lambda m: None)
    assert len(load_checkpoint(out / "resnet20.safetensors").meta["log"]) == 2


def test_a_full_disk_is_one_clear_line(tiny_zip, tmp_path, monkeypatch, capsys):
    from resnet_viz.checkpoints import write as loading

    def full(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(loading, "atomic_write", full)
    monkeypatch.setattr("resnet_viz.train.loop.atomic_write", full)
    assert cli_main(["train", "--model", "resnet20", "--data", str(tiny_zip), "--epochs", "1", "--batch-size", "16",
                     "--out", str(tmp_path), "--device", "cpu", "--no-progress"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "No space left" in err[0] and "--resume" in err[0]


def test_paper_split_holds_out_training_images_for_validation(tiny_zip, tmp_path):
    result = train(_cfg(tiny_zip, tmp_path, recipe="paper", epochs=None, iterations=2, val_split=12,
                          lr=None),
                   log_fn=lambda m: None)
    side = json.loads(result.checkpoint.with_suffix(".json").read_text())
    assert side["evaluated_on"] == "val" and side["eval_images"] == 12 and side["train_images"] == 36
    assert side["recipe"]["name"] == "paper" and side["recipe"]["lr"] == 0.1 and side["recipe"]["iterations"] == 2
    assert side["recipe"]["batch_size"] == 16  # the command line's batch size overrides the recipe's 128


def test_a_run_ending_inside_an_epoch_is_labelled_with_the_fraction_it_did(tiny_zip, tmp_path):
    result = train(_cfg(tiny_zip, tmp_path, epochs=None, iterations=5), log_fn=lambda m: None)
    assert [(e["epoch"], e["iteration"]) for e in result.log] == [(1, 3), (pytest.approx(5 / 3, abs=1e-3), 5)]
    side = json.loads(result.checkpoint.with_suffix(".json").read_text())
    assert side["recipe"]["epochs"] == pytest.approx(5 / 3, abs=1e-3) and side["recipe"]["iterations"] == 5
    assert side["complete"] is True
