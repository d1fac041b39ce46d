"""How long work takes on this server: the seconds per multiply-add measured here for each kind of work, and the
duration a page promises computed from them, never a constant.

A page that says how long something takes (Figure 7's "Recompute live", the live loss landscape, a lesion sweep,
the training lab's default run) asks a ``CostMeter`` kept by its server: each computation records its seconds
and its work (multiply-adds of the forward passes it ran, ``network_macs``); an estimate uses the network's own
measured rate, else the rate measured here on other networks, else a reference rate taken from the project's
benchmarks (benchmarks/README.md) until this server has measured anything. The server's warm-up measures a small
piece of each page's work (``calibrate``), so from then on no promise rests on the reference.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from functools import lru_cache

MEASURED, MACS_MEASURED, MACS_REFERENCE = "measured", "macs_measured", "macs_reference"
CALIBRATION = "calibration"  # the key of the small piece of a page's work that the server's warm-up times
# What the warm-up times: ResNet-20 on 128 images (a lesion sweep: 1 s here, its rate within 10 % of ResNet-56's sweep
# of 1,000 images; fewer images time Python's overhead more than the convolutions).
CALIBRATION_MODEL, CALIBRATION_IMAGES = "resnet20", 128
# Timed twice, the faster kept: a calibration lasts a second or two, and another process that took the cores for
# part of it would have made every promise too long until the page's first real run.
CALIBRATION_REPEAT = 2


@lru_cache(maxsize=64)  # a meta-device pass per net: pages ask on every run
def network_macs(model: str) -> int:
    """Multiply-adds of one forward pass of zoo model ``model`` on one image."""
    from resnet_viz.inspect.architecture import summarize

    return summarize(model).macs


class CostMeter:
    """Seconds per unit of work (a multiply-add), measured per key (a network, a set of networks) on this server;
    thread-safe. ``reference``: seconds per unit before anything is measured (a number, or a function computing it
    when first needed)."""

    def __init__(self, reference: float | Callable[[], float]) -> None:
        self._reference = reference
        self._lock = threading.Lock()
        self._measured: dict[str, tuple[float, float]] = {}  # key -> (seconds, units) of its latest computation

    def record(self, key: str, units: float, seconds: float) -> None:
        if units > 0 and seconds >= 0:
            with self._lock:
                self._measured[key] = (seconds, units)

    def reference(self) -> float:
        return self._reference() if callable(self._reference) else self._reference

    def estimate(self, work: Mapping[str, float]) -> tuple[float, str]:
        """(seconds for ``work``, key -> units; basis): ``MEASURED`` when every key was measured here,
        ``MACS_MEASURED`` when some were (the others at the measured keys' pooled rate), ``MACS_REFERENCE`` when
        none was (all at the reference rate)."""
        with self._lock:
            measured = dict(self._measured)
        missing = {k: u for k, u in work.items() if k not in measured}
        known = sum(units * measured[k][0] / measured[k][1] for k, units in work.items() if k in measured)
        if not missing:
            return known, MEASURED
        if measured:
            rate = sum(s for s, _ in measured.values()) / sum(u for _, u in measured.values())
            return known + rate * sum(missing.values()), MACS_MEASURED
        return self.reference() * sum(missing.values()), MACS_REFERENCE


def calibrate(meter: CostMeter, units: float, work: Callable[[], object], *, repeat: int = CALIBRATION_REPEAT,
              clock: Callable[[], float] = time.perf_counter) -> float:
    """Run ``work`` (``units`` of the meter's kind of work, a small piece of it) ``repeat`` times and record the
    fastest under ``CALIBRATION``: the meter's estimates rest on this server's speed from then on. Its seconds."""
    best = float("inf")
    for _ in range(max(repeat, 1)):
        start = clock()
        work()
        best = min(best, clock() - start)
    meter.record(CALIBRATION, units, best)
    return best


def about(seconds: float, lang: str = "en") -> str:
    """A duration as a page says it: whole seconds under two minutes, else minutes (at least 1 s)."""
    from resnet_viz.i18n import t

    if seconds < 120:
        return t("cost.seconds", lang, n=f"{max(seconds, 1):.0f}")
    return t("cost.minutes", lang, n=f"{seconds / 60:.0f}")


def basis_words(basis: str, lang: str = "en") -> str:
    """On what an estimate rests, said in ``lang``."""
    from resnet_viz.i18n import t

    return t(f"cost.basis_{basis}", lang)


def estimate_sentence(key: str, seconds: float, basis: str, lang: str = "en", **values: object) -> str:
    """The i18n entry ``key`` with ``{duration}`` (``about``) and ``{basis}`` (``basis_words``) filled in."""
    from resnet_viz.i18n import t

    return t(key, lang, duration=about(seconds, lang), basis=basis_words(basis, lang), **values)
