"""The training lab: up to three CIFAR nets trained side by side on the shipped 5,000-image training subset.

The nets take their steps in turn (net 1, net 2, net 3, then the next iteration), on the same batches in the same
order, so their curves grow together and differ only by the architecture. Test accuracy is measured on the shipped
1,000-image test sample every ``eval_every`` iterations and at the end. A net whose loss stops being finite is
marked "diverged" and left behind; the others go on.

``LabRun`` is the stepper (``step()`` until ``done``, ``stop()`` at any time); ``LabJob`` runs one in a
background thread, in turn in a ``WorkQueue``, and keeps only what a page reads (a plain object: the thread
never touches a user interface). The thread holds its job by a weak reference between steps: a job nobody
holds any more (its session ended) stops at the next step and its memory goes with it.

The recipe is the paper's (section 4.2: SGD, momentum 0.9, weight decay 1e-4, lr 0.1 divided by 10 at half and three
quarters of the run), scaled to the lab's few hundred iterations, with a batch of 32 by default (the paper's: 128);
the loop is ``loop.py``'s step.
"""

from __future__ import annotations

import functools
import math
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz.checkpoints.read import LoadedModel
from resnet_viz.checkpoints.write import save_checkpoint
from resnet_viz.data import JPEG_COPY_LABEL, BatchLoader, channel_stats
from resnet_viz.errors import InputError, VizError
from resnet_viz.i18n import t
from resnet_viz.models.registry import MODELS, ModelSpec, display_name
from resnet_viz.samples import load_test_sample, load_train_subset
from resnet_viz.train.evaluate import autocast_context, confusion_and_loss
from resnet_viz.train.recipes import Recipe, learning_rate, make_recipe
from resnet_viz.work import WorkQueue

MAX_NETS = 3
MAX_ITERATIONS = 5000
MAX_DEPTH = 110  # the deepest zoo net a CPU trains in a lab session (ResNet-1202 is the zoo's, not the lab's)
MAX_BATCH = 512
MAX_LR = 5.0  # far above any useful rate (the paper's is 0.1): higher values are typing mistakes
DEFAULT_NETS = ("plain20", "plain56", "resnet56")
DEFAULT_ITERATIONS = 200
# The app's choice (the paper's batch is 128): a quarter of the work per step, so a 2-core CPU takes about four times
# as many steps in the minute or two a student watches.
DEFAULT_BATCH = 32
DEFAULT_LR = 0.1
TEST_POINTS = 10  # test-sample evaluations per run, unless eval_every says otherwise
EVAL_BATCH = 500
TEST_IMAGES = 1000  # the whole shipped test sample
DATASET_LABEL = f"{JPEG_COPY_LABEL}, 5,000-image training subset"
TRAINING, DONE, STOPPED, DIVERGED = "training", "done", "stopped", "diverged"


# ---------------------------------------------------------------- settings and their checks

@dataclass(frozen=True)
class NetChoice:
    """One net of the lab: plain or residual, a depth 6n+2, a shortcut option for the residual ones."""

    residual: bool
    depth: int
    shortcut: str = "A"

    @property
    def name(self) -> str:
        return f"{'resnet' if self.residual else 'plain'}{self.depth}"

    @property
    def label(self) -> str:
        """The paper's name, with the option when it is not the paper's CIFAR choice (A)."""
        base = display_name(self.name)
        return base if not self.residual or self.shortcut == "A" else f"{base} ({self.shortcut})"

    @classmethod
    def of(cls, name: str, shortcut: str = "A") -> NetChoice:
        """``"resnet56"`` -> NetChoice(True, 56); the depth is checked by ``check_settings``."""
        residual = name.lower().startswith("resnet")
        digits = name.lower().removeprefix("resnet").removeprefix("plain")
        return cls(residual, int(digits) if digits.isdigit() else 0, shortcut)


@dataclass(frozen=True)
class LabSettings:
    nets: tuple[NetChoice, ...] = tuple(NetChoice.of(n) for n in DEFAULT_NETS)
    iterations: int = DEFAULT_ITERATIONS
    batch_size: int = DEFAULT_BATCH
    lr: float = DEFAULT_LR
    seed: int = 0
    eval_every: int | None = None  # None: TEST_POINTS evaluations spread over the run
    test_images: int = TEST_IMAGES  # the first N of the test sample (class-balanced: 100 cover every class)

    @property
    def test_every(self) -> int:
        return self.eval_every or max(1, math.ceil(self.iterations / TEST_POINTS))


def lab_depths() -> tuple[int, ...]:
    """The depths the lab offers: the zoo's CIFAR depths up to MAX_DEPTH (plain and residual alike)."""
    return tuple(sorted({s.depth for s in MODELS.values() if s.dataset == "cifar10" and s.depth <= MAX_DEPTH}))


def _check_net(net: NetChoice) -> ModelSpec:
    if net.depth < 8 or (net.depth - 2) % 6:
        raise InputError("training_lab.bad_depth", depth=net.depth)
    if net.depth not in lab_depths():
        raise InputError("training_lab.depth_not_offered", depth=net.depth,
                         depths=", ".join(map(str, lab_depths())))
    if net.residual and net.shortcut not in ("A", "B"):
        raise InputError("training_lab.bad_shortcut", option=net.shortcut)
    return MODELS[net.name]


def check_settings(s: LabSettings) -> Recipe:
    """The recipe the settings make, or InputError naming the first impossible one."""
    if not 1 <= len(s.nets) <= MAX_NETS:
        raise InputError("training_lab.bad_net_count", count=len(s.nets), most=MAX_NETS)
    if len(set(s.nets)) != len(s.nets):
        raise InputError("training_lab.same_net_twice")
    for net in s.nets:
        _check_net(net)
    for name, value, most in (("iterations", s.iterations, MAX_ITERATIONS), ("batch", s.batch_size, MAX_BATCH)):
        if not isinstance(value, int) or not 1 <= value <= most:
            raise InputError(f"training_lab.bad_{name}", value=value, most=most)
    if not (isinstance(s.lr, (int, float)) and math.isfinite(s.lr) and 0 < s.lr <= MAX_LR):
        raise InputError("training_lab.bad_lr", value=s.lr, most=MAX_LR)
    if not isinstance(s.test_images, int) or not 1 <= s.test_images <= TEST_IMAGES:
        raise InputError("training_lab.bad_test_images", value=s.test_images, most=TEST_IMAGES)
    if s.eval_every is not None and s.eval_every < 1:
        raise InputError("training_lab.bad_eval_every", value=s.eval_every)
    return make_recipe("paper", s.nets[0].name, iterations=s.iterations, batch_size=s.batch_size, lr=float(s.lr))


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


def _build(choice: NetChoice, seed: int, recipe: Recipe, num_classes: int) -> tuple[nn.Module, torch.optim.Optimizer]:
    """The untrained net (the same for a seed whatever else is trained beside it) and its optimizer."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MODELS[choice.name].build(shortcut=choice.shortcut if choice.residual else None,
                                          num_classes=num_classes)
    model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                                weight_decay=recipe.weight_decay, nesterov=recipe.nesterov)
    return model.train(), optimizer


# ---------------------------------------------------------------- the stepper

class LabRun:
    """The nets of ``settings`` trained in turn, one iteration per ``step()``, until ``done``."""

    def __init__(self, settings: LabSettings, device: str | torch.device = "cpu") -> None:
        self.settings = settings
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
        """Ask the run to end (from any thread): the step under way finishes, then the nets are tested once."""
        self._stop.set()

    def _stream(self):
        """The training batches, epoch after epoch (each epoch's order and crops depend on the seed only)."""
        epoch = 0
        while True:
            self.train_loader.set_epoch(epoch)
            yield from self.train_loader
            epoch += 1

    def step(self) -> StepReport:
        """One iteration of every net still training, on one batch; a test after it when one is due."""
        if self.done:
            raise RuntimeError("the run is over")
        start = time.perf_counter()
        x, y = next(self._batches)
        lr = learning_rate(self.recipe, self.iteration, self.total)
        results = [self._train_step(net, x, y, lr) if net.active else None for net in self.nets]
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
        """Test every net not yet tested at this iteration and not diverged: index -> accuracy on the sample."""
        out = {}
        for i, net in enumerate(self.nets):
            if net.status == DIVERGED or (net.test_points and net.test_points[-1][0] == net.iteration):
                continue
            loss_sum, confusion = confusion_and_loss(net.model, self.test_loader, len(self.classes), self.device)
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
                "dataset": DATASET_LABEL, "data": "resnet_viz.samples.TRAIN_SUBSET", "evaluated_on": "test sample",
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
            label = f"{net.choice.label} ({net.iteration} it.)"
            out.append(LoadedModel(model.eval(), spec, "trained", label, tuple(self.mean), tuple(self.std),
                                   tuple(self.classes), shortcut=shortcut, resize_size=spec.resize_size,
                                   meta=self.meta(net)))
        return out


def checkpoint_files(loaded: LoadedModel, stem: str) -> tuple[bytes, bytes]:
    """(``<stem>.safetensors`` bytes, ``<stem>.json`` sidecar bytes) of a trained model, in the project's format,
    written by ``save_checkpoint`` (so they load back with ``resnet_viz.checkpoints.read``)."""
    meta = {k: v for k, v in loaded.meta.items() if k not in ("path", "format")}
    with tempfile.TemporaryDirectory() as tmp:
        path = save_checkpoint(loaded.model, Path(tmp) / f"{stem}.safetensors", meta)
        return path.read_bytes(), path.with_suffix(".json").read_bytes()


# ---------------------------------------------------------------- a run in a background thread

QUEUED, RUNNING, FINISHED, FAILED = "queued", "running", "finished", "failed"


@dataclass
class LabJob:
    """What a page reads about a run in a background thread: a plain object the thread writes.

    ``results`` holds the trained nets once the run has finished (or was stopped); ``on_finish`` (if given) is
    called with them from the thread, before ``state`` turns FINISHED.
    """

    settings: LabSettings
    state: str = QUEUED
    ahead: int = 0  # jobs ahead in the queue while QUEUED
    run: LabRun | None = None
    error: VizError | None = None
    results: list[LoadedModel] = field(default_factory=list)
    finished_at: float | None = None  # time.monotonic() when results became ready
    on_finish: Callable[[list[LoadedModel]], object] | None = None
    _stop: threading.Event = field(default_factory=threading.Event)

    def stop(self) -> None:
        self._stop.set()
        if self.run is not None:
            self.run.stop()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def active(self) -> bool:
        return self.state in (QUEUED, RUNNING)


class _Cancelled(Exception):
    """A job stopped (or dropped) while it waited for its turn."""


def _wait_note(ref: weakref.ref[LabJob]) -> Callable[[int], None]:
    def note(ahead: int) -> None:
        job = ref()
        if job is None or job.stop_requested:
            raise _Cancelled
        job.ahead = ahead
    return note


def _work(ref: weakref.ref[LabJob], queue: WorkQueue, device: str) -> None:
    """The thread: wait for the turn, build the run, step it while someone holds the job, hand over the nets."""
    try:
        with queue.turn(_wait_note(ref)):
            job = ref()
            if job is None or job.stop_requested:
                return
            run = job.run = LabRun(job.settings, device)
            job.state = RUNNING
            if job.stop_requested:  # stopped while the run was being built
                run.stop()
            del job  # between steps only the weak reference holds the job
            while not run.done:
                run.step()
                if ref() is None:
                    return  # nobody reads this run any more
            run.finish()
            _hand_over(ref, run)
    except _Cancelled:
        pass
    except VizError as exc:
        _fail(ref, exc)
    except Exception as exc:  # noqa: BLE001  # out of memory, a bug: said on the page, the server goes on
        _fail(ref, VizError("training_lab.failed", kind=type(exc).__name__, detail=str(exc)[:300]))
    finally:
        job = ref()
        if job is not None and job.state != FINISHED:
            job.state = FAILED if job.error is not None else FINISHED
            job.finished_at = time.monotonic()


def _hand_over(ref: weakref.ref[LabJob], run: LabRun) -> None:
    job = ref()
    if job is None:
        return
    job.results = run.trained_models()
    if job.on_finish is not None:
        job.on_finish(job.results)
    job.finished_at = time.monotonic()
    job.state = FINISHED


def _fail(ref: weakref.ref[LabJob], exc: VizError) -> None:
    job = ref()
    if job is not None:
        job.error = exc


def start_job(job: LabJob, queue: WorkQueue, *, device: str = "cpu") -> threading.Thread:
    """Run ``job`` in a daemon thread, in its turn in ``queue``; the thread keeps only a weak reference to it."""
    check_settings(job.settings)  # bad settings are said at once, not from the thread
    thread = threading.Thread(target=_work, args=(weakref.ref(job), queue, device), daemon=True,
                              name="training-lab")
    thread.start()
    return thread


# ---------------------------------------------------------------- what the curves say

WINDOW = 20  # iterations averaged for the smoothed curves and the comparisons


def smoothed(values: list[float], window: int = WINDOW) -> list[float]:
    """The trailing mean of the last ``window`` values at every point (fewer at the start)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def recent_loss(net: NetTrack, window: int = WINDOW) -> float | None:
    """Mean training loss of the net's last ``window`` iterations (None before it has that many)."""
    losses = net.train_loss[-window:]
    return sum(losses) / window if len(losses) == window else None


@dataclass(frozen=True)
class Gap:
    """Training losses of two nets compared: ``first`` minus ``second`` (a deeper plain net minus a shallower
    one, kind "depth"; a plain net minus the ResNet of its depth, kind "residual")."""

    kind: str
    first: str
    second: str
    gap: float


def loss_gaps(nets: list[NetTrack], window: int = WINDOW) -> list[Gap]:
    """The comparisons the paper's Figure 6 makes, among the nets that have ``window`` iterations: each deeper
    plain net against each shallower plain net, each deeper ResNet against each shallower one, and each plain
    net against the ResNet of the same depth."""
    losses = {id(n): recent_loss(n, window) for n in nets}
    ready = [n for n in nets if losses[id(n)] is not None and n.status != DIVERGED]
    out = []
    for a in ready:
        for b in ready:
            la, lb = losses[id(a)], losses[id(b)]
            assert la is not None and lb is not None
            if a.choice.residual == b.choice.residual and a.choice.depth > b.choice.depth:
                out.append(Gap("depth", a.choice.label, b.choice.label, la - lb))
            elif not a.choice.residual and b.choice.residual and a.choice.depth == b.choice.depth:
                out.append(Gap("residual", a.choice.label, b.choice.label, la - lb))
    return out


# ---------------------------------------------------------------- a session's trained models

TRAINED_PREFIX = "trained:"
KEPT_MODELS = 6  # two runs of three nets: older ones are dropped (a session's memory stays bounded)


class ModelShelf:
    """One session's trained models, source -> model, filled by its job's thread and read by its pages (each read
    a snapshot, under a lock). Kept in that session's state only: nothing else holds it."""

    def __init__(self, kept: int = KEPT_MODELS) -> None:
        self.kept = kept
        self._models: dict[str, LoadedModel] = {}
        self._runs = 0
        self._lock = threading.Lock()

    def add(self, models: list[LoadedModel]) -> list[str]:
        """Shelve the models of one run (the oldest beyond ``kept`` go); their sources."""
        with self._lock:
            self._runs += 1
            sources = [f"{TRAINED_PREFIX}{self._runs}:{k}:{m.spec.name}" for k, m in enumerate(models)]
            self._models.update(zip(sources, models))
            while len(self._models) > self.kept:
                self._models.pop(next(iter(self._models)))
            return sources

    def snapshot(self) -> dict[str, LoadedModel]:
        """The models now on the shelf, newest run first."""
        with self._lock:
            return dict(reversed(self._models.items()))


# ---------------------------------------------------------------- what the page says

def clock(seconds: float | None) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour on); "?" when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def status_rows(nets: list[NetTrack], lang: str = "en", window: int = WINDOW) -> list[dict[str, object]]:
    """One table row per net: status, iterations, recent training loss and accuracy, last test accuracy."""
    def mean(values: list[float]) -> float | None:
        return sum(values) / len(values) if values else None

    rows = []
    for net in nets:
        loss, acc, test = mean(net.train_loss[-window:]), mean(net.train_acc[-window:]), net.test_accuracy
        rows.append({t("training_lab.table_net", lang): net.choice.label,
                     t("training_lab.table_status", lang): t(f"training_lab.status_{net.status}", lang),
                     t("training_lab.table_iterations", lang): net.iteration,
                     t("training_lab.table_train_loss", lang, window=window): None if loss is None else round(loss, 3),
                     t("training_lab.table_train_acc", lang, window=window): None if acc is None else round(acc, 1),
                     t("training_lab.table_test_acc", lang): None if test is None else round(test, 1),
                     t("training_lab.table_seconds", lang): round(net.seconds, 1)})
    return rows


def verdicts(gaps: list[Gap], lang: str = "en", window: int = WINDOW) -> list[str]:
    """One sentence per comparison, its direction taken from the gap."""
    out = []
    for g in gaps:
        size = f"{abs(g.gap):.3f}"
        if g.kind == "depth":
            key = "verdict_worse" if g.gap > 0 else "verdict_not_worse"
            out.append(t(f"training_lab.{key}", lang, deep=g.first, shallow=g.second, window=window, gap=size))
        else:
            key = "verdict_residual" if g.gap > 0 else "verdict_residual_not"
            out.append(t(f"training_lab.{key}", lang, plain=g.first, resnet=g.second, gap=size))
    return out
