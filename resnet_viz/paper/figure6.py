"""Figure 6 and Table 6 from the training logs the checkpoints carry in their JSON sidecars.

A run is one checkpoint of a CIFAR-10 net: its per-epoch log (iteration, training and test error in %)
and its final test accuracy. Figure 6 plots training error (dashed) and test error (solid) against
iterations, plain nets on the left, ResNets on the right. The degradation sentence compares the deepest
and the shallowest run of a family at the end of training. Table 6 puts our test errors next to the
paper's, with the parameter counts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from resnet_viz.checkpoints.find import CheckpointInfo, find_checkpoints
from resnet_viz.models.registry import MODELS, display_name, get_spec

# He et al. 2015, Table 6: CIFAR-10 test error (%) of ResNets (best of runs; ResNet-110's mean is 6.61).
PAPER_TABLE6 = {"resnet20": 8.75, "resnet32": 7.51, "resnet44": 7.17, "resnet56": 6.97, "resnet110": 6.43,
                "resnet1202": 7.93}
FAMILIES = ("plain", "resnet")


@dataclass(frozen=True)
class Run:
    """One training run, read from a checkpoint's sidecar."""

    key: str  # the checkpoint path: unique
    stem: str
    model: str
    family: str  # "plain" or "resnet"
    depth: int
    shipped: bool
    dataset: str | None
    accuracy: float | None  # final test top-1 %
    complete: bool | None
    recipe: Mapping[str, Any] = field(default_factory=dict, compare=False)
    iterations: tuple[int, ...] = ()
    train_error: tuple[float, ...] = ()
    test_error: tuple[float, ...] = ()

    @property
    def has_log(self) -> bool:
        return bool(self.iterations)

    @property
    def final_train_error(self) -> float | None:
        return self.train_error[-1] if self.train_error else None

    @property
    def final_test_error(self) -> float | None:
        """100 - the final accuracy, else the last logged test error."""
        if self.accuracy is not None:
            return 100.0 - self.accuracy
        return self.test_error[-1] if self.test_error else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def run_from_sidecar(meta: Mapping[str, Any], *, key: str, stem: str, shipped: bool = False) -> Run | None:
    """A ``Run`` from sidecar metadata, or None when it is not a CIFAR-10 plain/ResNet checkpoint.

    Log entries without a numeric iteration and both errors are skipped (a log being written by a
    crashed run may end with a partial entry); the remaining ones are sorted by iteration.
    """
    name = meta.get("model")
    if not isinstance(name, str) or name not in MODELS:
        return None
    spec = get_spec(name)
    if spec.layout != "cifar" or spec.family not in FAMILIES:
        return None
    points = []
    for entry in meta.get("log") or []:
        if not isinstance(entry, Mapping):
            continue
        it, tr, te = (_number(entry.get(k)) for k in ("iteration", "train_error", "test_error"))
        if it is not None and tr is not None and te is not None:
            points.append((int(it), tr, te))
    points.sort()
    recipe = meta.get("recipe")
    complete = meta.get("complete")
    return Run(key=key, stem=stem, model=spec.name, family=spec.family, depth=spec.depth, shipped=shipped,
               dataset=str(meta["dataset"]) if meta.get("dataset") else None, accuracy=_number(meta.get("accuracy")),
               complete=complete if isinstance(complete, bool) else None,
               recipe=dict(recipe) if isinstance(recipe, Mapping) else {},
               iterations=tuple(p[0] for p in points), train_error=tuple(p[1] for p in points),
               test_error=tuple(p[2] for p in points))


def collect_runs(infos: Iterable[CheckpointInfo] | None = None) -> list[Run]:
    """Every CIFAR-10 plain/ResNet run among the checkpoints found (shipped first), shallow to deep."""
    runs = []
    for info in find_checkpoints() if infos is None else infos:
        run = run_from_sidecar(info.meta, key=str(info.path), stem=info.stem, shipped=info.shipped)
        if run is not None:
            runs.append(run)
    return sorted(runs, key=lambda r: (r.family, r.depth, not r.shipped, r.stem))


def display_names(runs: Iterable[Run]) -> dict[str, str]:
    """run key -> label: the paper's name, with the file's stem added where two runs share a model."""
    runs = list(runs)
    counts: dict[str, int] = {}
    for r in runs:
        counts[r.model] = counts.get(r.model, 0) + 1
    return {r.key: display_name(r.model) if counts[r.model] == 1 else f"{display_name(r.model)} ({r.stem})"
            for r in runs}


@dataclass(frozen=True)
class DepthComparison:
    """Two logged runs of one family at the end of training, a shallow one and a deeper one (``depth_comparison``)."""

    family: str
    shallow: Run
    deep: Run

    @property
    def train_gap(self) -> float:
        """Deep minus shallow final training error (points): > 0 means the deeper net fits its data worse."""
        return self.deep.train_error[-1] - self.shallow.train_error[-1]  # both runs are logged

    @property
    def test_gap(self) -> float:
        return self.deep.test_error[-1] - self.shallow.test_error[-1]

    @property
    def deeper_is_worse(self) -> bool:
        return self.train_gap > 0

    @property
    def same_schedule(self) -> bool:
        """Both runs logged the same number of iterations with the same recipe: a fair comparison."""
        return same_schedule((self.shallow, self.deep))


def same_schedule(runs: Iterable[Run]) -> bool:
    """Every run logged the same number of iterations with the same recipe and batch: a fair comparison."""
    ends = {(r.iterations[-1] if r.iterations else r.recipe.get("iterations"), r.recipe.get("name"),
             r.recipe.get("batch_size")) for r in runs}
    return len(ends) <= 1


def depth_comparison(runs: Iterable[Run], family: str) -> DepthComparison | None:
    """The shallowest run against the deepest one trained alike with it (the paper's Figure 6 compares runs of one
    schedule), or against the deepest of all where none was; None when the family has logged runs of fewer than
    two depths."""
    logged = [r for r in runs if r.family == family and r.has_log]
    if len({r.depth for r in logged}) < 2:
        return None
    shallow = min(logged, key=lambda r: (r.depth, not r.shipped))
    deeper = [r for r in logged if r.depth > shallow.depth]
    alike = [r for r in deeper if same_schedule((shallow, r))]
    deep = max(alike or deeper, key=lambda r: (r.depth, r.shipped))
    return DepthComparison(family, shallow, deep)


@dataclass(frozen=True)
class TableRow:
    model: str
    label: str
    family: str
    depth: int
    params: int
    paper_error: float | None
    our_error: float | None
    run: Run | None

    @property
    def difference(self) -> float | None:
        if self.paper_error is None or self.our_error is None:
            return None
        return self.our_error - self.paper_error


def cifar_params(depth: int, num_classes: int = 10) -> int:
    """Parameters of a CIFAR plain-N or ResNet-N (option A shortcuts add none): exact, without building it."""
    n = (depth - 2) // 6
    total = 3 * 16 * 9 + 2 * 16  # stem conv + BN
    in_ch = 16
    for width in (16, 32, 64):
        for _ in range(n):
            total += in_ch * width * 9 + width * width * 9 + 4 * width
            in_ch = width
    return total + 64 * num_classes + num_classes


def table6(runs: Iterable[Run]) -> list[TableRow]:
    """Every ResNet of the paper's Table 6, plus every other model we have a run of; best run per model.

    "Best" follows the paper, which reports the best of several runs (except ResNet-110's mean).
    """
    best: dict[str, tuple[float, Run]] = {}  # model -> (its lowest final test error, that run)
    for r in runs:
        error = r.final_test_error
        if error is not None and (r.model not in best or error < best[r.model][0]):
            best[r.model] = (error, r)
    names = list(PAPER_TABLE6) + sorted((m for m in best if m not in PAPER_TABLE6),
                                        key=lambda m: (get_spec(m).family != "plain", get_spec(m).depth))
    rows = []
    for name in names:
        spec = get_spec(name)
        error, run = best.get(name, (None, None))
        rows.append(TableRow(name, display_name(name), spec.family, spec.depth, cifar_params(spec.depth),
                             PAPER_TABLE6.get(name), error, run))
    return rows


def depth_trend(rows: Iterable[TableRow], family: str = "resnet") -> tuple[list[TableRow], bool] | None:
    """Table 6's claim on our runs: the family's rows with a measured error, shallow to deep, and whether the
    error falls at every step. None with fewer than two depths."""
    ours = sorted(((r, r.our_error) for r in rows if r.family == family and r.our_error is not None),
                  key=lambda pair: pair[0].depth)
    if len(ours) < 2:
        return None
    return [r for r, _ in ours], all(b < a for (_, a), (_, b) in zip(ours, ours[1:]))


def schedule_params(run: Run) -> dict[str, Any] | None:
    """Placeholders of the "schedule" sentence (recipe, epochs, iterations), None when nothing is recorded."""
    if not run.has_log and not run.recipe:
        return None
    epochs = run.recipe.get("epochs")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, float)):
        epochs = len(run.iterations)  # a sidecar without the run's length: one log point per epoch
    elif not float(epochs).is_integer():
        epochs = round(epochs, 1)  # a run that ends inside an epoch (e.g. 1,000 iterations = 2.6 epochs)
    else:
        epochs = int(epochs)
    iterations = run.iterations[-1] if run.iterations else run.recipe.get("iterations", "?")
    return {"recipe": run.recipe.get("name", "?"), "epochs": epochs, "iterations": iterations}
