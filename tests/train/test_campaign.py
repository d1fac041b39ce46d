"""The CPU campaign: compact resume points, continuing on a new machine from the point alone, and the background
process."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from resnet_viz.checkpoints.read import load_checkpoint
from resnet_viz.train import campaign
from resnet_viz.train.loop import RESUME_FORMAT
from tests.train.test_loop import write_tiny_zip

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.usefixtures("one_torch_thread")
RUN = campaign.Run("r20", "resnet20", "stage 1", 4)


def _small(cfg):
    return dataclasses.replace(cfg, batch_size=16, lr=0.05, eval_batch_size=64)


def _stop_after(epochs: int):
    return lambda cfg: dataclasses.replace(_small(cfg), stop_after_epochs=epochs)


@pytest.fixture
def tiny(tmp_path) -> tuple[Path, campaign.Folders]:
    return write_tiny_zip(tmp_path / "tiny.zip"), campaign.Folders(tmp_path / "state", tmp_path / "points")


def test_a_point_holds_fp16_weights_the_position_log_rng_and_settings_but_no_momentum(tiny):
    data, folders = tiny
    campaign.run_plan(str(data), folders, plan=(RUN,), say=lambda m: None, config=_stop_after(2))
    full = torch.load(folders.resume_file(RUN), map_location="cpu", weights_only=True)
    point = folders.point(RUN)
    assert {v.dtype for v in load_file(str(point)).values() if v.is_floating_point()} == {torch.float16}
    rebuilt = campaign.resume_state_from_point(point)
    assert rebuilt["format"] == RESUME_FORMAT and "optimizer" not in rebuilt
    assert rebuilt["iteration"] == full["iteration"] == 6
    assert json.loads(rebuilt["log"]) == json.loads(full["log"])
    assert json.loads(rebuilt["config"]) == json.loads(full["config"])
    assert rebuilt["wall_time_s"] == full["wall_time_s"]
    assert torch.equal(rebuilt["rng_cpu"], full["rng_cpu"])
    for name, value in full["model"].items():
        expected = value.half().float() if value.is_floating_point() else value
        assert torch.equal(rebuilt["model"][name], expected), name
    # an ordinary checkpoint pair too: the app and the CLI open it
    loaded = load_checkpoint(point)
    assert loaded.name == "resnet20" and len(loaded.meta["log"]) == 2 and loaded.meta["complete"] is False


def test_a_run_continues_from_its_point_on_a_machine_without_the_state_folder(tiny):
    data, folders = tiny
    campaign.run_plan(str(data), folders, plan=(RUN,), say=lambda m: None, config=_stop_after(2))
    cpu_first = campaign.cpu_seconds(folders.point(RUN))
    assert cpu_first > 0
    shutil.rmtree(folders.state)  # a fresh clone: only the committed points
    said: list[str] = []
    campaign.run_plan(str(data), folders, plan=(RUN,), say=said.append, config=_small)
    assert any("continuing from point" in s for s in said) and any("from iteration 6/12" in s for s in said)
    side = json.loads(folders.point(RUN).with_suffix(".json").read_text())
    assert side["complete"] is True and [e["epoch"] for e in side["log"]] == [1, 2, 3, 4]
    assert side["cpu_time_s"] > cpu_first  # the second process's CPU time added to the first's
    assert side["accuracy"] == pytest.approx(100 - side["log"][-1]["test_error"], abs=1e-3)
    # complete runs are skipped; the status reads the points
    said.clear()
    campaign.run_plan(str(data), folders, plan=(RUN,), say=said.append, config=_small)
    assert said == ["campaign: every run of the plan is complete"]
    report = campaign.status(folders, plan=(RUN,))
    assert report["pid"] is None and report["runs"][0]["complete"] is True
    assert report["runs"][0]["epochs_done"] == 4


def test_a_point_that_is_not_one_is_refused(tmp_path):
    from resnet_viz.errors import InputError

    shutil.copy(ROOT / "assets" / "checkpoints" / "resnet20.safetensors", tmp_path / "x.safetensors")
    shutil.copy(ROOT / "assets" / "checkpoints" / "resnet20.json", tmp_path / "x.json")
    with pytest.raises(InputError, match="not a campaign resume point"):
        campaign.resume_state_from_point(tmp_path / "x.safetensors")


def test_the_plan_is_the_issue_s_order_at_the_fast_recipe():
    assert [(r.name, r.stage, r.epochs) for r in campaign.PLAN] == [
        ("resnet20", "stage 1", 30), ("plain20", "stage 1", 30), ("resnet56", "stage 2", 30),
        ("plain56", "stage 2", 30), ("resnet110", "stage 3", 30), ("resnet20-10ep", "homework", 10)]
    assert campaign.RECIPE == "fast"


def test_status_and_signals_without_a_running_campaign(tmp_path, capsys):
    from resnet_viz.cli import main

    args = ["campaign", "status", "--state", str(tmp_path / "s"), "--points", str(tmp_path / "p")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "not running" in out and "resnet110" in out and "0/30 epochs" in out
    assert main(["campaign", "pause", "--state", str(tmp_path / "s")]) == 2
    assert "No campaign is running" in capsys.readouterr().err


@pytest.mark.slow
def test_the_background_process_pauses_continues_and_stops(tmp_path):
    data = write_tiny_zip(tmp_path / "d.zip", per_class=90, test_per_class=4)  # 270 images: one batch of 256
    state, points = tmp_path / "state", tmp_path / "points"
    cli = [sys.executable, "-m", "resnet_viz", "campaign"]
    where = ["--state", str(state), "--points", str(points)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([*cli, "start", "--data", str(data), *where], check=True, env=env, cwd=tmp_path)
    folders = campaign.Folders(state, points)
    deadline = time.monotonic() + 120
    while not folders.point(campaign.PLAN[0]).exists():  # the first epoch's point
        assert time.monotonic() < deadline, (state / "campaign.log").read_text()
        time.sleep(0.5)
    pid = campaign.running_pid(folders)
    assert pid is not None
    assert os.getpriority(os.PRIO_PROCESS, pid) == campaign.NICE
    subprocess.run([*cli, "pause", *where], check=True, env=env)
    time.sleep(0.5)
    assert campaign.is_paused(pid) and campaign.status(folders)["paused"] is True
    subprocess.run([*cli, "continue", *where], check=True, env=env)
    time.sleep(0.5)
    assert not campaign.is_paused(pid)
    subprocess.run([*cli, "stop", *where], check=True, env=env)
    deadline = time.monotonic() + 30
    while campaign.running_pid(folders) is not None:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert campaign.resume_state_from_point(folders.point(campaign.PLAN[0]))["iteration"] >= 1
    out = subprocess.run([*cli, "status", "--json", *where], check=True, env=env, capture_output=True, text=True)
    assert json.loads(out.stdout)["pid"] is None


def test_a_continuation_depends_only_on_the_point(tiny, tmp_path):
    """Two fresh clones that continue from the same committed point train the same network, bit for bit: the point holds
    everything the rest of the run depends on (weights, position, RNG). What the compact point costs against a run
    never stopped (momentum restarts, fp16 weights) is a measurement, not a test: it moves with the CPU's rounding
    (README, ``python -m benchmarks.campaign_resume``)."""
    data, folders = tiny
    campaign.run_plan(str(data), folders, plan=(RUN,), say=lambda m: None, config=_stop_after(2))
    finals = []
    for machine in ("a", "b"):
        fresh = campaign.Folders(tmp_path / machine / "state", tmp_path / machine / "points")
        shutil.copytree(folders.points, fresh.points)
        campaign.run_plan(str(data), fresh, plan=(RUN,), say=lambda m: None, config=_small)
        finals.append(load_file(str(fresh.checkpoint(RUN))))  # fp32: the point's fp16 could hide a difference
        log = json.loads(fresh.point(RUN).with_suffix(".json").read_text())["log"]
        assert [e["epoch"] for e in log] == [1, 2, 3, 4]
    assert finals[0].keys() == finals[1].keys()
    assert all(torch.equal(finals[0][k], finals[1][k]) for k in finals[0])


def test_shipping_a_stage_exports_its_networks_and_recomputes_what_the_pages_show(tmp_path):
    from resnet_viz.commands.campaign import ship
    from resnet_viz.errors import InputError

    folders = campaign.Folders(tmp_path / "state", tmp_path / "points")
    stage1 = [r for r in campaign.PLAN if r.stage == "stage 1"]
    commands = campaign.ship_commands(stage1, "data.tar.gz", folders, tmp_path / "assets")
    first = [c for c in commands if c[0] == "export"]
    assert [c[1] for c in first] == [str(folders.point(r)) for r in stage1]  # no state folder: the points
    assert [c[0] for c in commands[:6]] == ["export", "responses", "lesion", "landscape", "learns", "first-views"]
    assert commands[5][1:] == [str(tmp_path / "assets" / "checkpoints" / "resnet20.safetensors"), "--out",
                               str(tmp_path / "assets" / "first_views")]
    assert commands[3][-1] == str(tmp_path / "assets" / "landscapes" / "resnet20.npz")
    assert "13" in commands[3] and "128" in commands[3] and "123" in commands[3]
    folders.state.mkdir()
    folders.checkpoint(stage1[0]).write_bytes(b"")  # this machine's fp32 checkpoint is preferred
    assert campaign.ship_commands(stage1[:1], "d", folders, tmp_path)[0][1] == str(folders.checkpoint(stage1[0]))
    with pytest.raises(InputError, match="still training"):
        ship("stage 1", "d", folders, tmp_path / "assets")
    with pytest.raises(InputError, match="no stage"):
        ship("stage 9", "d", folders, tmp_path / "assets")


def test_a_shipped_checkpoint_keeps_no_resume_state(tiny, tmp_path):
    from resnet_viz.train.export import export_half

    data, folders = tiny
    campaign.run_plan(str(data), folders, plan=(RUN,), say=lambda m: None, config=_small)
    export_half(folders.point(RUN), tmp_path / "shipped")
    side = json.loads((tmp_path / "shipped" / "r20.json").read_text())
    assert "resume" not in side and side["cpu_time_s"] > 0 and side["complete"] is True
