"""The reference set: plain-20/56 and ResNet-20/56/110 (plus plain-32/44 and ResNet-32/44 when they fit) trained
with one recipe on one GPU inside a wall-clock budget, packed into one archive.

Design. One process per model, all sharing the GPU, each running ``resnet_viz.train.loop.train`` (bf16 autocast,
channels_last, cuDNN autotuning; ``torch.compile`` with ``--compile``). Processes rather than one interleaving
process: these nets are small (16-64 channels), so a step's time goes largely to launching kernels from Python;
separate processes launch from separate CPU cores (the H200 machine has 16) while one process would launch all nine
nets' kernels from one core, under one GIL. A process that fails (a compiler error, say) takes only its own model
with it, and the loop that students run is the loop that trains the shipped networks. Without MPS the GPU
time-slices between the processes' contexts; at batch 512 each kernel fills the GPU, so little is lost to that.

Timeline (``--budget-s``, default 480 s, is the wall time of the whole command):

1. decode the data once (both splits in parallel; the children read the cache);
2. start one child per model; each (compiles and) trains a calibration run, logging every few iterations;
3. once every child trains, a window (``--calibration-s``, 20 s) measures each one's iterations/s with all of
   them running, then a short window the slowest one alone (how fast it goes once the others have finished);
4. the plan: the GPU seconds one iteration of each model costs, shared fairly between the processes still running
   (each capped at its measured solo speed), give the wall time of E epochs; the largest E up to the paper's 164
   that fits the time left, with a 10 % margin. The optional 32/44 nets stay only if they cost the others at most
   20 % of their epochs (``--optional auto``);
5. the main run, from scratch, E epochs, every child stopping cleanly at the deadline if the plan was wrong (its
   last epoch's checkpoint is kept, marked incomplete);
6. ``summary.json`` and ``reference.tar.gz`` (checkpoints with their sidecars, logs, summary) under ``--out``.

The recipe (``reference_recipe``): the paper's (section 4.2: SGD, momentum 0.9, weight decay 1e-4, lr / 10 at
50 % and 75 % of training, 4-pixel pad-and-crop and flips, option A shortcuts, all 50k training images) at batch
512 instead of 128, with the learning rate scaled linearly (0.1 x 512 / 128 = 0.4; Goyal et al. 2017) and the
paper's ResNet-110 warm-up (lr / 10 for its first 400 x 128 images, i.e. 100 iterations) for every net, since
0.4 is four times the lr the paper found "slightly too large to start converging" for ResNet-110. Why 512: at 128
images a step of ResNet-110 is about 2 ms of GPU work but over 1,000 kernel launches; at 512 the GPU work
(about 8 ms) outweighs the launches. Larger batches would leave too few steps for a short schedule.

The estimate on paper (H100 / H200 class; the calibration replaces it with measurements). ResNet-110 computes 253 M
multiply-adds per 32x32 image forward (``python -m resnet_viz summary resnet110``), about 1.5 GFLOP per training
image with the backward pass: 76 TFLOP per epoch, a tenth of a second at the chips' dense bf16 rate, but with 16-64
channels a 3x3 convolution does about 70 FLOP per byte moved, well under the ~200-300 FLOP/byte at which Hopper
stops being memory-bound, so memory decides. Its 109 convolutions write 1.05 M values per image; forward and
backward read and write each about 15 times in bf16 (conv, BN statistics and normalisation, ReLU, the residual sum,
and twice that backward), about 31 MB per image, 1.6 TB per epoch: 0.47 s at the H100's 3.35 TB/s, 0.33 s at the
H200's 4.8 TB/s. That is the floor; small kernels reach perhaps 30-50 % of it, so ~1 s per epoch for ResNet-110.
Work scales with the values written: the required five nets cost 2.4 times ResNet-110 alone, all nine 3.75 times.
With ~30 s for decoding and starting and ~35 s of calibration, some 350 s remain: the required five at ~2.4-3.5 s
per epoch fit 100-140 epochs, all nine 60-90; the paper's 164 epochs need the memory floor to be approached within a
factor of ~2.

Why eager by default: ``torch.compile`` fuses batch norm, ReLU and the residual sum (about a third fewer bytes
moved), but nine nets compiling at once (forward, backward and the evaluation graph, ResNet-110's over 1,000
nodes) take an estimated 1-2.5 minutes before the first step, and the main run recompiles (from caches). Out of
~7 minutes that roughly cancels the gain, and a compile that ran long would cost a required net. The benchmark in
the same GPU run (``benchmarks/train_throughput.py --compile``) measures ResNet-56's compile time and compiled
speed on that GPU; ``--compile`` (``REF_COMPILE=1 bash benchmarks/gpu_run.sh``) is there when those numbers say
it pays. A child whose compilation fails goes on without it.

Smoke mode (``--smoke``): the same processes, calibration, plan and archive on the CPU, a few iterations of each
model on 120 images of the shipped test sample (``resnet_viz.samples``): ``tests/test_reference.py`` runs it.

This module never imports Streamlit or Plotly: it runs on the GPU machine's preinstalled torch / torchvision /
safetensors alone.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import io
import json
import math
import os
import queue
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnet_viz.errors import DataError, InputError
from resnet_viz.models.registry import get_spec, model_names
from resnet_viz.train.recipes import Recipe

REQUIRED = ("plain20", "plain56", "resnet20", "resnet56", "resnet110")
OPTIONAL = ("plain32", "plain44", "resnet32", "resnet44")
PAPER_EPOCHS = 164  # 64k iterations of 128 images
PAPER_BATCH, PAPER_LR, PAPER_WARMUP_ITERATIONS = 128, 0.1, 400
SUMMARY_FORMAT = "resnet_viz-reference/1"
ARCHIVE = "reference.tar.gz"
ROOT_IN_ARCHIVE = "reference"
CALIBRATION_EVAL_IMAGES = 1000  # one evaluation batch: the log points of the calibration stay cheap
SAFETY = 0.9  # the plan fills this share of the time left
KEEP_OPTIONAL = 0.8  # keep the optional nets if the required ones keep this share of their epochs
SMOKE_PER_CLASS = (8, 4)  # training and test images per class in smoke mode


@dataclass(frozen=True)
class ReferenceOptions:
    out: str
    data: str | None = None
    budget_s: float = 480.0
    batch_size: int = 512
    models: tuple[str, ...] = REQUIRED + OPTIONAL
    optional: str = "auto"  # auto | yes | no: what to do with the OPTIONAL nets among ``models``
    epochs: int | None = None  # a fixed number of epochs instead of the plan's
    max_epochs: int = PAPER_EPOCHS
    seed: int = 0
    device: str = "auto"
    compile: bool = False
    compile_mode: str | None = None
    calibration_s: float = 20.0
    solo_s: float = 6.0
    smoke: bool = False
    python: str = sys.executable

    def checked(self) -> ReferenceOptions:
        """These options with the smoke mode's small settings, or an InputError naming a bad value."""
        known = set(model_names("cifar10"))
        for name in self.models:
            if name not in known:
                raise InputError("train.reference_unknown_model", model=name, models=", ".join(sorted(known)))
        if not self.smoke and not self.data:
            raise InputError("train.reference_needs_data")
        if not self.smoke and self.budget_s < 120:
            raise InputError("train.reference_budget", value=self.budget_s)
        for label, value in (("batch-size", self.batch_size), ("max-epochs", self.max_epochs),
                             ("epochs", self.epochs or 1)):
            if value < 1:
                raise InputError("train.bad_number", name=label, value=value)
        if self.optional not in ("auto", "yes", "no"):
            raise InputError("train.bad_number", name="optional", value=self.optional)
        if not self.smoke and not Path(str(self.data)).exists():
            raise DataError("data.not_found", source=str(self.data))
        if self.smoke:
            return dataclasses.replace(self, batch_size=16, epochs=self.epochs or 1, device="cpu", compile=False,
                                       calibration_s=min(self.calibration_s, 1.0), solo_s=min(self.solo_s, 0.5))
        return self


def reference_recipe(batch_size: int, epochs: int | None, iterations: int | None = None) -> Recipe:
    """The paper's recipe at ``batch_size`` with the learning rate and the warm-up scaled linearly."""
    lr = PAPER_LR * batch_size / PAPER_BATCH
    return Recipe(name="reference", epochs=epochs, iterations=iterations, batch_size=batch_size, lr=lr,
                  weight_decay=1e-4, momentum=0.9, nesterov=False, schedule="steps", milestones=(0.5, 0.75),
                  warmup_iterations=max(1, round(PAPER_WARMUP_ITERATIONS * PAPER_BATCH / batch_size)),
                  warmup_lr=lr / 10)


def log_every(model: str, smoke: bool) -> int:
    """Iterations between the calibration's log points: about the same wall time for every depth."""
    return 1 if smoke else max(5, round(2000 / get_spec(model).depth))


# ---------------------------------------------------------------- the plan (pure functions)

@dataclass(frozen=True)
class Calibration:
    model: str
    it_per_s: float  # while every calibrated model was running
    solo_it_per_s: float | None = None  # running alone, where measured
    startup_s: float = 0.0  # from the process's start to its first log point (imports, data, compilation)


def gpu_costs(cals: Iterable[Calibration]) -> dict[str, float]:
    """GPU seconds one iteration of each model costs, if the GPU was shared fairly and fully while all ran."""
    cals = list(cals)
    return {c.model: 1.0 / (len(cals) * c.it_per_s) for c in cals}


def _water_fill(caps: dict[str, float]) -> dict[str, float]:
    """Fair shares of one GPU, none above its cap, what a capped process leaves going to the others."""
    shares: dict[str, float] = {}
    left, free = dict(caps), 1.0
    while left:
        fair = free / len(left)
        capped = {m: c for m, c in left.items() if c <= fair}
        if not capped:
            shares.update({m: fair for m in left})
            break
        for m, c in capped.items():
            shares[m] = c
            free -= c
            del left[m]
    return shares


def estimate_wall_s(iterations: float, costs: dict[str, float], caps: dict[str, float]) -> float:
    """Seconds until every model has run ``iterations``: the models share the GPU fairly while they run, each
    capped at ``caps`` (its share when alone, 1 for a model that can use the whole GPU)."""
    left = {m: iterations * c for m, c in costs.items()}  # GPU seconds of work left
    wall = 0.0
    while left:
        shares = _water_fill({m: caps.get(m, 1.0) for m in left})
        step = min(left[m] / shares[m] for m in left)
        wall += step
        left = {m: w - shares[m] * step for m, w in left.items() if w - shares[m] * step > 1e-9 * (1 + w)}
    return wall


def solo_caps(cals: Iterable[Calibration], costs: dict[str, float]) -> dict[str, float]:
    """The share of the GPU each model takes alone: its solo speed times its cost (1 where unmeasured)."""
    return {c.model: min(1.0, c.solo_it_per_s * costs[c.model]) if c.solo_it_per_s else 1.0 for c in cals}


def choose_epochs(cals: list[Calibration], iterations_per_epoch: float, seconds: float, max_epochs: int) -> int:
    """The most epochs (1 .. max_epochs) whose estimated wall time fits ``seconds`` with the safety margin."""
    costs = gpu_costs(cals)
    caps = solo_caps(cals, costs)
    best = 1
    for epochs in range(1, max_epochs + 1):
        if estimate_wall_s(epochs * iterations_per_epoch, costs, caps) > SAFETY * seconds:
            break
        best = epochs
    return best


def choose_models(cals: list[Calibration], iterations_per_epoch: float, seconds: float, max_epochs: int,
                  optional: str) -> tuple[list[str], int, dict[str, int]]:
    """(models to train, epochs, the epochs each choice would get); costs are measured with all ``cals``."""
    costs = gpu_costs(cals)
    every = [c.model for c in cals]
    required = [m for m in every if m not in OPTIONAL]

    def epochs_for(models: list[str]) -> int:
        sub = [dataclasses.replace(c, it_per_s=1.0 / (len(models) * costs[c.model])) for c in cals
               if c.model in models]
        return choose_epochs(sub, iterations_per_epoch, seconds, max_epochs) if sub else 0

    options = {"all": epochs_for(every), "required": epochs_for(required)}
    keep = optional == "yes" or (optional == "auto" and options["all"] >= KEEP_OPTIONAL * options["required"])
    models = every if keep or not required else required
    return models, options["all"] if models == every else options["required"], options


def iterations_per_epoch(train_images: int, test_images: int, batch_size: int) -> float:
    """Training steps of an epoch plus its evaluation, counted as steps (a forward pass is a third of a step)."""
    eval_batches = math.ceil(test_images / 1000) * 1000
    return train_images // batch_size + eval_batches / (3 * batch_size)


def rate(points: list[tuple[float, int]], start: float, end: float) -> float | None:
    """Iterations per second between the first and the last log point inside [start, end]."""
    inside = [p for p in points if start <= p[0] <= end]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return None
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])


# ---------------------------------------------------------------- the child process (one model)

def _emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


@dataclass
class _Reporter:
    """``on_log`` of a child's run: reports each log point to the parent; stops at a stop file or a deadline."""

    phase: str
    stop_file: Path
    deadline: float

    def __call__(self, entry: dict[str, Any]) -> bool:
        _emit({"event": "point", "phase": self.phase, "t": time.time(), "iteration": entry["iteration"],
               "test_error": entry["test_error"]})
        return self.stop_file.exists() or time.time() >= self.deadline


def _child_config(job: dict[str, Any], recipe: Recipe, out: Path, on_log: _Reporter, compiled: bool,
                  calibration: bool):
    from resnet_viz.train.loop import TrainConfig

    return TrainConfig(model=job["model"], data=job["data"], recipe=recipe, seed=job["seed"], device=job["device"],
                       out=str(out), overwrite=True, compile=compiled, compile_mode=job["compile_mode"],
                       progress=False, on_log=on_log,
                       eval_every=log_every(job["model"], job["smoke"]) if calibration else None,
                       eval_limit=None if job["smoke"] or not calibration else CALIBRATION_EVAL_IMAGES)


def _calibrate_child(job: dict[str, Any], compiled: bool) -> None:
    from resnet_viz.train.loop import train

    work = Path(job["work"])
    recipe = reference_recipe(job["batch_size"], None, iterations=10**6)
    reporter = _Reporter("calibration", work / "control" / f"{job['model']}.stop", job["calibration_deadline"])
    train(_child_config(job, recipe, work / "calibration", reporter, compiled, True))


def _memory_mb(device: str) -> dict[str, float] | None:
    import torch

    if device != "cuda" or not torch.cuda.is_available():
        return None
    return {"allocated": round(torch.cuda.max_memory_allocated() / 2**20, 1),
            "reserved": round(torch.cuda.max_memory_reserved() / 2**20, 1)}


def _device_facts() -> dict[str, Any]:
    import torch

    if not torch.cuda.is_available():
        return {"device": "cpu"}
    props = torch.cuda.get_device_properties(0)
    return {"device": "cuda", "gpu": props.name, "capability": f"{props.major}.{props.minor}",
            "gpu_memory_gb": round(props.total_memory / 2**30, 1), "multiprocessors": props.multi_processor_count}


def child_main(job: dict[str, Any]) -> int:
    """A child: calibrate, wait for the parent's decision on stdin, train the main run, report."""
    import torch

    from resnet_viz.train.loop import train

    if job["threads"]:
        torch.set_num_threads(job["threads"])
    device = "cuda" if job["device"] in ("auto", "cuda") and torch.cuda.is_available() else "cpu"
    torch.backends.cudnn.benchmark = device == "cuda"  # fixed shapes: each convolution's algorithm is timed once
    if job["compile"]:
        import torch._dynamo

        # Training (512) and evaluation (1000) batches are two fixed shapes: two static graphs, rather than one
        # recompiled with a symbolic batch size after the second shape appears.
        torch._dynamo.config.automatic_dynamic_shapes = False
    job = {**job, "device": device}
    compiled, fallback = bool(job["compile"]), None
    try:
        _calibrate_child(job, compiled)
    except Exception as exc:  # a compiler failure: this model goes on without torch.compile
        if not compiled:
            raise
        fallback = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
        print(f"torch.compile failed, continuing without it: {fallback}", file=sys.stderr, flush=True)
        compiled = False
        _calibrate_child(job, compiled)
    _emit({"event": "calibrated", "t": time.time(), "compiled": compiled, "compile_fallback": fallback,
           **_device_facts()})
    line = sys.stdin.readline()
    decision = json.loads(line) if line.strip() else {"quit": True}
    if decision.get("quit"):
        return 0
    recipe = reference_recipe(job["batch_size"], int(decision["epochs"]))
    reporter = _Reporter("main", Path(job["work"]) / "control" / f"{job['model']}.stop", float(decision["deadline"]))
    try:
        result = train(_child_config(job, recipe, Path(job["checkpoints"]), reporter, compiled, False))
    except Exception as exc:  # as in the calibration: once more without torch.compile, against the same deadline
        if not compiled:
            raise
        fallback = f"main run: {type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
        print(f"torch.compile failed, continuing without it: {fallback}", file=sys.stderr, flush=True)
        compiled = False
        result = train(_child_config(job, recipe, Path(job["checkpoints"]), reporter, compiled, False))
    last = result.log[-1] if result.log else {}
    _emit({"event": "done", "t": time.time(), "accuracy": result.accuracy, "complete": result.complete,
           "iterations": last.get("iteration", 0), "epochs": last.get("epoch", 0),
           "wall_s": last.get("wall_time_s"), "train_error": last.get("train_error"),
           "test_error": last.get("test_error"), "memory_mb": _memory_mb(device),
           "checkpoint": result.checkpoint.name, "compiled": compiled, "compile_fallback": fallback})
    return 0


def _child_entry(argv: list[str]) -> int:
    job = json.loads(argv[0])
    try:
        return child_main(job)
    except Exception as exc:
        import traceback

        traceback.print_exc()
        _emit({"event": "error", "t": time.time(), "message": f"{type(exc).__name__}: {exc}"[:500]})
        return 1


# ---------------------------------------------------------------- the parent: children and their events

@dataclass
class _Child:
    model: str
    proc: subprocess.Popen
    log: Any  # the open file that gets the child's stderr
    started: float
    points: dict[str, list[tuple[float, int]]] = field(default_factory=lambda: {"calibration": [], "main": []})
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # last event of each kind
    status: str = "starting"  # starting, calibrating, calibrated, training, done, failed, dropped

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed", "dropped")

    def send(self, message: dict[str, Any]) -> None:
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(message) + "\n")
            self.proc.stdin.flush()
        except (OSError, ValueError):
            pass


class _Children:
    """The children and the events their stdout carries (one reader thread each, one queue)."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.by_model: dict[str, _Child] = {}
        self.events: queue.Queue[tuple[str, dict[str, Any] | None]] = queue.Queue()
        self.say = say

    def spawn(self, model: str, job: dict[str, Any], python: str, env: dict[str, str], log_path: Path) -> None:
        log = log_path.open("w", encoding="utf-8")
        proc = subprocess.Popen([python, "-m", "resnet_viz.train.reference", "--child", json.dumps(job)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, env=env,
                                cwd=str(Path(__file__).resolve().parents[2]))
        self.by_model[model] = _Child(model, proc, log, time.time())
        threading.Thread(target=self._read, args=(model, proc), daemon=True).start()

    def _read(self, model: str, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # a stray print
            if isinstance(event, dict) and "event" in event:
                self.events.put((model, event))
        self.events.put((model, None))  # end of output: the process is ending

    def pump(self, until: Callable[[], bool], deadline: float) -> bool:
        """Handle events until ``until()`` holds (True) or the deadline passes (False)."""
        while not until():
            wait = deadline - time.time()
            if wait <= 0:
                return False
            try:
                model, event = self.events.get(timeout=min(wait, 0.5))
            except queue.Empty:
                continue
            self._handle(self.by_model[model], event)
        return True

    def _handle(self, child: _Child, event: dict[str, Any] | None) -> None:
        if event is None:
            child.proc.wait()
            if not child.finished:
                child.status = "failed"
                child.events.setdefault("error", {"message": f"exited with status {child.proc.returncode}"})
                self.say(f"{child.model}: failed ({child.events['error']['message']})")
            return
        kind = event["event"]
        child.events[kind] = event
        if kind == "point":
            child.points[event["phase"]].append((event["t"], event["iteration"]))
            if child.status == "starting":
                child.status = "calibrating"
        elif kind in ("calibrated", "done") and child.status != "dropped":
            child.status = kind
        elif kind == "error":
            child.status = "failed"
            self.say(f"{child.model}: failed ({event['message']})")

    def active(self, statuses: tuple[str, ...]) -> list[_Child]:
        return [c for c in self.by_model.values() if c.status in statuses]

    def stop(self, models: Iterable[str], control: Path) -> None:
        for m in models:
            (control / f"{m}.stop").touch()

    def end(self, grace: float = 5.0) -> None:
        """Close every child's stdin; kill what is still running after ``grace`` seconds."""
        for c in self.by_model.values():
            if c.proc.poll() is None and c.status != "training":
                c.send({"quit": True})
        limit = time.time() + grace
        for c in self.by_model.values():
            try:
                c.proc.wait(timeout=max(0.1, limit - time.time()))
            except subprocess.TimeoutExpired:
                c.proc.kill()
                c.proc.wait()
                if not c.finished:
                    c.status = "failed"
                    c.events.setdefault("error", {"message": "killed at the deadline"})
            c.log.close()
        while not self.events.empty():  # the last events of processes that ended
            model, event = self.events.get()
            self._handle(self.by_model[model], event)


# ---------------------------------------------------------------- the parent: data, phases, summary, archive

def decode_data(data: str, python: str = sys.executable) -> dict[str, int]:
    """Decode both splits into the cache at once, in two processes (the children then read the cache); the number
    of images in each."""
    code = "import sys; from resnet_viz.data import load_split; print(len(load_split(sys.argv[1], sys.argv[2])[0]))"
    root = str(Path(__file__).resolve().parents[2])
    procs = {split: subprocess.Popen([python, "-c", code, data, split], cwd=root, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True) for split in ("train", "test")}
    sizes = {}
    for split, proc in procs.items():
        out, err = proc.communicate()
        if proc.returncode != 0:  # the same call in this process raises the DataError with its one-line message
            from resnet_viz.data import load_split

            load_split(data, split)
            raise RuntimeError(err.strip().splitlines()[-1] if err.strip() else f"decoding {split} failed")
        sizes[split] = int(out.split()[-1])
    return sizes


def write_smoke_data(path: Path) -> Path:
    """A tiny image-folder tar (8 training and 4 test images per class) from the shipped test sample."""
    from PIL import Image

    from resnet_viz.samples import load_test_sample

    n_train, n_test = SMOKE_PER_CLASS
    images, labels, classes = load_test_sample(limit=10 * (n_train + n_test))
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tar:
        for i, (img, label) in enumerate(zip(images, labels)):
            split = "train" if i < 10 * n_train else "test"
            buf = io.BytesIO()
            Image.fromarray(img.permute(1, 2, 0).numpy()).save(buf, format="PNG")
            info = tarfile.TarInfo(f"{split}/{classes[int(label)]}/{i:04d}.png")
            info.size = buf.tell()
            buf.seek(0)
            tar.addfile(info, buf)
    return path


@dataclass
class _Paths:
    out: Path
    work: Path  # scratch of this run (the calibration's files, stop files)
    staging: Path  # what goes into the archive

    @classmethod
    def make(cls, out: str) -> _Paths:
        base = Path(out).resolve()
        work = base / "reference-work"
        shutil.rmtree(work, ignore_errors=True)
        paths = cls(base, work, work / ROOT_IN_ARCHIVE)
        for d in (paths.control, paths.staging / "checkpoints", paths.staging / "logs"):
            d.mkdir(parents=True, exist_ok=True)
        return paths

    @property
    def control(self) -> Path:
        return self.work / "control"


class _Clock:
    """The command's time line: every phase's deadline derives from the start and the budget."""

    def __init__(self, budget_s: float, smoke: bool) -> None:
        self.t0 = time.time()
        self.budget_s = budget_s
        self.reserve = 3.0 if smoke else 15.0  # summary and archive after the children end
        self.stop_margin = 1.0 if smoke else 10.0  # the children stop this long before the end (an epoch's slack)
        self.marks: dict[str, float] = {}

    @property
    def end(self) -> float:
        return self.t0 + self.budget_s - self.reserve

    def at(self, share: float) -> float:
        return self.t0 + share * self.budget_s

    def mark(self, name: str) -> None:
        self.marks[name] = round(time.time() - self.t0, 2)


def _spawn_all(children: _Children, opts: ReferenceOptions, paths: _Paths, data: str, clock: _Clock) -> None:
    n = len(opts.models)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1",
           "TORCHINDUCTOR_COMPILE_THREADS": str(max(2, 2 * (os.cpu_count() or 2) // n))}
    for model in opts.models:
        job = {"model": model, "data": data, "seed": opts.seed, "device": opts.device, "batch_size": opts.batch_size,
               "compile": opts.compile, "compile_mode": opts.compile_mode, "smoke": opts.smoke,
               "threads": 1, "work": str(paths.work), "checkpoints": str(paths.staging / "checkpoints"),
               "calibration_deadline": clock.at(0.75)}
        children.spawn(model, job, opts.python, env, paths.staging / "logs" / f"{model}.log")


def _measure(children: _Children, opts: ReferenceOptions, paths: _Paths, clock: _Clock) -> list[Calibration]:
    """Wait until every child trains, time them all running, then the slowest alone; stop the calibration."""
    say = children.say
    children.pump(lambda: all(c.finished or c.points["calibration"] for c in children.by_model.values()),
                  clock.at(0.5))
    late = [c.model for c in children.active(("starting",))]
    if late:
        say(f"not training by {clock.budget_s * 0.5:.0f} s, left out: {', '.join(late)}")
        for m in late:
            children.by_model[m].status = "failed"
            children.by_model[m].events["error"] = {"message": "still compiling when the calibration began"}
            children.by_model[m].proc.kill()
    clock.mark("all_training")
    start = time.time()
    children.pump(lambda: False, start + opts.calibration_s)
    running = children.active(("calibrating",))
    # every model needs three log points inside the window (two intervals); a slow one extends it, within limits
    children.pump(lambda: all(c.finished or sum(t >= start for t, _ in c.points["calibration"]) >= 3
                              for c in running), min(start + 3 * opts.calibration_s, clock.at(0.55)))
    window = time.time()
    running = children.active(("calibrating",))
    rates = {c.model: _rate_or_fallback(c, start, window) for c in running}
    if not rates:
        return []
    slowest = min(rates, key=lambda m: rates[m])
    children.stop([m for m in rates if m != slowest], paths.control)
    children.pump(lambda: all(c.status != "calibrating" for c in running if c.model != slowest), clock.at(0.6))
    solo_start = time.time()
    children.pump(lambda: False, solo_start + opts.solo_s)
    solo = rate(children.by_model[slowest].points["calibration"], solo_start, time.time())
    children.stop([slowest], paths.control)
    children.pump(lambda: all(c.status != "calibrating" for c in running), clock.at(0.65))
    clock.mark("calibrated")
    say("calibration: " + ", ".join(f"{m} {r:.1f} it/s" for m, r in rates.items())
        + (f"; {slowest} alone {solo:.1f} it/s" if solo else ""))
    return [Calibration(m, r, solo if m == slowest else None,
                        children.by_model[m].points["calibration"][0][0] - children.by_model[m].started)
            for m, r in rates.items() if children.by_model[m].status == "calibrated"]


def _rate_or_fallback(child: _Child, start: float, end: float) -> float:
    """Its rate in the window, else over all its points, else from its first point (compilation included)."""
    points = child.points["calibration"]
    measured = rate(points, start, end) or rate(points, points[0][0], end)
    if measured:
        return measured
    return max(points[-1][1], 1) / max(points[-1][0] - child.started, 1e-3)


def _plan(cals: list[Calibration], opts: ReferenceOptions, sizes: dict[str, int], clock: _Clock) -> dict[str, Any]:
    per_epoch = iterations_per_epoch(sizes["train"], sizes["test"], opts.batch_size)
    startup = max(c.startup_s for c in cals)
    allowance = min(60.0, max(3.0, 0.3 * startup))  # the main run's start: data, model, compilation from caches
    seconds = clock.end - clock.stop_margin - time.time() - allowance
    models, epochs, options = choose_models(cals, per_epoch, seconds, opts.max_epochs, opts.optional)
    if opts.epochs:
        epochs = opts.epochs
    chosen = [c for c in cals if c.model in models]
    costs = {m: c for m, c in gpu_costs(cals).items() if m in models}
    estimate = estimate_wall_s(epochs * per_epoch, costs, solo_caps(chosen, costs))
    return {"models": models, "epochs": epochs, "epochs_if": options, "seconds_available": round(seconds, 1),
            "estimated_s": round(estimate + allowance, 1), "startup_allowance_s": round(allowance, 1),
            "iterations_per_epoch": round(per_epoch, 2), "safety": SAFETY,
            "gpu_ms_per_iteration": {m: round(1000 * c, 3) for m, c in costs.items()}}


def _main_run(children: _Children, plan: dict[str, Any], clock: _Clock) -> None:
    deadline = clock.end - clock.stop_margin
    for c in children.by_model.values():
        if c.status != "calibrated":
            continue
        if c.model in plan["models"]:
            c.status = "training"
            c.send({"epochs": plan["epochs"], "deadline": deadline})
        else:
            c.status = "dropped"
            c.send({"quit": True})
    children.say(f"main run: {plan['epochs']} epochs of {', '.join(plan['models'])} "
                 f"(estimated {plan['estimated_s']:.0f} s of {plan['seconds_available']:.0f} s)")
    children.pump(lambda: all(c.status != "training" for c in children.by_model.values()), clock.end)
    clock.mark("trained")


def _model_summary(child: _Child, cal: Calibration | None, batch: int, checkpoints: Path) -> dict[str, Any]:
    done, calibrated = child.events.get("done", {}), child.events.get("calibrated", {})
    points = child.points["main"]
    if not done and points:  # killed after its last log point: that point's checkpoint is on disk, incomplete
        last = child.events["point"]
        done = {"iterations": last["iteration"], "test_error": last["test_error"], "complete": False,
                "accuracy": 100.0 - last["test_error"]}
        if (checkpoints / f"{child.model}.safetensors").is_file():
            done["checkpoint"] = f"{child.model}.safetensors"
    wall, iterations = done.get("wall_s"), done.get("iterations") or 0
    steady = rate(points, points[0][0], points[-1][0]) if points else None
    return {
        "status": child.status, "error": child.events.get("error", {}).get("message"),
        "epochs": done.get("epochs"), "iterations": iterations, "complete": done.get("complete"),
        "test_accuracy": None if done.get("accuracy") is None else round(done["accuracy"], 2),
        "test_error": done.get("test_error"), "train_error": done.get("train_error"),
        "wall_s": wall, "images_per_s": round(iterations * batch / wall, 1) if wall else None,
        "steady_images_per_s": round(steady * batch, 1) if steady else None,  # first to last epoch: no compiling
        "calibration_it_per_s": round(cal.it_per_s, 2) if cal else None,
        "solo_it_per_s": round(cal.solo_it_per_s, 2) if cal and cal.solo_it_per_s else None,
        "startup_s": round(cal.startup_s, 1) if cal else None,
        "compiled": done.get("compiled", calibrated.get("compiled")),
        "compile_fallback": done.get("compile_fallback", calibrated.get("compile_fallback")),
        "memory_mb": done.get("memory_mb"),
        "checkpoint": f"{ROOT_IN_ARCHIVE}/checkpoints/{done['checkpoint']}" if done.get("checkpoint") else None,
    }


def _versions() -> dict[str, Any]:
    import importlib.metadata as md
    import platform

    import torch

    def version(name: str) -> str | None:
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return None

    return {"python": platform.python_version(), "torch": torch.__version__, "torchvision": version("torchvision"),
            "safetensors": version("safetensors"), "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
            "cpu_count": os.cpu_count()}


class _MemorySampler:
    """The GPU's memory in use (all processes), read with nvidia-smi every two seconds; its peak."""

    def __init__(self) -> None:
        self.peak_mb: float | None = None
        self._stop = threading.Event()
        self._tool = shutil.which("nvidia-smi")
        if self._tool:
            threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self._stop.wait(2.0):
            try:
                text = subprocess.run([str(self._tool), "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                                      capture_output=True, text=True, timeout=10).stdout
                used = float(text.split()[0])
            except (OSError, ValueError, IndexError, subprocess.SubprocessError):
                continue
            self.peak_mb = max(self.peak_mb or 0.0, used)

    def stop(self) -> float | None:
        self._stop.set()
        return self.peak_mb


def _summary(children: _Children, cals: list[Calibration], plan: dict[str, Any], opts: ReferenceOptions,
             clock: _Clock, checkpoints: Path, extra: dict[str, Any]) -> dict[str, Any]:
    by_cal = {c.model: c for c in cals}
    facts = next((c.events["calibrated"] for c in children.by_model.values() if "calibrated" in c.events), {})
    device = {k: facts.get(k) for k in ("device", "gpu", "capability", "gpu_memory_gb", "multiprocessors")}
    recipe = reference_recipe(opts.batch_size, plan.get("epochs")).to_dict()
    return {
        "format": SUMMARY_FORMAT, "smoke": opts.smoke, "started": _dt.datetime.fromtimestamp(clock.t0, _dt.UTC)
        .isoformat(timespec="seconds"), "budget_s": opts.budget_s, "wall_s": round(time.time() - clock.t0, 1),
        "phases_s": clock.marks, "device": device, "versions": _versions(), "recipe": recipe, "seed": opts.seed,
        "shortcut": "A", "batch_size": opts.batch_size, "epochs": plan.get("epochs"), "paper_epochs": PAPER_EPOCHS,
        "compile": opts.compile, "compile_mode": opts.compile_mode, "models_requested": list(opts.models),
        "models_trained": plan.get("models", []), "plan": plan,
        "models": {m: _model_summary(c, by_cal.get(m), opts.batch_size, checkpoints)
                   for m, c in children.by_model.items()},
        **extra,
    }


def pack(staging: Path, archive: Path) -> list[str]:
    """``staging`` as a tar.gz (resume states and temporary files left out), written atomically; its members."""
    tmp = archive.with_name(f".{archive.name}.tmp")
    members: list[str] = []
    with tarfile.open(tmp, "w:gz") as tar:
        for path in sorted(staging.rglob("*")):
            if path.is_file() and not path.name.endswith(".resume.pt") and not path.name.startswith("."):
                name = f"{ROOT_IN_ARCHIVE}/{path.relative_to(staging).as_posix()}"
                tar.add(path, arcname=name)
                members.append(name)
    os.replace(tmp, archive)
    return members


def run_reference(opts: ReferenceOptions, say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train the reference set inside the budget; write ``reference.tar.gz`` and ``summary.json`` under
    ``opts.out``; return the summary."""
    from resnet_viz.train.evaluate import resolve_device

    opts = opts.checked()
    resolve_device(opts.device)  # --device cuda without a GPU: the one-line message, before anything starts
    clock = _Clock(opts.budget_s, opts.smoke)
    paths = _Paths.make(opts.out)
    log = (paths.staging / "logs" / "reference.log").open("w", encoding="utf-8")

    def tell(msg: str) -> None:
        line = f"[{time.time() - clock.t0:6.1f} s] {msg}"
        log.write(line + "\n")
        log.flush()
        (say or (lambda m: print(m, file=sys.stderr, flush=True)))(line)

    data = str(Path(opts.data).resolve()) if opts.data and not opts.smoke else \
        str(write_smoke_data(paths.work / "smoke-cifar10.tar"))
    sizes = decode_data(data, opts.python)
    clock.mark("decoded")
    tell(f"data {data}: {sizes['train']} training and {sizes['test']} test images")
    memory = _MemorySampler() if not opts.smoke else None
    children = _Children(tell)
    try:
        _spawn_all(children, opts, paths, data, clock)
        cals = _measure(children, opts, paths, clock)
        plan = _plan(cals, opts, sizes, clock) if cals else {"models": [], "epochs": None}
        if cals:
            _main_run(children, plan, clock)
    finally:
        children.end()
    extra = {"data": data, "images": sizes, "gpu_memory_peak_mb": memory.stop() if memory else None}
    summary = _summary(children, cals, plan, opts, clock, paths.staging / "checkpoints", extra)
    for m, s in summary["models"].items():
        tell(f"{m}: {s['status']}, {s['epochs']} epochs, test accuracy {s['test_accuracy']}%, "
             f"{s['images_per_s']} img/s")
    log.close()
    text = json.dumps(summary, indent=1)
    (paths.staging / "summary.json").write_text(text)
    summary["archive_members"] = pack(paths.staging, paths.out / ARCHIVE)
    (paths.out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        sys.exit(_child_entry(sys.argv[2:]))
    sys.exit("usage: python -m resnet_viz reference --help (this module's own entry point is for its children)")
