"""The training loop: one run (or its resumption) of a CIFAR-style classifier with a device-resident pipeline.

Every epoch (and, with ``eval_every``, every N iterations) appends one entry to the log (training
loss/error since the previous entry, evaluation loss/error, lr, iteration, wall time), then writes
(atomically) the resume state ``<out>/<name>.resume.pt`` and the checkpoint ``<out>/<name>.safetensors`` +
``.json`` sidecar. A run killed at any moment resumes from its last log point with ``resume=True``; batch
order and augmentation depend only on (seed, epoch), so the resumed run sees the batches it would have
seen (mid-epoch, the batches already trained on are drawn again and skipped).

Under ``torchrun`` (WORLD_SIZE > 1) the model is wrapped in DistributedDataParallel (NCCL on CUDA, gloo
on CPU); each rank trains on its shard of every global batch; only rank 0 writes files.

``train`` runs the parts in order: ``_setup`` (device, processes, settings, paths), ``_load_data`` (splits and
batch loaders), ``_build_model``, ``_TrainingState`` (what a resume restores) with its ``_CheckpointWriter``,
and ``_Loop`` (the epochs, each log point evaluating and writing).
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from resnet_viz.checkpoints.write import atomic_write, save_checkpoint
from resnet_viz.data import BatchLoader, channel_stats, dataset_label, load_split
from resnet_viz.errors import InputError, VizError
from resnet_viz.models.registry import get_spec
from resnet_viz.seeded import seeded
from resnet_viz.train.evaluate import autocast_context, confusion_and_loss, resolve_device
from resnet_viz.train.recipes import Recipe, learning_rate, make_recipe

RESUME_FORMAT = "resnet_viz-resume/1"


@dataclass
class TrainConfig:
    model: str
    data: str
    recipe: str | Recipe = "fast"  # a recipe's name (with the overrides below), or a Recipe used as it is
    epochs: int | None = None
    iterations: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    val_split: int | None = None
    seed: int = 0
    device: str = "auto"
    out: str = "checkpoints"
    name: str | None = None  # file stem; defaults to the model name
    shortcut: str | None = None
    resume: bool = False
    overwrite: bool = False
    compile: bool = False
    compile_mode: str | None = None  # torch.compile's mode, e.g. "reduce-overhead" (CUDA graphs)
    eval_batch_size: int = 1000
    progress: bool = True
    stop_after_epochs: int | None = None  # end this process early (the run stays resumable)
    stop_at_iteration: int | None = None
    eval_every: int | None = None  # also log, evaluate and checkpoint every N iterations (not only per epoch)
    eval_limit: int | None = None  # evaluate those intermediate points on a fixed subset of this many images
    # Called at every log point (on every process, after the checkpoint is written) with the point's log entry;
    # True from any process ends the run there, resumable, as stop_after_epochs does.
    on_log: Callable[[dict[str, Any]], bool] | None = None


@dataclass
class TrainResult:
    checkpoint: Path
    accuracy: float
    complete: bool
    log: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- distributed helpers

def _dist_setup(device: torch.device) -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    # A process torchrun starts (it sets TORCHELASTIC_RUN_ID) joins a process group even when it is alone:
    # `torchrun --nproc_per_node 1` on one GPU then runs the NCCL and DistributedDataParallel path.
    if world <= 1 and "TORCHELASTIC_RUN_ID" not in os.environ:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size()


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def _all_reduce(t: torch.Tensor, world: int) -> torch.Tensor:
    if world > 1 or _distributed():
        dist.all_reduce(t)
    return t


def _barrier(world: int) -> None:
    if world > 1 or _distributed():
        dist.barrier()


def hardware_string(device: torch.device, world: int) -> str:
    if device.type == "cuda":
        what = torch.cuda.get_device_name(device)
    else:
        what = _cpu_name()
        what += f" ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"
    return f"{what}; device {device.type}; torch {torch.__version__}; world size {world}"


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


def _paths(cfg: TrainConfig) -> tuple[Path, Path]:
    stem = cfg.name or cfg.model
    out = Path(cfg.out)
    return out / f"{stem}.safetensors", out / f"{stem}.resume.pt"


def _load_resume(path: Path) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # an unreadable state is reported, never half-used
        raise InputError("train.bad_resume", file=str(path), reason=str(exc).splitlines()[0][:200]) from None
    if not isinstance(state, dict) or state.get("format") != RESUME_FORMAT:
        raise InputError("train.bad_resume", file=str(path), reason="not a resnet_viz resume state")
    return state


def _epochs_label(iterations: int, steps_per_epoch: int) -> int | float:
    """Epochs as a whole number when they are one, else a fraction (a run may end inside an epoch)."""
    value = iterations / steps_per_epoch
    return int(value) if value.is_integer() else round(value, 4)


def _checkpoint_matches(path: Path, entries: int) -> bool:
    """Whether the weights file and sidecar at ``path`` belong together and hold ``entries`` log entries."""
    import hashlib

    from resnet_viz.checkpoints.read import read_sidecar

    side = read_sidecar(path)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return False
    return side.get("weights_sha256") == digest and len(side.get("log") or []) == entries


# ---------------------------------------------------------------- set-up: device, processes, settings, paths

@dataclass(frozen=True)
class _Run:
    """What a run trains and where it writes, fixed at set-up (a resumed run takes its settings from its state)."""

    cfg: TrainConfig
    device: torch.device
    rank: int
    world: int
    ckpt_path: Path
    resume_path: Path
    recipe: Recipe
    seed: int
    shortcut: str | None
    eval_every: int | None
    eval_limit: int | None

    @property
    def main(self) -> bool:
        return self.rank == 0

    def config_json(self) -> str:
        """The settings a resume continues with, as stored in the resume state."""
        return json.dumps({"model": self.cfg.model, "recipe": self.recipe.to_dict(), "seed": self.seed,
                           "shortcut": self.shortcut, "data": str(self.cfg.data), "eval_every": self.eval_every,
                           "eval_limit": self.eval_limit})


def _setup(cfg: TrainConfig) -> tuple[_Run, dict[str, Any] | None]:
    """The run's device, process group, settings and paths, and the resume state it continues from (if any)."""
    spec = get_spec(cfg.model)
    if spec.dataset != "cifar10":
        raise InputError("train.not_cifar", model=cfg.model)
    device = resolve_device(cfg.device)
    rank, world = _dist_setup(device)
    if device.type == "cuda" and _distributed():
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    ckpt_path, resume_path = _paths(cfg)
    state: dict[str, Any] | None = None
    if cfg.resume and resume_path.is_file():
        state = _load_resume(resume_path)
        settings = _resumed_settings(cfg, state, resume_path)
    else:
        if rank == 0 and not cfg.resume and not cfg.overwrite and (resume_path.is_file() or ckpt_path.is_file()):
            raise InputError("train.exists", file=str(ckpt_path))
        settings = _new_settings(cfg)
    run = _Run(cfg=cfg, device=device, rank=rank, world=world, ckpt_path=ckpt_path, resume_path=resume_path,
               **settings)
    if run.recipe.batch_size % world:
        raise InputError("train.batch_not_divisible", batch=run.recipe.batch_size, world=world)
    return run, state


def _resumed_settings(cfg: TrainConfig, state: dict[str, Any], path: Path) -> dict[str, Any]:
    """The settings saved in a resume state (the command line's are ignored, except the model's name)."""
    saved = json.loads(state["config"])
    if saved["model"] != cfg.model:
        raise InputError("train.resume_other_model", file=str(path), saved=saved["model"], model=cfg.model)
    recipe = Recipe(**{**saved["recipe"], "milestones": tuple(saved["recipe"]["milestones"])})
    return {"recipe": recipe, "seed": int(saved["seed"]), "shortcut": saved["shortcut"],
            "eval_every": saved.get("eval_every"), "eval_limit": saved.get("eval_limit")}


def _new_settings(cfg: TrainConfig) -> dict[str, Any]:
    """The settings of a new run: the named recipe with the command line's overrides."""
    spec = get_spec(cfg.model)
    if isinstance(cfg.recipe, Recipe):
        recipe = cfg.recipe
    else:
        recipe = make_recipe(cfg.recipe, cfg.model, epochs=cfg.epochs, iterations=cfg.iterations,
                             batch_size=cfg.batch_size, lr=cfg.lr, val_split=cfg.val_split)
    for label, value in (("eval-every", cfg.eval_every), ("eval-limit", cfg.eval_limit)):
        if value is not None and value < 1:
            raise InputError("train.bad_number", name=label, value=value)
    return {"recipe": recipe, "seed": int(cfg.seed),
            "shortcut": (cfg.shortcut or spec.default_shortcut) if spec.residual else None,
            "eval_every": cfg.eval_every, "eval_limit": cfg.eval_limit}


# ---------------------------------------------------------------- data and model

@dataclass(frozen=True)
class _Data:
    classes: tuple[str, ...]
    eval_split: str  # "test", or "val" for images held out of the training split
    mean: tuple[float, ...]
    std: tuple[float, ...]
    train: BatchLoader
    evaluation: BatchLoader  # the whole evaluation split: the final accuracy
    log_points: BatchLoader  # what intermediate log points evaluate: the same, or a fixed subset (eval_limit)


def _load_splits(run: _Run) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, tuple[str, ...], str]:
    """Training images and labels, evaluation images and labels, the class names, the evaluation split's name."""
    recipe, source = run.recipe, run.cfg.data
    # Rank 0 decodes and fills the cache first, the other ranks then read the cache.
    if not run.main:
        _barrier(run.world)
    train_x, train_y, classes = load_split(source, "train")
    if recipe.val_split:
        if recipe.val_split >= len(train_x):
            raise InputError("train.bad_number", name="val-split", value=recipe.val_split)
        perm = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(run.seed))
        held, kept = perm[:recipe.val_split], perm[recipe.val_split:]
        test_x, test_y = train_x[held], train_y[held]
        train_x, train_y = train_x[kept], train_y[kept]
        eval_split = "val"
    else:
        test_x, test_y, test_classes = load_split(source, "test")
        if tuple(test_classes) != tuple(classes):
            raise InputError("train.class_mismatch")
        eval_split = "test"
    if run.main:
        _barrier(run.world)
    return train_x, train_y, test_x, test_y, classes, eval_split


def _load_data(run: _Run) -> _Data:
    """The splits as batch loaders on the run's device, normalised with the training images' statistics."""
    train_x, train_y, test_x, test_y, classes, eval_split = _load_splits(run)
    recipe = run.recipe
    if len(train_x) < recipe.batch_size:
        raise InputError("train.too_few_images", count=len(train_x), batch=recipe.batch_size)
    mean, std = channel_stats(train_x)
    loader = BatchLoader(train_x, train_y, batch_size=recipe.batch_size, mean=mean, std=std, device=run.device,
                         train=True, pad=recipe.pad, flip=recipe.flip, seed=run.seed, rank=run.rank,
                         world_size=run.world, channels_last=True)
    evaluation = _eval_loader(run, test_x, test_y, mean, std)
    log_points = evaluation
    if run.eval_limit and run.eval_limit < len(test_x):
        # Intermediate log points use a fixed random subset of the evaluation split (cheap on a CPU);
        # the final accuracy is always measured on the whole split.
        pick = torch.randperm(len(test_x), generator=torch.Generator().manual_seed(run.seed))[:run.eval_limit]
        pick = pick.sort().values
        log_points = _eval_loader(run, test_x[pick], test_y[pick], mean, std)
    return _Data(classes, eval_split, mean, std, loader, evaluation, log_points)


def _eval_loader(run: _Run, images: torch.Tensor, labels: torch.Tensor, mean: tuple[float, ...],
                 std: tuple[float, ...]) -> BatchLoader:
    return BatchLoader(images, labels, batch_size=run.cfg.eval_batch_size, mean=mean, std=std, device=run.device,
                       train=False, rank=run.rank, world_size=run.world, channels_last=True)


def _build_model(run: _Run, num_classes: int) -> nn.Module:
    """The untrained net: the same for a seed whatever else the run does (the global RNG is left alone)."""
    with seeded(run.seed):
        model = get_spec(run.cfg.model).build(shortcut=run.shortcut, num_classes=num_classes)
    # channels_last pays on CPUs too (oneDNN convolutions): +19 % img/s for ResNet-20, +37 % for ResNet-110.
    return model.to(run.device, memory_format=torch.channels_last)  # type: ignore[call-overload]  # stubs lack it


def _wrap_model(run: _Run, model: nn.Module) -> nn.Module:
    """What the loop calls: the model, in DistributedDataParallel under torchrun, compiled on request."""
    net: nn.Module = model
    if _distributed():
        net = nn.parallel.DistributedDataParallel(model, device_ids=[run.device.index]
                                                  if run.device.type == "cuda" else None)
    if run.cfg.compile:
        net = cast(nn.Module, torch.compile(net, mode=run.cfg.compile_mode))
    return net


# ---------------------------------------------------------------- what a resume restores, and its writer

@dataclass
class _TrainingState:
    """Weights, optimizer, position and log of a run; the global RNG is saved and restored with them."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    iteration: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)
    wall_before: float = 0.0  # training seconds of the processes this run resumed from
    final_accuracy: float | None = None

    @classmethod
    def start(cls, run: _Run, model: nn.Module, saved: dict[str, Any] | None) -> _TrainingState:
        """A fresh state (seeding the global RNG), or the one ``saved`` in a resume file."""
        recipe = run.recipe
        optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                                    weight_decay=recipe.weight_decay, nesterov=recipe.nesterov)
        state = cls(model, optimizer)
        if saved is None:
            torch.manual_seed(run.seed)
        else:
            state.restore(saved)
        return state

    def restore(self, saved: dict[str, Any]) -> None:
        self.model.load_state_dict(saved["model"])
        if "optimizer" in saved:  # a compact resume point (train/campaign.py) has none: momentum starts afresh
            self.optimizer.load_state_dict(saved["optimizer"])
        self.iteration = int(saved["iteration"])
        self.log = json.loads(saved["log"])
        self.wall_before = float(saved["wall_time_s"])
        self.final_accuracy = saved.get("accuracy")
        torch.set_rng_state(saved["rng_cpu"])

    def resume_state(self, config_json: str, wall: float) -> dict[str, Any]:
        """What ``restore`` reads back (``config_json``: the run's settings)."""
        resume = {"format": RESUME_FORMAT, "config": config_json, "iteration": self.iteration,
                  "log": json.dumps(self.log), "wall_time_s": wall, "model": self.model.state_dict(),
                  "optimizer": self.optimizer.state_dict(), "rng_cpu": torch.get_rng_state()}
        if self.final_accuracy is not None:
            resume["accuracy"] = float(self.final_accuracy)
        return resume

    def accuracy(self) -> float | None:
        """The final accuracy once measured, else the last log point's, else None."""
        if self.final_accuracy is not None:
            return self.final_accuracy
        return 100.0 - self.log[-1]["test_error"] if self.log else None


@dataclass(frozen=True)
class _CheckpointWriter:
    """Writes the resume state, then the checkpoint and its sidecar, each file atomically."""

    resume_path: Path
    ckpt_path: Path
    config_json: str
    meta_base: dict[str, Any]  # the sidecar fields that stay the same for the whole run
    total: int  # iterations of the whole run

    def save(self, state: _TrainingState, wall: float) -> None:
        try:
            self._save(state, wall)
        except OSError as exc:  # disk full, permissions: the previous files stay whole (atomic writes)
            raise VizError("train.write_failed", dir=str(self.ckpt_path.parent), reason=str(exc)[:200]) from None

    def _save(self, state: _TrainingState, wall: float) -> None:
        buf = io.BytesIO()
        torch.save(state.resume_state(self.config_json, wall), buf)
        atomic_write(self.resume_path, buf.getvalue())  # first: a kill between the two writes loses nothing
        accuracy = state.accuracy()
        meta = {**self.meta_base, "accuracy": None if accuracy is None else round(float(accuracy), 4),
                "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                "wall_time_s": round(wall, 2), "complete": state.iteration >= self.total, "log": state.log}
        save_checkpoint(state.model, self.ckpt_path, meta)


def _meta_base(run: _Run, data: _Data, total: int) -> dict[str, Any]:
    """The sidecar fields that stay the same for the whole run."""
    cfg, steps_per_epoch = run.cfg, len(data.train)
    return {
        "model": cfg.model, "shortcut": run.shortcut, "dataset": dataset_label(cfg.data), "data": str(cfg.data),
        "evaluated_on": data.eval_split, "classes": list(data.classes), "mean": list(data.mean),
        "std": list(data.std),
        "recipe": {**run.recipe.to_dict(), "epochs": _epochs_label(total, steps_per_epoch), "iterations": total,
                   "steps_per_epoch": steps_per_epoch, "eval_every": run.eval_every,
                   "log_eval_images": len(data.log_points.images)},
        "seed": run.seed, "hardware": hardware_string(run.device, run.world), "train_images": len(data.train.images),
        "eval_images": len(data.evaluation.images),
    }


# ---------------------------------------------------------------- the loop

class _Meters:
    """Training loss and accuracy since the previous log point, summed on the device (no sync per step)."""

    def __init__(self, device: torch.device) -> None:
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        self.correct = torch.zeros((), dtype=torch.int64, device=device)
        self.seen = torch.zeros((), dtype=torch.int64, device=device)

    def add(self, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        with torch.no_grad():
            self.loss_sum += loss.detach().double() * len(y)
            self.correct += (logits.argmax(1) == y).sum()
            self.seen += len(y)

    def postfix(self) -> dict[str, str]:
        """This process's loss and accuracy, for the progress bar."""
        k = max(int(self.seen), 1)
        return {"loss": f"{float(self.loss_sum) / k:.3f}", "acc": f"{100.0 * int(self.correct) / k:.1f}%"}

    def reduce(self, world: int) -> tuple[float, float]:
        """Mean loss and error (%) over every process."""
        stats = _all_reduce(torch.stack([self.loss_sum, self.correct.double(), self.seen.double()]), world)
        n = max(float(stats[2]), 1.0)
        return float(stats[0]) / n, 100.0 * (1 - float(stats[1]) / n)

    def reset(self) -> None:
        self.loss_sum.zero_()
        self.correct.zero_()
        self.seen.zero_()


@dataclass
class _Loop:
    """The epochs still to train in this process; every log point evaluates, logs and writes a checkpoint."""

    run: _Run
    data: _Data
    net: nn.Module  # the model as called: wrapped for DDP and/or compiled
    state: _TrainingState
    writer: _CheckpointWriter
    say: Callable[[str], None]
    total: int
    start: float = 0.0  # perf_counter() when this process began training
    halted: bool = False  # on_log asked to stop

    @property
    def steps_per_epoch(self) -> int:
        return len(self.data.train)

    @property
    def epochs(self) -> int:
        return math.ceil(self.total / self.steps_per_epoch)

    def stop_iteration(self) -> int:
        """Where this process stops: the end of the run, or earlier on request (the run stays resumable)."""
        cfg, stop = self.run.cfg, self.total
        if cfg.stop_after_epochs is not None:
            first = self.state.iteration // self.steps_per_epoch
            stop = min(self.total, (first + cfg.stop_after_epochs) * self.steps_per_epoch)
        if cfg.stop_at_iteration is not None:
            stop = min(stop, cfg.stop_at_iteration)
        return stop

    def run_epochs(self) -> None:
        self.start = time.perf_counter()
        stop = self.stop_iteration()
        for epoch in range(self.state.iteration // self.steps_per_epoch, self.epochs):
            if self.state.iteration >= stop or self.halted:
                break
            self.epoch(epoch, stop)

    def epoch(self, epoch: int, stop: int) -> None:
        run, state, loader = self.run, self.state, self.data.train
        loader.set_epoch(epoch)
        self.net.train()
        meters = _Meters(run.device)
        skip = state.iteration - epoch * self.steps_per_epoch  # > 0 when resuming in the middle of an epoch
        n_steps = min(self.steps_per_epoch, self.total - epoch * self.steps_per_epoch)
        bar = self._progress_bar(epoch, (n_steps - skip) * run.recipe.batch_size)
        for step, (x, y) in enumerate(loader):
            if step < skip:
                continue  # the batch is still drawn, so augmentation continues exactly where it stopped
            if step >= n_steps or state.iteration >= stop:
                break
            lr = self.step(x, y, meters)
            bar.update(run.recipe.batch_size)
            if run.main and run.cfg.progress and (step % 10 == 0 or step == n_steps - 1):
                bar.set_postfix(**meters.postfix(), lr=f"{lr:.3g}", refresh=False)
            last_step = step == n_steps - 1  # the end of an epoch, or of a run that ends inside one
            every = run.eval_every
            if last_step or state.iteration >= stop or (every and state.iteration % every == 0):
                self.log_point(meters, bar)
                if self.halted:
                    break
        bar.close()

    def step(self, x: torch.Tensor, y: torch.Tensor, meters: _Meters) -> float:
        """One SGD step at the schedule's learning rate, which it returns."""
        state, recipe = self.state, self.run.recipe
        lr = learning_rate(recipe, state.iteration, self.total)
        for group in state.optimizer.param_groups:
            group["lr"] = lr
        with autocast_context(self.run.device):
            logits = self.net(x)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=recipe.label_smoothing)
        state.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        state.optimizer.step()
        state.iteration += 1
        meters.add(loss, logits, y)
        return lr

    def log_point(self, meters: _Meters, bar: Any) -> None:
        """Training loss/error since the previous point, evaluation, a resumable checkpoint, one line of output."""
        run, state, data = self.run, self.state, self.data
        train_loss, train_error = meters.reduce(run.world)
        test_loss, test_error = self.evaluate(data.log_points)
        self.net.train()
        if state.iteration >= self.total and data.log_points is not data.evaluation:
            state.final_accuracy = 100.0 - self.evaluate(data.evaluation)[1]
        elif state.iteration >= self.total:
            state.final_accuracy = 100.0 - test_error
        wall = state.wall_before + time.perf_counter() - self.start
        entry = {"epoch": _epochs_label(state.iteration, self.steps_per_epoch), "iteration": state.iteration,
                 "lr": learning_rate(run.recipe, state.iteration - 1, self.total),
                 "train_loss": round(train_loss, 6), "train_error": round(train_error, 4),
                 "test_loss": round(test_loss, 6), "test_error": round(test_error, 4), "wall_time_s": round(wall, 2)}
        state.log.append(entry)
        meters.reset()
        if run.main:
            self.writer.save(state, wall)
            bar.clear()
            self.say(f"{run.cfg.model} epoch {entry['epoch']}/{self.epochs}: it {state.iteration}/{self.total}, "
                     f"lr {entry['lr']:.4g}, train loss {entry['train_loss']:.4f}, "
                     f"train error {entry['train_error']:.2f}%, {data.eval_split} error {entry['test_error']:.2f}%, "
                     f"{wall:.0f} s")
        _barrier(run.world)
        if run.cfg.on_log is not None:
            stop = torch.tensor(float(bool(run.cfg.on_log(dict(entry)))), device=run.device)
            self.halted = float(_all_reduce(stop, run.world)) > 0

    def evaluate(self, batches: BatchLoader) -> tuple[float, float]:
        """Mean loss and error (%) of the net on ``batches``, over every process."""
        loss_sum, confusion = confusion_and_loss(self.net, batches, len(self.data.classes), self.run.device)
        stats = _all_reduce(torch.stack([loss_sum, confusion.diagonal().sum().double(), confusion.sum().double()]),
                            self.run.world)
        n = max(float(stats[2]), 1.0)
        return float(stats[0]) / n, 100.0 * (1 - float(stats[1]) / n)

    def _progress_bar(self, epoch: int, images: int) -> Any:
        from tqdm import tqdm

        run, tty = self.run, sys.stderr.isatty()
        return tqdm(total=images, unit="img", unit_scale=True, disable=not (run.cfg.progress and run.main),
                    desc=f"{run.cfg.model} epoch {epoch + 1}/{self.epochs}", file=sys.stderr, leave=True,
                    mininterval=1.0 if tty else 60.0, dynamic_ncols=tty, ascii=not tty)


# ---------------------------------------------------------------- the training run

def train(cfg: TrainConfig, *, log_fn: Callable[[str], None] | None = None) -> TrainResult:
    """Run (or resume) one training run; returns the final checkpoint path and its test accuracy."""
    say = log_fn or (lambda msg: print(msg, file=sys.stderr, flush=True))
    run, saved = _setup(cfg)
    data = _load_data(run)
    state = _TrainingState.start(run, _build_model(run, len(data.classes)), saved)
    steps_per_epoch = len(data.train)
    total = run.recipe.total_iterations(steps_per_epoch)
    writer = _CheckpointWriter(run.resume_path, run.ckpt_path, run.config_json(), _meta_base(run, data, total), total)
    loop = _Loop(run, data, _wrap_model(run, state.model), state, writer, say, total)
    if saved is not None:
        say(f"resuming {cfg.model} from iteration {state.iteration}/{total} "
            f"(epoch {state.iteration / steps_per_epoch:.2f}/{loop.epochs})")
        if run.main and not _checkpoint_matches(run.ckpt_path, len(state.log)):
            writer.save(state, state.wall_before)  # a kill between the two files of the last save left them mixed
    loop.run_epochs()
    complete = state.iteration >= total
    accuracy = state.accuracy()
    if accuracy is None:
        accuracy = float("nan")
    meta = {**writer.meta_base, "accuracy": accuracy, "complete": complete, "log": state.log}
    return TrainResult(run.ckpt_path, float(accuracy), complete, state.log, meta)


def cleanup_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
