"""What the training-lab page says: the run's clock, the status table and one verdict per loss gap, in the page's
language."""

from __future__ import annotations

import math

from resnet_viz.i18n import t
from resnet_viz.train.training_lab.curves import NOISE_SE, VERDICT_MIN_ITERATIONS, WINDOW, Gap
from resnet_viz.train.training_lab.stepper import NetTrack

EMPTY = "–"  # a number not measured yet


def clock(seconds: float | None) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour on); "?" when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def status_rows(nets: list[NetTrack], lang: str = "en", window: int = WINDOW) -> list[dict[str, str]]:
    """One table row per net: status, iterations, recent training loss and accuracy, last test accuracy; a value
    not measured yet reads "–"."""
    def mean(values: list[float]) -> float | None:
        return sum(values) / len(values) if values else None

    def shown(value: float | None, digits: int) -> str:
        return EMPTY if value is None or not math.isfinite(value) else f"{value:.{digits}f}"

    rows = []
    for net in nets:
        loss, acc, test = mean(net.train_loss[-window:]), mean(net.train_acc[-window:]), net.test_accuracy
        rows.append({t("training_lab.table_net", lang): net.choice.label,
                     t("training_lab.table_status", lang): t(f"training_lab.status_{net.status}", lang),
                     t("training_lab.table_iterations", lang): str(net.iteration),
                     t("training_lab.table_train_loss", lang, window=window): shown(loss, 3),
                     t("training_lab.table_train_acc", lang, window=window): shown(acc, 1),
                     t("training_lab.table_test_acc", lang): shown(test, 1),
                     t("training_lab.table_seconds", lang): shown(net.seconds, 1)})
    return rows


def verdicts(gaps: list[Gap], lang: str = "en", window: int = WINDOW) -> list[str]:
    """One sentence per comparison: its direction taken from the gap when the gap is beyond the steps' noise,
    else that it is too close to call."""
    out = []
    for g in gaps:
        size = f"{abs(g.gap):.3f}"
        if not g.settled:
            out.append(t("training_lab.verdict_too_close", lang, first=g.first, second=g.second, gap=size,
                         noise=f"{g.noise:.3f}", window=window))
        elif g.kind == "depth":
            key = "verdict_worse" if g.gap > 0 else "verdict_not_worse"
            out.append(t(f"training_lab.{key}", lang, deep=g.first, shallow=g.second, window=window, gap=size))
        else:
            key = "verdict_residual" if g.gap > 0 else "verdict_residual_not"
            out.append(t(f"training_lab.{key}", lang, plain=g.first, resnet=g.second, gap=size))
    return out


def verdict_rule(lang: str = "en") -> str:
    """When the page gives a verdict: the rule, with its numbers."""
    return t("training_lab.verdict_rule", lang, iterations=VERDICT_MIN_ITERATIONS, window=WINDOW, se=f"{NOISE_SE:g}")
