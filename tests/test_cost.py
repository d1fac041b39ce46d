"""The durations pages promise follow this server's measured speed (resnet_viz.cost and each page's unit of work):
the meter is fed values, no clock is compared with a number."""

from __future__ import annotations

import pytest

from resnet_viz.cost import (
    MACS_MEASURED,
    MACS_REFERENCE,
    MEASURED,
    CostMeter,
    about,
    calibrate,
    estimate_sentence,
    network_macs,
)
from resnet_viz.i18n import t
from resnet_viz.paper import landscape, lesion
from resnet_viz.train.training_lab import settings as lab


def test_the_meter_uses_a_keys_own_rate_else_the_measured_rate_else_the_reference():
    meter = CostMeter(2e-9)
    assert meter.estimate({"a": 1e9, "b": 3e9}) == (pytest.approx(8.0), MACS_REFERENCE)
    meter.record("a", 1e9, 5.0)  # this server: 5 ns per multiply-add
    assert meter.estimate({"a": 2e9}) == (pytest.approx(10.0), MEASURED)
    assert meter.estimate({"a": 1e9, "b": 1e9}) == (pytest.approx(10.0), MACS_MEASURED)
    meter.record("b", 1e9, 1.0)
    assert meter.estimate({"a": 1e9, "b": 1e9}) == (pytest.approx(6.0), MEASURED)
    meter.record("a", 1e9, 2.0)  # the latest computation counts
    assert meter.estimate({"a": 1e9})[0] == pytest.approx(2.0)
    meter.record("c", 0, 3.0)  # no work: nothing learnt
    assert meter.estimate({"c": 1e9})[1] == MACS_MEASURED


def test_a_calibration_puts_every_promise_on_this_servers_speed():
    meter = CostMeter(2e-9)
    ran: list[int] = []
    seconds = calibrate(meter, 1e9, lambda: ran.append(1))
    assert ran == [1, 1] and seconds >= 0
    assert meter.estimate({"a": 3e9}) == (pytest.approx(3 * seconds), MACS_MEASURED)
    meter.record("a", 1e9, 5.0)  # a network measured itself: its own rate
    assert meter.estimate({"a": 2e9}) == (pytest.approx(10.0), MEASURED)


def test_a_calibration_keeps_its_fastest_run():
    """Another process that took the cores during one run must not make every promise too long."""
    now, durations = [0.0], iter([3.0, 1.0, 2.0])
    meter = CostMeter(1.0)

    def work() -> None:
        now[0] += next(durations)

    assert calibrate(meter, 1e9, work, repeat=3, clock=lambda: now[0]) == 1.0
    assert meter.estimate({"a": 2e9}) == (pytest.approx(2.0), MACS_MEASURED)


def test_a_reference_computed_when_first_needed():
    calls = []
    meter = CostMeter(lambda: calls.append(1) or 1e-9)
    assert not calls
    assert meter.estimate({"x": 5e9})[0] == pytest.approx(5.0) and calls == [1]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_durations_in_both_languages(lang):
    assert about(0.2, lang) == t("cost.seconds", lang, n="1")
    assert about(45.4, lang) == t("cost.seconds", lang, n="45")
    assert about(300, lang) == t("cost.minutes", lang, n="5")
    assert ("秒" in about(45, lang)) == (lang == "zh")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_landscape_promise_follows_the_measured_speed(lang):
    meter = CostMeter(landscape.reference_seconds_per_mac)
    work = {"resnet20": landscape.grid_work("resnet20", 11, 256)}
    seconds, basis = meter.estimate(work)
    assert seconds == pytest.approx(landscape.REFERENCE_SECONDS) and basis == MACS_REFERENCE
    meter.record("resnet20", work["resnet20"], 12.0)  # this server did the grid in 12 s
    sentence = estimate_sentence("landscape.live_estimate", *meter.estimate(work), lang, net="ResNet-20")
    assert about(12.0, lang) in sentence and t("cost.basis_measured", lang) in sentence
    assert about(landscape.REFERENCE_SECONDS, lang) not in sentence
    seconds, basis = meter.estimate({"resnet56": landscape.grid_work("resnet56", 11, 256)})
    ratio = network_macs("resnet56") / network_macs("resnet20")
    assert seconds == pytest.approx(12.0 * ratio) and basis == MACS_MEASURED


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_lesion_promise_follows_the_measured_speed(lang):
    meter = CostMeter(lesion.reference_seconds_per_mac)
    seconds, basis = meter.estimate({"resnet110": lesion.sweep_work("resnet110")})
    assert seconds == pytest.approx(lesion.REFERENCE_SECONDS) and basis == MACS_REFERENCE
    meter.record("resnet20", lesion.sweep_work("resnet20"), 4.0)
    twenty = estimate_sentence("lesion.not_stored", *meter.estimate({"resnet20": lesion.sweep_work("resnet20")}),
                               lang, nets="ResNet-20")
    assert about(4.0, lang) in twenty and t("cost.basis_measured", lang) in twenty
    seconds, basis = meter.estimate({"resnet110": lesion.sweep_work("resnet110")})
    assert basis == MACS_MEASURED and seconds > 10 * 4.0  # 54 blocks against 9: far more sets, each far longer


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_training_lab_promise_follows_the_measured_speed(lang):
    meter = CostMeter(lab.reference_seconds_per_mac)
    default = lab.LabSettings()
    seconds, basis = meter.estimate({lab.run_key(default): lab.run_work(default)})
    assert basis == MACS_REFERENCE
    assert seconds == pytest.approx(lab.REFERENCE_SECONDS * default.iterations / lab.REFERENCE_ITERATIONS)
    meter.record(lab.run_key(default), lab.run_work(default, 50), 20.0)  # 50 iterations in 20 s here
    sentence = estimate_sentence("training_lab.recipe_note", *meter.estimate(
        {lab.run_key(default): lab.run_work(default)}), lang, iterations=default.iterations)
    assert about(20.0 * default.iterations / 50, lang) in sentence and t("cost.basis_measured", lang) in sentence
    small = lab.LabSettings(batch_size=8)
    assert meter.estimate({lab.run_key(small): lab.run_work(small)})[1] == MACS_MEASURED


def test_a_sweeps_block_evaluations_count_the_shared_prefixes_once():
    # 3 blocks: the intact net 3; block 0 deleted: 2 more; block 1: 1 more (block 0 shared); block 2: none. The
    # same set twice, and {0, 2} (the path of {0} up to block 2), add nothing.
    assert lesion.block_evaluations(3, [(), (0,), (1,), (2,)]) == 6
    assert lesion.block_evaluations(3, [(), (0,), (1,), (2,), (0,), (0, 2)]) == 6
    assert lesion.block_evaluations(3, [(0, 1)]) == 1 and lesion.block_evaluations(3, [(0, 1, 2)]) == 0
    n = 54
    assert lesion.block_evaluations(n, lesion.sweep_sets(n, ())) == n * (n + 1) // 2  # intact + singles
