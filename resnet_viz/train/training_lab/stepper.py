"""The training lab's stepper: the nets of a run trained side by side, one iteration of each per ``step()``, on the
same batches in the same order; tested on the shipped test sample when due; handed over as models at the end.

A step's nets run on two threads (``resnet_viz.work.WORKERS``; torch releases the GIL in its ops, so two cores
while the process keeps one torch thread), and a Stop is seen between one net's iteration and the next: training
ends within one net's iteration (about 0.1-0.3 s for the lab's default nets and batch on a 2-core CPU)."""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz.checkpoints.read import LoadedModel
from resnet_viz.cost import network_macs
from resnet_viz.data import TRAIN_SUBSET_LABEL, BatchLoader, channel_stats
from resnet_viz.models.registry import MODELS
from resnet_viz.samples import load_test_sample, load_train_subset
from resnet_viz.seeded import seeded
from resnet_viz.train.evaluate import autocast_context, confusion_and_loss
from resnet_viz.train.recipes import Recipe, learning_rate
from resnet_viz.train.training_lab.settings import LabSettings, NetChoice, check_settings, run_work
from resnet_viz.work import WORKERS, parallel_map

EVAL_BATCH = 500
TRAINING, DONE, STOPPED, DIVERGED = "training", "done", "stopped", "diverged"


# ---------------------------------------------------------------- data

@functools.lru_cache(maxsize=1)
def lab_data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, tuple[str, ...]]:
    """The training subset and the test sample (uint8 tensors, labels) and the class names, decoded once."""
    train_x, train_y, classes = load_train_subset()
    test_x, test_y, _ = load_test_sample()
    return train_x, train_y, test_x, test_y, classes


# ---------------------------------------------------------------- one net, and what it has done so far

@dataclass
class NetTrack:
    """One net of a run: its model and optimizer, its status and its curves (per iteration and per test)."""

    choice: NetChoice
    model: nn.Module
    optimizer: torch.optim.Optimizer
    status: str = TRAINING
    iteration: int = 0
    train_loss: list[float] = field(default_factory=list)  # one entry per iteration
    train_acc: list[float] = field(default_factory=list)  # % of the batch
    test_points: list[tuple[int, float, float]] = field(default_factory=list)  # (iteration, accuracy %, loss)
    seconds: float = 0.0  # time spent in its training steps
    log: list[dict[str, Any]] = field(default_factory=list)  # loop.py's log entries, at every test point
    _since: list[tuple[float, float]] = field(default_factory=list)  # (loss, acc) since the previous test point

    @property
    def test_accuracy(self) -> float | None:
        return self.test_points[-1][1] if self.test_points else None

    @property
    def active(self) -> bool:
        return self.status == TRAINING


@dataclass(frozen=True)
class StepReport:
    """What one ``LabRun.step`` did: each net's training loss and batch accuracy (None: it did not step), the
    test accuracies measured after it (net index -> %), and the step's time."""

    iteration: int
    loss: tuple[float | None, ...]
    accuracy: tuple[float | None, ...]
    tested: dict[int, float]
    seconds: float


def _untrained(choice: NetChoice, seed: int, num_classes: int) -> nn.Module:
    """The untrained net in training mode (the same for a seed whatever else is trained beside it)."""
    with seeded(seed):
        model = MODELS[choice.name].build(shortcut=choice.shortcut if choice.residual else None,
                                          num_classes=num_classes)
    return model.to(memory_format=torch.channels_last).train()


def _build(choice: NetChoice, seed: int, recipe: Recipe, num_classes: int) -> tuple[nn.Module, torch.optim.Optimizer]:
    """The untrained net and its optimizer."""
    model = _untrained(choice, seed, num_classes)
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                                weight_decay=recipe.weight_decay, nesterov=recipe.nesterov)
    return model, optimizer


# ---------------------------------------------------------------- the stepper

class LabRun:
    """The nets of ``settings`` trained side by side on ``workers`` threads, one iteration per ``step()``, until
    ``done``."""

    def __init__(self, settings: LabSettings, device: str | torch.device = "cpu", workers: int = WORKERS) -> None:
        self.settings = settings
        self.workers = workers
        self.recipe = check_settings(settings)
        self.device = torch.device(device)
        train_x, train_y, test_x, test_y, self.classes = lab_data()
        self.mean, self.std = channel_stats(train_x)
        self.train_loader = BatchLoader(train_x, train_y, batch_size=self.recipe.batch_size, mean=self.mean,
                                        std=self.std, device=self.device, train=True, pad=self.recipe.pad,
                                        flip=self.recipe.flip, seed=settings.seed, channels_last=True)
        test_x, test_y = test_x[:settings.test_images], test_y[:settings.test_images]
        self.test_loader = BatchLoader(test_x, test_y, batch_size=EVAL_BATCH, mean=self.mean, std=self.std,
                                       device=self.device, channels_last=True)
        self.nets = [NetTrack(c, *_build(c, settings.seed, self.recipe, len(self.classes))) for c in settings.nets]
        self.iteration = 0
        self.started = time.perf_counter()
        self.step_seconds: list[float] = []
        self._batches = self._stream()
        self._stop = threading.Event()

    @property
    def total(self) -> int:
        return self.settings.iterations

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def done(self) -> bool:
        return self.stopped or self.iteration >= self.total or not any(n.active for n in self.nets)

    def stop(self) -> None:
        """Ask the run to end (from any thread): the nets' iterations under way finish, the others of the step do not
        start; then the nets are tested once."""
        self._stop.set()

    def _stream(self):
        """The training batches, epoch after epoch (each epoch's order and crops depend on the seed only)."""
        epoch = 0
        while True:
            self.train_loader.set_epoch(epoch)
            yield from self.train_loader
            epoch += 1

    def step(self) -> StepReport:
        """One iteration of every net still training, on one batch; a test after it when one is due. A Stop during
        the step keeps the nets that have not started their iteration where they are."""
        if self.done:
            raise RuntimeError("the run is over")
        start = time.perf_counter()
        x, y = next(self._batches)
        lr = learning_rate(self.recipe, self.iteration, self.total)
        active = [net for net in self.nets if net.active]

        def one(_worker: int, net: NetTrack) -> tuple[float, float] | None:
            return None if self.stopped else self._train_step(net, x, y, lr)

        stepped = dict(zip(map(id, active), parallel_map(one, active, workers=self.workers)))
        results = [stepped.get(id(net)) for net in self.nets]
        self.iteration += 1
        tested = self._test_if_due()
        seconds = time.perf_counter() - start
        self.step_seconds.append(seconds)
        return StepReport(self.iteration, tuple(r[0] if r else None for r in results),
                          tuple(r[1] if r else None for r in results), tested, seconds)

    def _train_step(self, net: NetTrack, x: torch.Tensor, y: torch.Tensor, lr: float) -> tuple[float, float] | None:
        """loop.py's step for one net: (loss, batch accuracy %), or None when the loss is not finite (the net is
        then marked diverged and its weights are not updated with it)."""
        start = time.perf_counter()
        for group in net.optimizer.param_groups:
            group["lr"] = lr
        with autocast_context(self.device):
            logits = net.model(x)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=self.recipe.label_smoothing)
        value = float(loss.detach())
        if not math.isfinite(value):
            net.status = DIVERGED
            return None
        net.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        net.optimizer.step()
        accuracy = 100.0 * float((logits.argmax(1) == y).float().mean())
        net.iteration += 1
        net.train_loss.append(value)
        net.train_acc.append(accuracy)
        net._since.append((value, accuracy))
        net.seconds += time.perf_counter() - start
        return value, accuracy

    def _test_if_due(self) -> dict[int, float]:
        last = self.iteration >= self.total
        if not (last or self.iteration % self.settings.test_every == 0):
            return {}
        return self.test_all()

    def test_all(self) -> dict[int, float]:
        """Test every net not yet tested at this iteration and not diverged (side by side on the worker threads):
        index -> accuracy on the sample."""
        due = [(i, net) for i, net in enumerate(self.nets)
               if net.status != DIVERGED and not (net.test_points and net.test_points[-1][0] == net.iteration)]

        def measure(_worker: int, item: tuple[int, NetTrack]) -> tuple[torch.Tensor, torch.Tensor]:
            with torch.no_grad():  # no graph for the backward pass a test never takes
                return confusion_and_loss(item[1].model, self.test_loader, len(self.classes), self.device)

        out = {}
        for (i, net), (loss_sum, confusion) in zip(due, parallel_map(measure, due, workers=self.workers)):
            n = max(int(confusion.sum()), 1)
            accuracy, loss = 100.0 * int(confusion.diagonal().sum()) / n, float(loss_sum) / n
            net.test_points.append((net.iteration, accuracy, loss))
            net.log.append(self._log_entry(net, accuracy, loss))
            net._since.clear()
            out[i] = accuracy
        return out

    def _log_entry(self, net: NetTrack, accuracy: float, loss: float) -> dict[str, Any]:
        """A log entry in loop.py's format (what the Figure 6 reader and the checkpoint sidecar keep)."""
        since = net._since or [(float("nan"), float("nan"))]
        steps = len(self.train_loader)
        return {"epoch": round(net.iteration / steps, 4), "iteration": net.iteration,
                "lr": learning_rate(self.recipe, max(net.iteration - 1, 0), self.total),
                "train_loss": round(sum(s[0] for s in since) / len(since), 6),
                "train_error": round(100.0 - sum(s[1] for s in since) / len(since), 4),
                "test_loss": round(loss, 6), "test_error": round(100.0 - accuracy, 4),
                "wall_time_s": round(net.seconds, 2)}

    def finish(self) -> None:
        """After the last step (or a stop): every net that trained gets its final test, and stops training."""
        self.test_all()
        for net in self.nets:
            if net.active:
                net.status = DONE if net.iteration >= self.total else STOPPED

    # ------------------------------------------------------------ progress

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def eta_seconds(self) -> float | None:
        """Time left at the recent steps' pace (None before the first step)."""
        if not self.step_seconds:
            return None
        recent = self.step_seconds[-20:]
        return (self.total - self.iteration) * sum(recent) / len(recent)

    def images_per_second(self) -> float:
        """Training images per second over every net's steps (what the ``train`` command prints per net)."""
        seconds = sum(n.seconds for n in self.nets)
        images = sum(n.iteration for n in self.nets) * self.recipe.batch_size
        return images / seconds if seconds else 0.0

    def run(self, on_step: Callable[[StepReport], None] | None = None) -> None:
        """Every step in one go (a benchmark, a notebook), then ``finish``."""
        while not self.done:
            report = self.step()
            if on_step is not None:
                on_step(report)
        self.finish()

    # ------------------------------------------------------------ the trained nets as models

    def meta(self, net: NetTrack) -> dict[str, Any]:
        """The checkpoint sidecar of ``net``: the project's own fields (``loop.py``'s ``_meta_base`` and more)."""
        accuracy = net.test_accuracy
        return {"model": net.choice.name, "shortcut": net.choice.shortcut if net.choice.residual else None,
                "dataset": TRAIN_SUBSET_LABEL, "data": "resnet_viz.samples.TRAIN_SUBSET", "evaluated_on": "test sample",
                "classes": list(self.classes), "mean": list(self.mean), "std": list(self.std),
                "recipe": {**self.recipe.to_dict(), "iterations": self.total,
                           "steps_per_epoch": len(self.train_loader), "eval_every": self.settings.test_every,
                           "log_eval_images": len(self.test_loader.images)},
                "seed": self.settings.seed, "train_images": len(self.train_loader.images),
                "eval_images": len(self.test_loader.images), "trained_iterations": net.iteration,
                "accuracy": None if accuracy is None else round(accuracy, 4), "complete": net.status == DONE,
                "wall_time_s": round(net.seconds, 2), "trained_in": "training lab", "log": net.log}

    def trained_models(self) -> list[LoadedModel]:
        """Every net that trained and did not diverge, as a ready model in eval mode (after ``finish``: the nets
        are handed over, not copied, and their optimizer state is let go)."""
        if any(n.active for n in self.nets):
            raise RuntimeError("finish the run first")
        self._batches.close()
        out = []
        for net in self.nets:
            if net.status == DIVERGED or net.iteration == 0:
                continue
            net.optimizer.state.clear()
            spec = MODELS[net.choice.name]
            model = net.model.to(memory_format=torch.contiguous_format)
            shortcut = net.choice.shortcut if net.choice.residual else None
            out.append(LoadedModel(model.eval(), spec, "trained", net.choice.label, tuple(self.mean), tuple(self.std),
                                   tuple(self.classes), shortcut=shortcut, resize_size=spec.resize_size,
                                   meta=self.meta(net)))
        return out


def calibration(settings: LabSettings, steps: int = 2,
                clock: Callable[[], float] = time.perf_counter) -> tuple[float, float]:
    """(``run_work`` of a whole run of ``settings``, its seconds on this machine): the fastest of ``steps`` forward and
    backward passes of its nets on one batch, side by side on the lab's worker threads as a step trains them (after an
    untimed one), scaled to the run; its tests' forward passes counted at a third of a training step's time per
    multiply-add (``run_work``'s rule). No optimizer is built: torch's optimizers import about 150 MB of modules that
    a server whose students never train need not hold; the update itself is a small part of a step."""
    check_settings(settings)
    classes = len(lab_data()[-1])
    nets = [_untrained(c, settings.seed, classes) for c in settings.nets]
    x = torch.rand(settings.batch_size, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.arange(settings.batch_size) % classes

    def one(_worker: int, net: nn.Module) -> None:
        net.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()

    parallel_map(one, nets, workers=WORKERS)
    fastest = float("inf")
    for _ in range(steps):  # the fastest: another process that took the cores for part of it would slow one step
        start = clock()
        parallel_map(one, nets, workers=WORKERS)
        fastest = min(fastest, clock() - start)
    per_unit = fastest / run_work(settings, 1)
    tests = math.ceil(settings.iterations / settings.test_every)  # every test_every-th iteration, and the last
    test_work = tests * settings.test_images * sum(network_macs(c.name) for c in settings.nets)
    work = run_work(settings)
    return work, per_unit * (work + test_work / 3)
