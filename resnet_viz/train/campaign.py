"""The CPU campaign: the shipped networks trained to convergence in the background, a run at a time, resumable.

The plan is a fixed list of runs of the ``train`` loop with the ``fast`` recipe (stage 1: ResNet-20 and plain-20;
stage 2: ResNet-56 and plain-56; stage 3: ResNet-110; then the homework's 10-epoch ResNet-20). Each run writes its
full resume state (weights, optimizer, RNG, log) under the state folder at every epoch, so a process killed at any
moment loses at most the epoch in progress. After every epoch the campaign also writes a **compact resume point**
into the points folder, the one committed to git: the weights in fp16, the iteration, the log, the RNG state and the
run's settings, as an ordinary checkpoint pair (``<run>.safetensors`` + ``.json``, readable by the app). Momentum is
not kept: a run continued from a point starts its momentum afresh. On a new machine (no state folder) each run
continues from its point.

The process lowers its own priority (``nice``) and uses one torch thread by default; ``pause`` / ``continue`` send
SIGSTOP / SIGCONT to it, so that no timing is taken while it trains.
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from resnet_viz.checkpoints.read import read_sidecar
from resnet_viz.checkpoints.write import atomic_write, save_checkpoint
from resnet_viz.errors import InputError
from resnet_viz.train.loop import RESUME_FORMAT, TrainConfig, train

RECIPE = "fast"
SEED = 0
NICE = 19
STATE_DIR = Path("runs") / "campaign"  # full resume states and fp32 checkpoints; ignored by git
POINTS_DIR = Path("campaign")  # the compact resume points; committed
SHARED_DATA = Path("..") / "shared" / "data" / "cifar10-jpeg.tar.gz"
POINT_KEY = "resume"  # the sidecar field that makes a checkpoint a resume point
# Sidecar fields that describe one file, not the run: a point's sidecar is written anew.
_FILE_FIELDS = ("format", "weights_sha256", "weights_dtype", "path")


@dataclass(frozen=True)
class Run:
    name: str  # file stem in both folders
    model: str
    stage: str
    epochs: int


PLAN: tuple[Run, ...] = (
    Run("resnet20", "resnet20", "stage 1", 30),
    Run("plain20", "plain20", "stage 1", 30),
    Run("resnet56", "resnet56", "stage 2", 30),
    Run("plain56", "plain56", "stage 2", 30),
    Run("resnet110", "resnet110", "stage 3", 30),
    Run("resnet20-10ep", "resnet20", "homework", 10),
)


@dataclass(frozen=True)
class Folders:
    state: Path = STATE_DIR
    points: Path = POINTS_DIR

    def resume_file(self, run: Run) -> Path:
        return self.state / f"{run.name}.resume.pt"

    def checkpoint(self, run: Run) -> Path:
        return self.state / f"{run.name}.safetensors"

    def point(self, run: Run) -> Path:
        return self.points / f"{run.name}.safetensors"

    @property
    def pid_file(self) -> Path:
        return self.state / "campaign.pid"

    @property
    def log_file(self) -> Path:
        return self.state / "campaign.log"


# ---------------------------------------------------------------- compact resume points

def write_point(resume_file: Path, checkpoint: Path, point: Path, *, half: bool = True,
                cpu_time_s: float | None = None) -> Path:
    """The compact resume point of the run whose full state is ``resume_file`` (its checkpoint's sidecar gives the
    rest): fp16 weights (fp32 with ``half=False``) and a sidecar with the log, the settings, the iteration, the RNG
    state and the CPU seconds the run has used so far (``cpu_time_s``, over every process that trained it)."""
    state = torch.load(resume_file, map_location="cpu", weights_only=True)
    meta = {k: v for k, v in read_sidecar(checkpoint).items() if k not in _FILE_FIELDS}
    meta["log"] = json.loads(state["log"])
    meta[POINT_KEY] = {"format": RESUME_FORMAT, "config": json.loads(state["config"]),
                       "iteration": int(state["iteration"]), "wall_time_s": float(state["wall_time_s"]),
                       "rng_cpu": base64.b64encode(state["rng_cpu"].numpy().tobytes()).decode("ascii")}
    if "accuracy" in state:
        meta[POINT_KEY]["accuracy"] = float(state["accuracy"])
    if cpu_time_s is not None:
        meta["cpu_time_s"] = round(cpu_time_s, 1)
    return save_checkpoint(state["model"], point, meta, half=half)


def cpu_seconds(point: Path) -> float:
    """The CPU seconds a run's point says it has used (0 for a run without a point, or from before they were kept)."""
    value = read_sidecar(point).get("cpu_time_s")
    return float(value) if isinstance(value, (int, float)) else 0.0


def resume_state_from_point(point: Path) -> dict[str, Any]:
    """The resume state ``train`` reads, rebuilt from a compact point (weights back in fp32, no optimizer)."""
    side = read_sidecar(point)
    saved = side.get(POINT_KEY)
    if not isinstance(saved, dict) or saved.get("format") != RESUME_FORMAT:
        raise InputError("train.bad_resume", file=str(point), reason="not a campaign resume point")
    weights = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(point)).items()}
    rng = torch.frombuffer(bytearray(base64.b64decode(saved["rng_cpu"])), dtype=torch.uint8)
    state: dict[str, Any] = {"format": RESUME_FORMAT, "config": json.dumps(saved["config"]),
                             "iteration": int(saved["iteration"]), "log": json.dumps(side.get("log") or []),
                             "wall_time_s": float(saved["wall_time_s"]), "model": weights, "rng_cpu": rng}
    if "accuracy" in saved:
        state["accuracy"] = float(saved["accuracy"])
    return state


# ---------------------------------------------------------------- running the plan

def prepare(run: Run, folders: Folders) -> str:
    """Where ``run`` continues from: its full state on this machine, else its committed point, else the start."""
    if folders.resume_file(run).is_file():
        return "state"
    point = folders.point(run)
    if point.is_file():
        buf = io.BytesIO()
        torch.save(resume_state_from_point(point), buf)
        atomic_write(folders.resume_file(run), buf.getvalue())
        return "point"
    return "start"


def is_complete(run: Run, folders: Folders) -> bool:
    for path in (folders.checkpoint(run), folders.point(run)):
        if read_sidecar(path).get("complete") is True:
            return True
    return False


def train_run(run: Run, data: str, folders: Folders, *, say: Callable[[str], None],
              config: Callable[[TrainConfig], TrainConfig] = lambda c: c) -> bool:
    """Train (or continue) one run to its end, writing its point after every epoch; True when it is complete."""
    source = prepare(run, folders)
    say(f"{run.name} ({run.stage}): continuing from {source}")
    # CPU seconds of this process from here, added to those of the processes before (the point's); the loop's own
    # wall_time_s says how long it took, this how much of the machine it took (a busy machine stretches the first).
    cpu_before, cpu_start = cpu_seconds(folders.point(run)), time.process_time()

    def point() -> None:
        write_point(folders.resume_file(run), folders.checkpoint(run), folders.point(run),
                    cpu_time_s=cpu_before + time.process_time() - cpu_start)

    def on_log(entry: dict[str, Any]) -> bool:
        point()
        return False

    cfg = config(TrainConfig(model=run.model, data=data, recipe=RECIPE, epochs=run.epochs, seed=SEED, device="cpu",
                             out=str(folders.state), name=run.name, resume=True, progress=False, on_log=on_log))
    result = train(cfg, log_fn=say)
    if result.complete:
        point()  # with the final accuracy
    return result.complete


def run_plan(data: str, folders: Folders, *, plan: Iterable[Run] = PLAN, say: Callable[[str], None] = print,
             config: Callable[[TrainConfig], TrainConfig] = lambda c: c) -> None:
    for run in plan:
        if is_complete(run, folders):
            continue
        if not train_run(run, data, folders, say=say, config=config):
            return  # stopped early on request (a test's config): the rest waits for the next start
    say("campaign: every run of the plan is complete")


# ---------------------------------------------------------------- shipping a finished stage

# The shipped artefacts' settings (README: "Shipped checkpoints"): the landscape grids are 13 x 13 over [-1, 1] on
# 128 training images with the directions' seed 123.
LANDSCAPE_ARGS = ("--points", "13", "--images", "128", "--seed", "123")


def ship_commands(runs: Iterable[Run], data: str, folders: Folders, assets: Path) -> list[list[str]]:
    """The ``python -m resnet_viz`` commands that ship finished runs: the fp16 export into ``assets/checkpoints``
    (accuracy checked on the test split after the cast), then everything the pages show of those networks computed
    anew: Figure 7's responses (into the sidecar), the lesion sweep, the loss landscape, the feature visualisations,
    the first views (top patches, test-sample logits)."""
    out: list[list[str]] = []
    for run in runs:
        source = folders.checkpoint(run) if folders.checkpoint(run).is_file() else folders.point(run)
        shipped = str(assets / "checkpoints" / f"{run.model}.safetensors")
        out += [["export", str(source), "--out", str(assets / "checkpoints"), "--data", data],
                ["responses", shipped, "--store"],
                ["lesion", shipped, "--store"],
                ["landscape", shipped, *LANDSCAPE_ARGS, "--out", str(assets / "landscapes" / f"{run.model}.npz")],
                ["learns", shipped, "--feature-vis"],
                ["first-views", shipped, "--out", str(assets / "first_views")]]
    return out


# ---------------------------------------------------------------- the background process

def running_pid(folders: Folders) -> int | None:
    """The campaign process's pid when one is alive, else None."""
    try:
        pid = int(folders.pid_file.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists() and b"campaign" not in cmdline.read_bytes():
        return None  # a recycled pid
    return pid


def is_paused(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] in ("T", "t")


def start_background(data: str, folders: Folders, threads: int) -> int:
    """Start ``campaign run`` detached (its own session, output in the log file); returns its pid."""
    if (pid := running_pid(folders)) is not None:
        raise InputError("train.campaign_running", pid=pid)
    folders.state.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "resnet_viz", "campaign", "run", "--data", data, "--threads", str(threads),
            "--state", str(folders.state), "--points", str(folders.points)]
    with open(folders.log_file, "ab") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    return proc.pid


def run_foreground(data: str, folders: Folders, threads: int) -> None:
    """The campaign itself: low priority, ``threads`` torch threads, its pid recorded for pause/stop."""
    from resnet_viz.runtime import configure_threads

    if (pid := running_pid(folders)) is not None and pid != os.getpid():
        raise InputError("train.campaign_running", pid=pid)
    os.nice(NICE)
    configure_threads(threads)
    folders.state.mkdir(parents=True, exist_ok=True)
    atomic_write(folders.pid_file, str(os.getpid()).encode())

    def say(msg: str) -> None:
        print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}", flush=True)

    try:
        run_plan(data, folders, say=say)
    finally:
        folders.pid_file.unlink(missing_ok=True)


def signal_campaign(folders: Folders, what: str) -> int:
    """Send pause (SIGSTOP), continue (SIGCONT) or stop (SIGTERM after SIGCONT) to the running campaign."""
    pid = running_pid(folders)
    if pid is None:
        raise InputError("train.campaign_not_running")
    if what == "pause":
        os.kill(pid, signal.SIGSTOP)
    elif what == "continue":
        os.kill(pid, signal.SIGCONT)
    else:
        os.kill(pid, signal.SIGCONT)
        os.kill(pid, signal.SIGTERM)
    return pid


def status(folders: Folders, plan: Iterable[Run] = PLAN) -> dict[str, Any]:
    """Every run of the plan with its progress (from this machine's checkpoint, else its point), and the process."""
    pid = running_pid(folders)
    runs = []
    for run in plan:
        progress = None
        for path in (folders.point(run), folders.checkpoint(run)):  # the point also has the CPU time
            side = read_sidecar(path)
            if side:
                progress = _progress(side)
                break
        runs.append({"run": run.name, "model": run.model, "stage": run.stage, "epochs": run.epochs,
                     **(progress or {"epochs_done": 0.0})})
    return {"pid": pid, "paused": bool(pid and is_paused(pid)), "runs": runs}


def _progress(side: dict[str, Any]) -> dict[str, Any]:
    recipe, log = side.get("recipe") or {}, side.get("log") or []
    per_epoch = int(recipe.get("steps_per_epoch") or 1)
    iteration = int(log[-1]["iteration"]) if log else 0
    return {"epochs_done": round(iteration / per_epoch, 2), "complete": bool(side.get("complete")),
            "test_error": log[-1]["test_error"] if log else None,
            "train_error": log[-1]["train_error"] if log else None,
            "accuracy": side.get("accuracy") if side.get("complete") else None,
            "wall_time_s": side.get("wall_time_s"), "cpu_time_s": side.get("cpu_time_s")}
