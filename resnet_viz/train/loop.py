"""Training CIFAR-style classifiers (ResNets and plain nets alike) with a device-resident pipeline.

Recipes:
- ``paper``: section 4.2 of He et al. (2015): SGD with momentum 0.9, weight decay 1e-4, batch 128, lr 0.1
  divided by 10 at 32k and 48k iterations, 64k iterations, 4-pixel zero-pad crop + horizontal flip;
  ResNet-110 (and deeper) warms up at lr 0.01 for the first 400 iterations. ``val_split=5000`` gives the
  paper's 45k/5k train/validation split.
- ``fast``: a short schedule: batch 256, Nesterov SGD, peak lr 0.2 reached linearly over the first 15% of
  the iterations and decayed linearly to 0 (one cycle), weight decay 5e-4, label smoothing 0.1, same
  augmentation, 30 epochs by default.

Every epoch (and, with ``eval_every``, every N iterations) appends one entry to the log (training
loss/error since the previous entry, evaluation loss/error, lr, iteration, wall time), then writes
(atomically) the resume state ``<out>/<name>.resume.pt`` and the checkpoint ``<out>/<name>.safetensors`` +
``.json`` sidecar. A run killed at any moment resumes from its last log point with ``resume=True``; batch
order and augmentation depend only on (seed, epoch), so the resumed run sees the batches it would have
seen (mid-epoch, the batches already trained on are drawn again and skipped).

Under ``torchrun`` (WORLD_SIZE > 1) the model is wrapped in DistributedDataParallel (NCCL on CUDA, gloo
on CPU); each rank trains on its shard of every global batch; only rank 0 writes files.
"""

from __future__ import annotations

import dataclasses
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
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from resnet_viz.checkpoints.write import atomic_write, save_checkpoint
from resnet_viz.data import BatchLoader, channel_stats, dataset_label, load_split
from resnet_viz.errors import InputError, VizError
from resnet_viz.models.registry import get_spec
from resnet_viz.train.evaluate import autocast_context, confusion_and_loss, resolve_device

RESUME_FORMAT = "resnet_viz-resume/1"


@dataclass(frozen=True)
class Recipe:
    name: str
    epochs: int | None  # one of epochs / iterations sets the length
    iterations: int | None
    batch_size: int
    lr: float
    weight_decay: float
    momentum: float
    nesterov: bool
    schedule: str  # "steps" (divide by 10 at the milestones) or "onecycle" (linear up, linear down)
    milestones: tuple[float, ...] = ()  # fractions of the total iterations, for "steps"
    warmup_fraction: float = 0.0  # for "onecycle"
    warmup_iterations: int = 0  # constant warm-up lr for "steps" (the paper's ResNet-110 trick)
    warmup_lr: float = 0.0
    label_smoothing: float = 0.0
    pad: int = 4
    flip: bool = True
    val_split: int = 0  # hold out this many training images as the evaluation set (0: use the test split)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["milestones"] = list(self.milestones)
        return d


def paper_recipe(model: str) -> Recipe:
    deep = get_spec(model).depth >= 110
    return Recipe(name="paper", epochs=None, iterations=64_000, batch_size=128, lr=0.1, weight_decay=1e-4,
                  momentum=0.9, nesterov=False, schedule="steps", milestones=(0.5, 0.75),
                  warmup_iterations=400 if deep else 0, warmup_lr=0.01 if deep else 0.0)


def fast_recipe(model: str) -> Recipe:
    return Recipe(name="fast", epochs=30, iterations=None, batch_size=256, lr=0.2, weight_decay=5e-4,
                  momentum=0.9, nesterov=True, schedule="onecycle", warmup_fraction=0.15, label_smoothing=0.1)


RECIPES: dict[str, Callable[[str], Recipe]] = {"paper": paper_recipe, "fast": fast_recipe}


def make_recipe(name: str, model: str, *, epochs: int | None = None, iterations: int | None = None,
                batch_size: int | None = None, lr: float | None = None, val_split: int | None = None) -> Recipe:
    """A named recipe with the user's overrides (epochs and iterations exclude each other)."""
    if name not in RECIPES:
        raise InputError("train.unknown_recipe", recipe=name, recipes=", ".join(RECIPES))
    r = RECIPES[name](model)
    changes: dict[str, Any] = {}
    if epochs is not None and iterations is not None:
        raise InputError("train.epochs_and_iterations")
    if epochs is not None:
        if epochs < 1:
            raise InputError("train.bad_number", name="epochs", value=epochs)
        changes.update(epochs=int(epochs), iterations=None)
    if iterations is not None:
        if iterations < 1:
            raise InputError("train.bad_number", name="iterations", value=iterations)
        changes.update(iterations=int(iterations), epochs=None)
    if batch_size is not None:
        if batch_size < 1:
            raise InputError("train.bad_number", name="batch-size", value=batch_size)
        changes["batch_size"] = int(batch_size)
    if lr is not None:
        if not (lr > 0 and math.isfinite(lr)):
            raise InputError("train.bad_number", name="lr", value=lr)
        changes["lr"] = float(lr)
    if val_split is not None:
        if val_split < 0:
            raise InputError("train.bad_number", name="val-split", value=val_split)
        changes["val_split"] = int(val_split)
    return dataclasses.replace(r, **changes)


def learning_rate(recipe: Recipe, iteration: int, total: int) -> float:
    """The learning rate of ``iteration`` (0-based) in a run of ``total`` iterations."""
    if recipe.schedule == "steps":
        if iteration < recipe.warmup_iterations:
            return recipe.warmup_lr
        drops = sum(iteration >= round(m * total) for m in recipe.milestones)
        return recipe.lr * 0.1**drops
    if recipe.schedule == "onecycle":
        warm = max(1, round(recipe.warmup_fraction * total))
        if iteration < warm:
            return recipe.lr * (iteration + 1) / warm
        return recipe.lr * max(0.0, (total - iteration) / max(1, total - warm))
    raise ValueError(f"unknown schedule {recipe.schedule!r}")


@dataclass
class TrainConfig:
    model: str
    data: str
    recipe: str = "fast"
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
    threads: int | None = None
    eval_batch_size: int = 1000
    progress: bool = True
    stop_after_epochs: int | None = None  # end this process early (the run stays resumable)
    stop_at_iteration: int | None = None
    eval_every: int | None = None  # also log, evaluate and checkpoint every N iterations (not only per epoch)
    eval_limit: int | None = None  # evaluate those intermediate points on a fixed subset of this many images


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
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size()


def _all_reduce(t: torch.Tensor, world: int) -> torch.Tensor:
    if world > 1:
        dist.all_reduce(t)
    return t


def _barrier(world: int) -> None:
    if world > 1:
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


# ---------------------------------------------------------------- the training run

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


def train(cfg: TrainConfig, *, log_fn: Callable[[str], None] | None = None) -> TrainResult:
    """Run (or resume) one training run; returns the final checkpoint path and its test accuracy."""
    say = log_fn or (lambda msg: print(msg, file=sys.stderr, flush=True))
    spec = get_spec(cfg.model)
    if spec.dataset != "cifar10":
        raise InputError("train.not_cifar", model=cfg.model)
    device = resolve_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    rank, world = _dist_setup(device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    main = rank == 0
    ckpt_path, resume_path = _paths(cfg)

    state: dict[str, Any] | None = None
    if cfg.resume and resume_path.is_file():
        state = _load_resume(resume_path)
        saved = json.loads(state["config"])
        if saved["model"] != cfg.model:
            raise InputError("train.resume_other_model", file=str(resume_path), saved=saved["model"], model=cfg.model)
        recipe = Recipe(**{**saved["recipe"], "milestones": tuple(saved["recipe"]["milestones"])})
        seed, shortcut = int(saved["seed"]), saved["shortcut"]
        eval_every, eval_limit = saved.get("eval_every"), saved.get("eval_limit")
    else:
        if main and not cfg.resume and not cfg.overwrite and (resume_path.is_file() or ckpt_path.is_file()):
            raise InputError("train.exists", file=str(ckpt_path))
        recipe = make_recipe(cfg.recipe, cfg.model, epochs=cfg.epochs, iterations=cfg.iterations,
                             batch_size=cfg.batch_size, lr=cfg.lr, val_split=cfg.val_split)
        seed = int(cfg.seed)
        shortcut = (cfg.shortcut or spec.default_shortcut) if spec.residual else None
        eval_every, eval_limit = cfg.eval_every, cfg.eval_limit
        for label, value in (("eval-every", eval_every), ("eval-limit", eval_limit)):
            if value is not None and value < 1:
                raise InputError("train.bad_number", name=label, value=value)
    if recipe.batch_size % world:
        raise InputError("train.batch_not_divisible", batch=recipe.batch_size, world=world)

    # Data: rank 0 decodes and fills the cache first, the other ranks then read the cache.
    if not main:
        _barrier(world)
    train_x, train_y, classes = load_split(cfg.data, "train")
    if recipe.val_split:
        if recipe.val_split >= len(train_x):
            raise InputError("train.bad_number", name="val-split", value=recipe.val_split)
        perm = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(seed))
        held, kept = perm[:recipe.val_split], perm[recipe.val_split:]
        test_x, test_y = train_x[held], train_y[held]
        train_x, train_y = train_x[kept], train_y[kept]
        eval_split = "val"
    else:
        test_x, test_y, test_classes = load_split(cfg.data, "test")
        if tuple(test_classes) != tuple(classes):
            raise InputError("train.class_mismatch")
        eval_split = "test"
    if main:
        _barrier(world)
    if len(train_x) < recipe.batch_size:
        raise InputError("train.too_few_images", count=len(train_x), batch=recipe.batch_size)
    mean, std = channel_stats(train_x)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = spec.build(shortcut=shortcut, num_classes=len(classes))
    # channels_last pays on CPUs too (oneDNN convolutions): +19 % img/s for ResNet-20, +37 % for ResNet-110.
    model = model.to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                                weight_decay=recipe.weight_decay, nesterov=recipe.nesterov)
    loader = BatchLoader(train_x, train_y, batch_size=recipe.batch_size, mean=mean, std=std, device=device,
                         train=True, pad=recipe.pad, flip=recipe.flip, seed=seed, rank=rank, world_size=world,
                         channels_last=True)
    eval_loader = BatchLoader(test_x, test_y, batch_size=cfg.eval_batch_size, mean=mean, std=std, device=device,
                              train=False, rank=rank, world_size=world, channels_last=True)
    log_loader = eval_loader
    if eval_limit and eval_limit < len(test_x):
        # Intermediate log points use a fixed random subset of the evaluation split (cheap on a CPU);
        # the final accuracy is always measured on the whole split.
        pick = torch.randperm(len(test_x), generator=torch.Generator().manual_seed(seed))[:eval_limit].sort().values
        log_loader = BatchLoader(test_x[pick], test_y[pick], batch_size=cfg.eval_batch_size, mean=mean, std=std,
                                 device=device, train=False, rank=rank, world_size=world, channels_last=True)
    steps_per_epoch = len(loader)
    total = recipe.iterations if recipe.iterations is not None else recipe.epochs * steps_per_epoch
    epochs = math.ceil(total / steps_per_epoch)

    log: list[dict[str, Any]] = []
    iteration, wall_before, final_accuracy = 0, 0.0, None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        iteration = int(state["iteration"])
        log = json.loads(state["log"])
        wall_before = float(state["wall_time_s"])
        final_accuracy = state.get("accuracy")
        torch.set_rng_state(state["rng_cpu"])
        say(f"resuming {cfg.model} from iteration {iteration}/{total} (epoch {iteration / steps_per_epoch:.2f}/{epochs})")
    else:
        torch.manual_seed(seed)

    net: nn.Module = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.compile:
        net = torch.compile(net)

    meta_base = {
        "model": cfg.model, "shortcut": shortcut, "dataset": dataset_label(cfg.data), "data": str(cfg.data),
        "evaluated_on": eval_split, "classes": list(classes), "mean": list(mean), "std": list(std),
        "recipe": {**recipe.to_dict(), "epochs": _epochs_label(total, steps_per_epoch), "iterations": total,
                   "steps_per_epoch": steps_per_epoch, "eval_every": eval_every,
                   "log_eval_images": len(log_loader.images)},
        "seed": seed, "hardware": hardware_string(device, world), "train_images": len(train_x),
        "eval_images": len(test_x),
    }
    config_json = json.dumps({"model": cfg.model, "recipe": recipe.to_dict(), "seed": seed, "shortcut": shortcut,
                              "data": str(cfg.data), "eval_every": eval_every, "eval_limit": eval_limit})

    def save(wall: float) -> None:
        try:
            _save(wall)
        except OSError as exc:  # disk full, permissions: the previous files stay whole (atomic writes)
            raise VizError("train.write_failed", dir=str(ckpt_path.parent), reason=str(exc)[:200]) from None

    def _save(wall: float) -> None:
        complete = iteration >= total
        resume = {"format": RESUME_FORMAT, "config": config_json, "iteration": iteration, "log": json.dumps(log),
                  "wall_time_s": wall, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                  "rng_cpu": torch.get_rng_state()}
        if final_accuracy is not None:
            resume["accuracy"] = float(final_accuracy)
        buf = io.BytesIO()
        torch.save(resume, buf)
        atomic_write(resume_path, buf.getvalue())  # first: a kill between the two writes loses nothing
        accuracy = final_accuracy if final_accuracy is not None else (100.0 - log[-1]["test_error"] if log else None)
        meta = {**meta_base, "accuracy": None if accuracy is None else round(float(accuracy), 4),
                "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                "wall_time_s": round(wall, 2), "complete": complete, "log": log}
        save_checkpoint(model, ckpt_path, meta)

    def evaluate_on(batches) -> tuple[float, float, int]:
        loss_sum, confusion = confusion_and_loss(net, batches, len(classes), device)
        stats = _all_reduce(torch.stack([loss_sum, confusion.diagonal().sum().double(), confusion.sum().double()]),
                            world)
        n = max(float(stats[2]), 1.0)
        return float(stats[0]) / n, 100.0 * (1 - float(stats[1]) / n), int(stats[2])

    if state is not None and main and not _checkpoint_matches(ckpt_path, len(log)):
        save(wall_before)  # a kill between the two files of the last save left them from different points

    start = time.perf_counter()
    from tqdm import tqdm

    tty = sys.stderr.isatty()
    stop_iteration = total
    if cfg.stop_after_epochs is not None:
        stop_iteration = min(total, (iteration // steps_per_epoch + cfg.stop_after_epochs) * steps_per_epoch)
    if cfg.stop_at_iteration is not None:
        stop_iteration = min(stop_iteration, cfg.stop_at_iteration)
    for epoch in range(iteration // steps_per_epoch, epochs):
        if iteration >= stop_iteration:
            break
        loader.set_epoch(epoch)
        net.train()
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        seen = torch.zeros((), dtype=torch.int64, device=device)
        skip = iteration - epoch * steps_per_epoch  # > 0 when resuming in the middle of an epoch
        n_steps = min(steps_per_epoch, total - epoch * steps_per_epoch)
        bar = tqdm(total=(n_steps - skip) * recipe.batch_size, unit="img", unit_scale=True,
                   disable=not (cfg.progress and main), desc=f"{cfg.model} epoch {epoch + 1}/{epochs}",
                   file=sys.stderr, leave=True, mininterval=1.0 if tty else 60.0, dynamic_ncols=tty, ascii=not tty)
        for step, (x, y) in enumerate(loader):
            if step < skip:
                continue  # the batch is still drawn, so augmentation continues exactly where it stopped
            if step >= n_steps or iteration >= stop_iteration:
                break
            lr = learning_rate(recipe, iteration, total)
            for group in optimizer.param_groups:
                group["lr"] = lr
            with autocast_context(device):
                logits = net(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=recipe.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            iteration += 1
            with torch.no_grad():
                loss_sum += loss.detach().double() * len(y)
                correct += (logits.argmax(1) == y).sum()
                seen += len(y)
            bar.update(recipe.batch_size)
            if main and cfg.progress and (step % 10 == 0 or step == n_steps - 1):
                k = max(int(seen), 1)
                bar.set_postfix(loss=f"{float(loss_sum) / k:.3f}", acc=f"{100.0 * int(correct) / k:.1f}%",
                                lr=f"{lr:.3g}", refresh=False)
            last_step = step == n_steps - 1  # the end of an epoch, or of a run that ends inside one
            if not (last_step or iteration >= stop_iteration or (eval_every and iteration % eval_every == 0)):
                continue
            # A log point: training loss/error since the previous point, evaluation, resumable checkpoint.
            stats = _all_reduce(torch.stack([loss_sum, correct.double(), seen.double()]), world)
            test_loss, test_error, _ = evaluate_on(log_loader)
            net.train()
            if iteration >= total and log_loader is not eval_loader:
                final_accuracy = 100.0 - evaluate_on(eval_loader)[1]
            elif iteration >= total:
                final_accuracy = 100.0 - test_error
            wall = wall_before + time.perf_counter() - start
            n = max(float(stats[2]), 1.0)
            entry = {"epoch": _epochs_label(iteration, steps_per_epoch),
                     "iteration": iteration, "lr": learning_rate(recipe, iteration - 1, total),
                     "train_loss": round(float(stats[0]) / n, 6), "train_error": round(100.0 * (1 - float(stats[1]) / n), 4),
                     "test_loss": round(test_loss, 6), "test_error": round(test_error, 4), "wall_time_s": round(wall, 2)}
            log.append(entry)
            loss_sum.zero_()
            correct.zero_()
            seen.zero_()
            if main:
                save(wall)
                bar.clear()
                say(f"{cfg.model} epoch {entry['epoch']}/{epochs}: it {iteration}/{total}, lr {entry['lr']:.4g}, "
                    f"train loss {entry['train_loss']:.4f}, train error {entry['train_error']:.2f}%, "
                    f"{eval_split} error {entry['test_error']:.2f}%, {wall:.0f} s")
            _barrier(world)
        bar.close()

    complete = iteration >= total
    accuracy = final_accuracy if final_accuracy is not None else (100.0 - log[-1]["test_error"] if log else float("nan"))
    meta = {**meta_base, "accuracy": accuracy, "complete": complete, "log": log}
    return TrainResult(ckpt_path, float(accuracy), complete, log, meta)


def cleanup_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
