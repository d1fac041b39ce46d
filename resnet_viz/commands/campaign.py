"""``campaign``: the shipped networks trained to convergence on the CPU, in the background, resumable."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from resnet_viz import cli_args
from resnet_viz.checkpoints.identity import model_fingerprint
from resnet_viz.checkpoints.read import load_checkpoint
from resnet_viz.errors import InputError
from resnet_viz.paper.lesion import study_path
from resnet_viz.train import campaign


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["start", "run", "status", "pause", "continue", "stop", "ship"],
                   help="start (in the background), run (in this terminal), status, pause / continue (SIGSTOP / "
                        "SIGCONT, e.g. while a benchmark runs), stop (the epoch in progress is lost), ship (a finished "
                        "stage's networks into assets/ with everything computed from them)")
    p.add_argument("--stage", default="stage 1", help="the stage `ship` ships (default: stage 1)")
    p.add_argument("--data", help=f"the CIFAR-10 archive or folder (default: {campaign.SHARED_DATA} when it exists)")
    p.add_argument("--threads", type=int, default=1, help="torch threads of the training process (default 1)")
    p.add_argument("--state", default=str(campaign.STATE_DIR), help="full resume states (not committed)")
    p.add_argument("--points", default=str(campaign.POINTS_DIR), help="compact resume points (committed)")
    cli_args.json_output(p, "the status")


def _data(args: argparse.Namespace) -> str:
    if args.data:
        return str(args.data)
    if campaign.SHARED_DATA.exists():
        return str(campaign.SHARED_DATA)
    raise InputError("train.campaign_no_data")


def run(args: argparse.Namespace) -> int:
    folders = campaign.Folders(state=Path(args.state), points=Path(args.points))
    if args.action == "start":
        pid = campaign.start_background(_data(args), folders, args.threads)
        print(f"campaign started (process {pid}, nice {campaign.NICE}, {args.threads} thread(s)); "
              f"log: {folders.log_file}")
    elif args.action == "run":
        campaign.run_foreground(_data(args), folders, args.threads)
    elif args.action == "ship":
        from resnet_viz import ASSETS_DIR

        ship(args.stage, _data(args), folders, ASSETS_DIR)
    elif args.action == "status":
        report = campaign.status(folders)
        if args.json:
            cli_args.print_json(report)
        else:
            print(_status_text(report))
    else:
        pid = campaign.signal_campaign(folders, args.action)
        print(f"campaign (process {pid}): {args.action} sent")
    return 0


def _status_text(report: dict) -> str:
    state = "not running" if report["pid"] is None else (
        f"process {report['pid']}" + (" (paused)" if report["paused"] else ""))
    lines = [f"campaign: {state}"]
    for r in report["runs"]:
        done = "complete" if r.get("complete") else f"{r['epochs_done']:g}/{r['epochs']} epochs"
        err = "" if r.get("test_error") is None else (
            f", test error {r['test_error']:.2f} %, train error {r['train_error']:.2f} %")
        wall = "" if r.get("wall_time_s") is None else f", {r['wall_time_s'] / 3600:.2f} h"
        wall += "" if r.get("cpu_time_s") is None else f" ({r['cpu_time_s'] / 3600:.2f} CPU-h)"
        lines.append(f"  {r['stage']:9} {r['run']:14} {done}{err}{wall}")
    return "\n".join(lines)


def ship(stage: str, data: str, folders: campaign.Folders, assets: Path, say: Callable[[str], None] = print) -> None:
    """Ship the runs of ``stage`` (all complete, each trained under its model's name): run ``ship_commands`` one by
    one (the first failure stops it, the files before it stay), and drop the lesion sweeps of the replaced
    networks (they are named by the weights' hash)."""
    runs = [r for r in campaign.PLAN if r.stage == stage and r.name == r.model]
    if not runs:
        stages = ", ".join(sorted({r.stage for r in campaign.PLAN}))
        raise InputError("train.campaign_no_stage", stage=stage, stages=stages)
    if unfinished := [r.name for r in runs if not campaign.is_complete(r, folders)]:
        raise InputError("train.campaign_unfinished", stage=stage, runs=", ".join(unfinished))
    replaced = []
    for run in runs:
        old = assets / "checkpoints" / f"{run.model}.safetensors"
        if old.is_file():
            replaced.append(study_path(model_fingerprint(load_checkpoint(old).model), assets / "lesion"))
    for command in campaign.ship_commands(runs, data, folders, assets):
        say("python -m resnet_viz " + " ".join(command))
        subprocess.run([sys.executable, "-m", "resnet_viz", *command], check=True)
    for path in replaced:
        path.unlink(missing_ok=True)
