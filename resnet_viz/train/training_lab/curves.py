"""What a training-lab run's curves say: the smoothed training curves and the training-loss gaps between nets
that the paper's Figure 6 compares (deeper against shallower, plain against ResNet)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from resnet_viz.train.training_lab.stepper import DIVERGED, NetTrack

WINDOW = 20  # iterations averaged for the smoothed curves and the comparisons
VERDICT_MIN_ITERATIONS = 5 * WINDOW  # a verdict needs every net compared to have trained this many steps
NOISE_SE = 2.0  # a gap counts when larger than this many standard errors of the difference of the two means


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


def _standard_error(values: list[float]) -> float:
    """The standard error of the mean of ``values``: the steps' own noise around their mean."""
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1)
    return (var / len(values)) ** 0.5


@dataclass(frozen=True)
class Gap:
    """Training losses of two nets compared: ``first`` minus ``second`` (a deeper plain net minus a shallower
    one, kind "depth"; a plain net minus the ResNet of its depth, kind "residual"), and the noise of that
    difference: ``NOISE_SE`` standard errors of the two means of the last window's steps."""

    kind: str
    first: str
    second: str
    gap: float
    noise: float = 0.0

    @property
    def settled(self) -> bool:
        """The difference is larger than the steps' own noise: the data carry a verdict."""
        return abs(self.gap) > self.noise


def loss_gaps(nets: list[NetTrack], window: int = WINDOW, min_iterations: int = VERDICT_MIN_ITERATIONS) -> list[Gap]:
    """The comparisons the paper's Figure 6 makes, among the nets that have trained ``min_iterations`` steps (a
    handful of steps says nothing yet): each deeper plain net against each shallower plain net, each deeper ResNet
    against each shallower one, and each plain net against the ResNet of the same depth; each with its noise."""
    ready = [n for n in nets if len(n.train_loss) >= max(min_iterations, window) and n.status != DIVERGED]
    recent = {id(n): n.train_loss[-window:] for n in ready}
    out = []
    for a in ready:
        for b in ready:
            la, lb = recent[id(a)], recent[id(b)]
            noise = NOISE_SE * (_standard_error(la) ** 2 + _standard_error(lb) ** 2) ** 0.5
            gap = sum(la) / window - sum(lb) / window
            if a.choice.residual == b.choice.residual and a.choice.depth > b.choice.depth:
                out.append(Gap("depth", a.choice.label, b.choice.label, gap, noise))
            elif not a.choice.residual and b.choice.residual and a.choice.depth == b.choice.depth:
                out.append(Gap("residual", a.choice.label, b.choice.label, gap, noise))
    return out


def loss_axis(nets: list[NetTrack], floor: float, window: int = WINDOW,
              headroom: float = 1.08) -> tuple[float, list[tuple[str, float]]]:
    """The top of the loss axis: at least ``floor`` (plain nets near chance stay legible although a ResNet's first
    steps can reach a loss of 5-15), and high enough for every net's latest smoothed loss, so that no curve is
    out of sight where it is now; and the nets whose smoothed curve still rises above it somewhere, with their
    highest value, for the chart to say what it clips."""
    latest = [smoothed(n.train_loss, window)[-1] for n in nets if n.train_loss]
    top = max([floor, *(v * headroom for v in latest if math.isfinite(v))])
    clipped = []
    for n in nets:
        highest = max((v for v in smoothed(n.train_loss, window) if math.isfinite(v)), default=0.0)
        if highest > top:
            clipped.append((n.choice.label, highest))
    return top, clipped
