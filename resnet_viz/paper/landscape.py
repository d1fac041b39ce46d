"""The loss landscape around a trained network (Li, Xu, Taylor, Studer, Goldstein 2018, "Visualizing the Loss
Landscape of Neural Nets", NeurIPS; their code: github.com/tomgoldstein/loss-landscape).

- **2-D surface.** Two random Gaussian directions d1, d2 with one tensor per parameter; each filter (a slice along
  the output channel of a conv weight, a row of a linear weight) is rescaled to the norm of the same filter of the
  trained weight ("filter normalisation", ``net_plotter.normalize_direction(norm='filter')``); parameters of one
  dimension (batch-norm weights and biases, biases) get a zero direction (``ignore='biasbn'``), and the BN running
  statistics are not moved (``dir_type='weights'``). The loss is evaluated at theta + a d1 + b d2 on a grid of
  (a, b), on fixed training images without augmentation, in eval mode (BN uses its running statistics), with plain
  cross-entropy (``evaluation.eval_loss``), as their code does. The directions come from a seeded
  ``torch.Generator``, so a picture can be recomputed exactly.
- **1-D slice.** The straight line from the network's initial weights theta0 (rebuilt from the seed its sidecar
  records, as the training loop builds it) to its trained weights theta1: theta(t) = (1 - t) theta0 + t theta1.
  Like their 1-D interpolation scripts (``dir_type='states'``) it moves the whole state, BN running statistics
  included.

Every computation runs on a private copy of the model, made under the model's lock: the shared model is never
changed, and other sessions keep using it during a long grid. The grid's points run on two threads
(``resnet_viz.work.WORKERS``), each with a copy of its own: two cores while the process keeps one torch thread.
"""

from __future__ import annotations

import copy
import io
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz import ASSETS_DIR
from resnet_viz.checkpoints.write import atomic_write
from resnet_viz.cost import network_macs
from resnet_viz.data import normalize
from resnet_viz.errors import InputError
from resnet_viz.inspect.hooks import locked
from resnet_viz.models.registry import get_spec
from resnet_viz.seeded import seeded
from resnet_viz.train.evaluate import confusion_and_loss
from resnet_viz.work import WORKERS, parallel_map

LANDSCAPES_DIR = ASSETS_DIR / "landscapes"
FORMAT = "resnet_viz-landscape/1"
DEFAULT_SEED = 123  # the value the paper's plot_surface.py seeds torch with
FILTER_EPS = 1e-10  # as normalize_direction: d * |w| / (|d| + eps)
CENTRAL_RADIUS = 0.5  # the region the shape measures look at, in direction units
LINE_T = np.round(np.linspace(0.0, 1.0, 21), 6)  # init (t=0) to trained (t=1): BN variances stay positive
BATCH = 256
# Before this server has timed a grid of its own: benchmarks/landscape.py's ResNet-20 grid, 11 x 11 points on 256
# images, two workers and one torch thread, on the project's shared 2-core machine (issue 33, benchmarks/README.md).
REFERENCE_MODEL, REFERENCE_POINTS, REFERENCE_IMAGES, REFERENCE_SECONDS = "resnet20", 11, 256, 14.0

OnPoint = Callable[[int, int], None]


@dataclass
class Landscape:
    """Loss and accuracy (%) on a grid: ``loss[i, j]`` at theta + x[j] d1 + y[i] d2; and, when computed, along
    the line from the initial weights (``line_t`` 0) to the trained ones (1)."""

    x: np.ndarray
    y: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    line_t: np.ndarray | None = None
    line_loss: np.ndarray | None = None
    line_accuracy: np.ndarray | None = None

    @property
    def centre(self) -> tuple[int, int]:
        return int(np.argmin(np.abs(self.y))), int(np.argmin(np.abs(self.x)))

    @property
    def centre_loss(self) -> float:
        return float(self.loss[self.centre])

    @property
    def centre_accuracy(self) -> float:
        return float(self.accuracy[self.centre])


# ---------------------------------------------------------------- directions

def filter_normalised(weight: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
    """``direction`` with each filter (slice along dim 0) rescaled to the norm of the same filter of ``weight``."""
    w = weight.detach().float().flatten(1).norm(dim=1)
    d = direction.flatten(1).norm(dim=1)
    return direction * (w / (d + FILTER_EPS)).view(-1, *([1] * (direction.dim() - 1)))


def random_direction(model: nn.Module, generator: torch.Generator) -> list[torch.Tensor]:
    """One filter-normalised Gaussian direction, a tensor per parameter in ``model.parameters()`` order; zero for
    parameters of one dimension (BN weights and biases, biases), drawn nonetheless, as in the paper's code."""
    out = []
    for p in model.parameters():
        d = torch.randn(p.shape, generator=generator, dtype=torch.float32)
        out.append(torch.zeros_like(d) if p.dim() <= 1 else filter_normalised(p, d))
    return out


def directions(model: nn.Module, seed: int = DEFAULT_SEED) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The two directions of the 2-D surface (the same for a seed and a model, on any machine)."""
    generator = torch.Generator().manual_seed(int(seed))
    return random_direction(model, generator), random_direction(model, generator)


def grid(points: int, span: float) -> np.ndarray:
    """``points`` (odd, so the trained weights are on the grid) coordinates from -span to span, 0 exactly."""
    if points < 3 or points % 2 == 0 or not 0 < span <= 10:
        raise InputError("landscape.bad_grid", points=points, span=span)
    half = points // 2
    return span * np.arange(-half, half + 1) / half


def grid_work(model: str, points: int, images: int) -> float:
    """Multiply-adds of a ``points`` x ``points`` grid of zoo model ``model`` on ``images`` images: the meter's unit."""
    return points * points * images * network_macs(model)


def reference_seconds_per_mac() -> float:
    return REFERENCE_SECONDS / grid_work(REFERENCE_MODEL, REFERENCE_POINTS, REFERENCE_IMAGES)


# ---------------------------------------------------------------- evaluation on a private copy

def private_copy(model: nn.Module) -> nn.Module:
    """A float32 copy of ``model`` in eval mode, taken under its lock (the shared model is never changed)."""
    with locked(model):
        net = copy.deepcopy(model)
    net = net.float().eval().to(memory_format=torch.channels_last)
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def prepare(images: torch.Tensor, labels: torch.Tensor, mean: Sequence[float], std: Sequence[float],
            batch_size: int = BATCH) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Normalised channels-last float32 batches of uint8 ``images`` (computed once, used at every point)."""
    if images.dim() != 4 or images.dtype != torch.uint8 or len(images) == 0 or len(images) != len(labels):
        raise InputError("landscape.bad_images", shape=str(tuple(images.shape)))
    out = []
    for start in range(0, len(images), batch_size):
        x = normalize(images[start:start + batch_size], mean, std).contiguous(memory_format=torch.channels_last)
        out.append((x, labels[start:start + batch_size]))
    return out


@torch.no_grad()
def loss_and_accuracy(net: nn.Module, batches: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> tuple[float, float]:
    """Mean cross-entropy (no label smoothing) and accuracy in % of ``net`` as it is (the trainer's evaluation)."""
    classes = [m for m in net.modules() if isinstance(m, nn.Linear)][-1].out_features
    loss_sum, confusion = confusion_and_loss(net, batches, classes, torch.device("cpu"))
    n = int(confusion.sum())
    return float(loss_sum) / n, 100.0 * float(confusion.diagonal().sum()) / n


def _walk(net: nn.Module, targets_of: Callable[[nn.Module], Sequence[torch.Tensor]], base: Sequence[torch.Tensor],
          moves: Sequence[Sequence[torch.Tensor]], coords: Sequence[Sequence[float]], batches,
          on_point: OnPoint | None, workers: int = WORKERS) -> tuple[np.ndarray, np.ndarray]:
    """Loss and accuracy with ``targets_of(net)`` set to base + sum_k c_k moves[k] for every ``c`` in ``coords``.
    The points run on ``workers`` threads, each on a copy of ``net`` of its own; ``on_point(done, total)`` runs on
    the calling thread after each point (an exception it raises stops the walk)."""
    nets = [net, *(copy.deepcopy(net) for _ in range(min(workers, len(coords)) - 1))]
    targets = [targets_of(n) for n in nets]
    moving = [i for i in range(len(base)) if any(bool(m[i].any()) for m in moves)]

    def point(worker: int, coeffs: Sequence[float]) -> tuple[float, float]:
        with torch.no_grad():
            for i in moving:
                value = base[i].clone()
                for c, move in zip(coeffs, moves):
                    if c:
                        value.add_(move[i], alpha=float(c))
                targets[worker][i].copy_(value)
            return loss_and_accuracy(nets[worker], batches)

    with torch.no_grad():
        for own in targets:
            for t, b in zip(own, base):
                t.copy_(b)
    done = parallel_map(point, coords, workers=workers,
                        on_done=None if on_point is None else lambda count: on_point(count, len(coords)))
    return np.array([loss for loss, _ in done]), np.array([acc for _, acc in done])


def surface(model: nn.Module, batches, *, points: int = 11, span: float = 1.0, seed: int = DEFAULT_SEED,
            on_point: OnPoint | None = None, workers: int = WORKERS) -> Landscape:
    """The 2-D loss surface of ``model`` (shared or not: a private copy is perturbed) on prepared ``batches``."""
    axis = grid(points, span)
    net = private_copy(model)
    d1, d2 = directions(net, seed)  # from the copy: the shared model may be in another computation's hands
    theta = [p.detach().clone() for p in net.parameters()]
    coords = [(float(a), float(b)) for b in axis for a in axis]
    start = time.perf_counter()
    losses, accs = _walk(net, lambda n: list(n.parameters()), theta, [d1, d2], coords, batches, on_point, workers)
    meta = {"norm": "filter", "ignore": "biasbn", "mode": "eval", "seed": int(seed), "points": points,
            "span": float(span), "images": sum(len(y) for _, y in batches),
            "seconds": round(time.perf_counter() - start, 2), "torch": torch.__version__}
    shape = (len(axis), len(axis))
    return Landscape(axis, axis.copy(), losses.reshape(shape), accs.reshape(shape), meta)


# ---------------------------------------------------------------- the line from the initial weights

def initial_model(loaded) -> nn.Module:
    """The untrained network of a checkpoint, rebuilt as ``train.loop._build_model`` builds it from the seed and
    shortcut its sidecar records (exact when the model code and torch version are those of the run)."""
    seed = loaded.meta.get("seed")
    if not isinstance(seed, int):
        raise InputError("landscape.no_seed", model=loaded.name)
    with seeded(seed):
        return get_spec(loaded.name).build(shortcut=loaded.shortcut, num_classes=len(loaded.classes))


def weight_cosine(a: nn.Module, b: nn.Module) -> float:
    """Cosine similarity of the conv and linear weights (parameters of more than one dimension) of two networks of
    one architecture, all flattened into one vector each."""
    with locked(a), locked(b):
        u = torch.cat([p.detach().float().flatten() for p in a.parameters() if p.dim() > 1])
        v = torch.cat([p.detach().float().flatten() for p in b.parameters() if p.dim() > 1])
    return float(F.cosine_similarity(u, v, dim=0))


def init_check(loaded, init: nn.Module) -> dict[str, float]:
    """Evidence that ``init`` is the run's own start: its weights' cosine similarity with the trained ones, and
    that of a net built from the next seed (about 0: training keeps much of the initial weights' pattern)."""
    with seeded(int(loaded.meta["seed"]) + 1):
        other = get_spec(loaded.name).build(shortcut=loaded.shortcut, num_classes=len(loaded.classes))
    return {"init_cosine": round(weight_cosine(init, loaded.model), 4),
            "other_seed_cosine": round(weight_cosine(other, loaded.model), 4)}


def _float_state(net: nn.Module) -> dict[str, torch.Tensor]:
    """The floating-point entries of the state (parameters and BN running statistics), sharing storage."""
    return {k: v.data for k, v in net.state_dict(keep_vars=True).items() if v.is_floating_point()}


def init_line(model: nn.Module, init: nn.Module, batches, *, t: Sequence[float] = tuple(LINE_T),
              on_point: OnPoint | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(t, loss, accuracy) along (1 - t) theta0 + t theta1 from ``init`` (t=0) to ``model`` (t=1), computed as
    theta1 + (1 - t)(theta0 - theta1), so t=1 is the trained state exactly."""
    net = private_copy(model)
    state, start = _float_state(net), _float_state(init)
    if {k: v.shape for k, v in state.items()} != {k: v.shape for k, v in start.items()}:
        raise InputError("landscape.init_mismatch", model=type(model).__name__)
    theta1 = [v.clone() for v in state.values()]
    theta0 = [start[k].float() for k in state]
    towards_init = [a - b for a, b in zip(theta0, theta1)]
    ts = np.asarray(t, dtype=np.float64)
    losses, accs = _walk(net, lambda n: list(_float_state(n).values()), theta1, [towards_init],
                         [(1.0 - float(v),) for v in ts], batches, on_point)
    return ts, losses, accs


def _data_meta(loaded, images: int) -> dict[str, Any]:
    hardware = str(loaded.meta.get("hardware", ""))
    trained_torch = hardware.split("torch ")[1].split(";")[0] if "torch " in hardware else None
    return {"model": loaded.name, "shortcut": loaded.shortcut, "checkpoint": loaded.label,
            "accuracy": loaded.accuracy, "dataset": loaded.meta.get("dataset"), "images": images,
            "init_seed": loaded.meta.get("seed"), "trained_torch": trained_torch}


def compute(loaded, images: torch.Tensor, labels: torch.Tensor, *, points: int, span: float = 1.0,
            seed: int = DEFAULT_SEED, line: bool = True, on_point: Callable[[str, int, int], None] | None = None,
            data: str = "") -> Landscape:
    """The surface of a ``LoadedModel`` on uint8 ``images`` (labels in the model's class order) and, with
    ``line``, the slice from its initial weights; ``on_point(phase, done, total)`` after each point ("surface",
    "line"). Metadata: how it was computed (directions, grid, images, seconds, versions)."""
    batches = prepare(images, labels, loaded.mean, loaded.std)

    def report(phase: str) -> OnPoint | None:
        return None if on_point is None else (lambda done, total: on_point(phase, done, total))

    land = surface(loaded.model, batches, points=points, span=span, seed=seed, on_point=report("surface"))
    land.meta.update(_data_meta(loaded, len(images)), data=data)
    if line:
        start = time.perf_counter()
        init = initial_model(loaded)
        land.line_t, land.line_loss, land.line_accuracy = init_line(loaded.model, init, batches,
                                                                     on_point=report("line"))
        land.meta["line_seconds"] = round(time.perf_counter() - start, 2)
        land.meta.update(init_check(loaded, init))
    return land


# ---------------------------------------------------------------- shape measures (tested; the page's sentence)

def _central(land: Landscape, radius: float) -> np.ndarray:
    yy, xx = np.meshgrid(land.y, land.x, indexing="ij")
    return np.hypot(xx, yy) <= radius + 1e-9


def rising_share(land: Landscape, radius: float = CENTRAL_RADIUS) -> float:
    """Share of the grid points within ``radius`` of the centre (centre excluded) whose loss is at least that of
    the neighbour one step nearer the centre: 1 for a bowl around the trained weights."""
    ci, cj = land.centre
    mask = _central(land, radius)
    mask[ci, cj] = False
    ok = []
    for i, j in zip(*np.nonzero(mask)):
        ni, nj = i - int(np.sign(i - ci)), j - int(np.sign(j - cj))
        ok.append(land.loss[i, j] >= land.loss[ni, nj])
    return float(np.mean(ok)) if ok else float("nan")


def convex_share(land: Landscape, radius: float = CENTRAL_RADIUS) -> float:
    """Share of the inner grid points within ``radius`` where the surface curves upward in every direction: its
    finite-difference Hessian (of this 2-D slice, not of the whole network) is positive semidefinite."""
    f = land.loss
    hx, hy = float(land.x[1] - land.x[0]), float(land.y[1] - land.y[0])
    fxx = (f[1:-1, 2:] - 2 * f[1:-1, 1:-1] + f[1:-1, :-2]) / hx**2
    fyy = (f[2:, 1:-1] - 2 * f[1:-1, 1:-1] + f[:-2, 1:-1]) / hy**2
    fxy = (f[2:, 2:] - f[2:, :-2] - f[:-2, 2:] + f[:-2, :-2]) / (4 * hx * hy)
    psd = (fxx >= 0) & (fyy >= 0) & (fxx * fyy - fxy**2 >= 0)
    mask = _central(land, radius)[1:-1, 1:-1]
    return float(psd[mask].mean()) if mask.any() else float("nan")


def ring_rise(land: Landscape, radius: float = CENTRAL_RADIUS) -> float:
    """Mean loss on the grid points nearest the circle of ``radius`` minus the loss at the centre."""
    yy, xx = np.meshgrid(land.y, land.x, indexing="ij")
    step = float(land.x[1] - land.x[0])
    ring = np.abs(np.hypot(xx, yy) - radius) <= step / 2
    return float(land.loss[ring].mean() - land.centre_loss) if ring.any() else float("nan")


@dataclass(frozen=True)
class Shape:
    """The numbers the page compares two landscapes by."""

    centre_loss: float
    centre_accuracy: float
    rising: float
    convex: float
    rise: float
    finite: bool


def shape(land: Landscape, radius: float = CENTRAL_RADIUS) -> Shape:
    return Shape(land.centre_loss, land.centre_accuracy, rising_share(land, radius), convex_share(land, radius),
                 ring_rise(land, radius), bool(np.isfinite(land.loss).all()))


SMOOTHER_MARGIN = 0.10  # convex shares closer than this are called "about equal"


def smoother(a: Shape, b: Shape, margin: float = SMOOTHER_MARGIN) -> int:
    """0 when ``a`` curves upward at clearly more central points than ``b``, 1 when ``b`` does, -1 when neither."""
    if a.convex - b.convex >= margin:
        return 0
    if b.convex - a.convex >= margin:
        return 1
    return -1


def line_falls(t: np.ndarray, loss: np.ndarray) -> tuple[int, int, float]:
    """On 0 <= t <= 1: (steps where the loss falls, steps, largest rise of one step, 0 when none)."""
    inside = (t >= -1e-9) & (t <= 1 + 1e-9)
    diffs = np.diff(loss[inside])
    return int((diffs < 0).sum()), len(diffs), float(max(diffs.max(initial=0.0), 0.0))


# ---------------------------------------------------------------- files

def save(land: Landscape, path: str | Path) -> Path:
    """Write ``land`` as an ``.npz`` (arrays, and the metadata as JSON text); atomically."""
    arrays: dict[str, Any] = {"x": land.x, "y": land.y, "loss": land.loss.astype(np.float32),
                              "accuracy": land.accuracy.astype(np.float32),
                              "meta": np.array(json.dumps({"format": FORMAT, **land.meta}))}
    if land.line_t is not None and land.line_loss is not None and land.line_accuracy is not None:
        arrays.update(line_t=land.line_t, line_loss=land.line_loss.astype(np.float32),
                      line_accuracy=land.line_accuracy.astype(np.float32))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    path = Path(path)
    atomic_write(path, buffer.getvalue())
    return path


def load(path: str | Path) -> Landscape:
    """A landscape written by ``save`` (never unpickles anything)."""
    try:
        with np.load(Path(path), allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            land = Landscape(f["x"], f["y"], f["loss"].astype(np.float64), f["accuracy"].astype(np.float64), meta)
            if "line_t" in f.files:
                land.line_t, land.line_loss, land.line_accuracy = (f["line_t"], f["line_loss"].astype(np.float64),
                                                                   f["line_accuracy"].astype(np.float64))
    except (OSError, KeyError, ValueError) as exc:
        raise InputError("landscape.bad_file", path=str(path), reason=str(exc)[:200]) from None
    if meta.get("format") != FORMAT or land.loss.shape != (len(land.y), len(land.x)):
        raise InputError("landscape.bad_file", path=str(path), reason="not a resnet_viz landscape")
    return land


def shipped(folder: Path | None = None) -> dict[str, Landscape]:
    """The precomputed landscapes (file stem -> landscape), unreadable files left out."""
    out = {}
    for path in sorted((folder or LANDSCAPES_DIR).glob("*.npz")):
        try:
            out[path.stem] = load(path)
        except InputError:
            continue
    return out
