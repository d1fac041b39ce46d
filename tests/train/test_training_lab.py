"""The training lab: the stepper (order, stop, NaN, bad settings, seeds, checkpoints), its background job and
session shelf (isolation, memory), and the page in AppTest."""

from __future__ import annotations

import gc
import math
import threading
import time
import weakref

import pytest
import torch

from resnet_viz import work
from resnet_viz.checkpoints.read import load_checkpoint
from resnet_viz.cost import MEASURED, CostMeter
from resnet_viz.errors import InputError
from resnet_viz.i18n import t
from resnet_viz.samples import load_test_sample
from resnet_viz.train.training_lab import stepper
from resnet_viz.train.training_lab.curves import VERDICT_MIN_ITERATIONS, loss_gaps, smoothed
from resnet_viz.train.training_lab.job import FINISHED, QUEUED, LabJob, start_job, stop_all
from resnet_viz.train.training_lab.sentences import clock, status_rows, verdict_rule, verdicts
from resnet_viz.train.training_lab.settings import (
    MAX_ITERATIONS,
    MAX_LR,
    LabSettings,
    NetChoice,
    check_settings,
    run_key,
    run_work,
)
from resnet_viz.train.training_lab.shelf import TRAINED_PREFIX, ModelShelf, checkpoint_files
from resnet_viz.train.training_lab.stepper import DIVERGED, DONE, STOPPED, LabRun, NetTrack
from resnet_viz.work import WorkQueue
from tests.conftest import app_page, assert_no_exception

P20, R20 = NetChoice.of("plain20"), NetChoice.of("resnet20")


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """One intra-op thread: bit-identical runs, and fast on the shared CPU."""


@pytest.fixture(autouse=True)
def _small_data(monkeypatch):
    """400 raw test-sample images stand in for the training subset: decoding its 5,000 JPEGs takes seconds (the
    real subset is checked once, in test_the_lab_trains_on_the_shipped_images)."""
    x, y, classes = load_test_sample()
    monkeypatch.setattr(stepper, "lab_data", lambda: (x[:400], y[:400], x, y, classes))


def tiny(**changes) -> LabSettings:
    """Two small nets, a few steps of 8 images, tested only at the end on 50 images (fast on a shared CPU)."""
    return LabSettings(**{"nets": (P20, R20), "iterations": 3, "batch_size": 8, "lr": 0.1, "seed": 0,
                          "eval_every": 1000, "test_images": 50, **changes})


# ---------------------------------------------------------------- settings

@pytest.mark.parametrize("changes, key", [
    ({"iterations": 0}, "training_lab.bad_iterations"),
    ({"iterations": 10**6}, "training_lab.bad_iterations"),
    ({"nets": (NetChoice(False, 21),)}, "training_lab.bad_depth"),
    ({"nets": (NetChoice(True, 4),)}, "training_lab.bad_depth"),
    ({"nets": (NetChoice(False, 26),)}, "training_lab.depth_not_offered"),  # 6n+2, not a zoo depth
    ({"nets": (NetChoice(True, 1202),)}, "training_lab.depth_not_offered"),
    ({"lr": 1e9}, "training_lab.bad_lr"),
    ({"lr": float("nan")}, "training_lab.bad_lr"),
    ({"lr": 0.0}, "training_lab.bad_lr"),
    ({"batch_size": 0}, "training_lab.bad_batch"),
    ({"nets": ()}, "training_lab.bad_net_count"),
    ({"nets": (P20, R20, NetChoice.of("plain32"), NetChoice.of("plain44"))}, "training_lab.bad_net_count"),
    ({"nets": (P20, P20)}, "training_lab.same_net_twice"),
    ({"nets": (NetChoice(True, 20, "C"),)}, "training_lab.bad_shortcut"),
    ({"eval_every": 0}, "training_lab.bad_eval_every"),
    ({"test_images": 0}, "training_lab.bad_test_images"),
])
def test_bad_settings_are_refused_with_a_message(changes, key):
    with pytest.raises(InputError) as info:
        check_settings(tiny(**changes))
    assert info.value.key == key
    for lang in ("en", "zh"):
        text = info.value.message(lang)
        assert text and "{" not in text and text != key


def test_bad_settings_start_no_thread():
    before = threading.active_count()
    with pytest.raises(InputError):
        start_job(LabJob(tiny(iterations=0)), WorkQueue(1))
    assert threading.active_count() == before


def test_defaults_are_the_issue_s():
    s = LabSettings()
    assert [n.name for n in s.nets] == ["plain20", "plain56", "resnet56"]
    recipe = check_settings(s)
    assert (recipe.name, recipe.batch_size, recipe.lr, recipe.momentum, recipe.weight_decay) == \
        ("paper", 32, 0.02, 0.9, 1e-4)


# ---------------------------------------------------------------- the stepper

@pytest.mark.slow
def test_the_lab_trains_on_the_shipped_images(monkeypatch):
    monkeypatch.undo()
    stepper.lab_data.cache_clear()
    train_x, train_y, test_x, test_y, classes = stepper.lab_data()
    assert train_x.shape == (5000, 3, 32, 32) and test_x.shape == (1000, 3, 32, 32) and len(classes) == 10
    assert torch.bincount(train_y).tolist() == [500] * 10
    run = LabRun(LabSettings(nets=(P20,), iterations=1, batch_size=8, eval_every=1))
    assert len(run.train_loader.images) == 5000 and len(run.test_loader.images) == 1000
    run.run()
    assert run.trained_models()[0].meta["eval_images"] == 1000


def test_nets_step_side_by_side_on_the_same_batches(monkeypatch):
    calls: list[tuple[str, int, float]] = []
    original = LabRun._train_step

    def spy(self, net, x, y, lr):
        calls.append((net.choice.name, self.iteration, float(x.sum())))
        return original(self, net, x, y, lr)

    monkeypatch.setattr(LabRun, "_train_step", spy)
    run = LabRun(tiny())
    reports = [run.step() for _ in range(3)]
    assert sorted(c[:2] for c in calls) == [("plain20", 0), ("plain20", 1), ("plain20", 2), ("resnet20", 0),
                                            ("resnet20", 1), ("resnet20", 2)]
    batch = {(name, it): total for name, it, total in calls}
    assert all(batch["plain20", i] == batch["resnet20", i] for i in range(3))  # one batch per iteration, for both
    assert batch["plain20", 0] != batch["plain20", 1]
    assert [r.iteration for r in reports] == [1, 2, 3]
    assert all(len(r.loss) == 2 and all(v is not None and math.isfinite(v) for v in r.loss) for r in reports)
    assert run.done and reports[-1].tested.keys() == {0, 1}  # the last iteration is always tested
    assert all(n.test_points[-1][0] == 3 and 0 <= n.test_points[-1][1] <= 100 for n in run.nets)


def test_two_worker_threads_train_the_nets_as_one_does():
    one, two = LabRun(tiny(), workers=1), LabRun(tiny(), workers=2)
    one.run()
    two.run()
    for a, b in zip(one.nets, two.nets):
        assert a.train_loss == b.train_loss and a.test_points == b.test_points
        assert all(torch.equal(p, q) for p, q in zip(a.model.state_dict().values(), b.model.state_dict().values()))


def test_a_stop_is_seen_between_one_nets_iteration_and_the_next(monkeypatch):
    """A fake step per net on a fake clock (0.25 s each): a Stop during the first net's iteration ends training when
    that iteration ends; the other nets of the step do not start theirs."""
    clock = [0.0]
    started: list[str] = []
    run = LabRun(tiny(nets=(P20, R20, NetChoice.of("plain32")), iterations=50), workers=1)

    def fake(self, net, x, y, lr):
        started.append(net.choice.name)
        if len(started) == 4:  # during the second step's first iteration
            self.stop()
            stopped_at[0] = clock[0]
        clock[0] += 0.25
        net.iteration += 1
        net.train_loss.append(1.0)
        return 1.0, 10.0

    stopped_at = [0.0]
    monkeypatch.setattr(LabRun, "_train_step", fake)
    while not run.done:
        run.step()
    assert started == ["plain20", "resnet20", "plain32", "plain20"]
    assert clock[0] - stopped_at[0] == 0.25  # the iteration under way, nothing after it
    assert [n.iteration for n in run.nets] == [2, 1, 1]


def test_test_points_every_n_and_progress():
    run = LabRun(tiny(iterations=4, eval_every=2, nets=(P20,)))
    tested = [bool(run.step().tested) for _ in range(4)]
    assert tested == [False, True, False, True]
    assert [p[0] for p in run.nets[0].test_points] == [2, 4]
    assert run.eta_seconds() == 0 and run.images_per_second() > 0
    entry = run.nets[0].log[-1]
    assert entry["iteration"] == 4 and entry["test_error"] == pytest.approx(100 - run.nets[0].test_accuracy)


def test_stop_ends_the_run_and_keeps_the_nets():
    run = LabRun(tiny(iterations=50))
    run.step()
    run.stop()
    assert run.done
    with pytest.raises(RuntimeError):
        run.step()
    run.finish()
    assert [n.status for n in run.nets] == [STOPPED, STOPPED]
    assert all(n.iteration == 1 and n.test_points[-1][0] == 1 for n in run.nets)
    models = run.trained_models()
    assert len(models) == 2 and all(m.meta["complete"] is False and m.meta["trained_iterations"] == 1
                                    for m in models)


def test_a_nan_loss_stops_that_net_only():
    run = LabRun(tiny(iterations=3))
    run.step()
    with torch.no_grad():
        run.nets[0].model.linear.weight.fill_(float("nan"))
    report = run.step()
    assert report.loss[0] is None and report.loss[1] is not None
    assert run.nets[0].status == DIVERGED and run.nets[0].iteration == 1
    run.run()
    assert run.nets[1].status == DONE and run.nets[1].iteration == 3
    assert [m.spec.name for m in run.trained_models()] == ["resnet20"]  # a diverged net is never offered


def test_a_huge_allowed_learning_rate_diverges_without_breaking_the_run():
    run = LabRun(tiny(iterations=4, lr=MAX_LR))
    run.run()
    assert run.done and all(n.status in (DONE, DIVERGED) for n in run.nets)


def test_same_seed_same_curves_other_seed_other_curves():
    def losses(seed: int) -> list[list[float]]:
        run = LabRun(tiny(seed=seed, iterations=2))
        run.run()
        return [n.train_loss for n in run.nets]

    assert losses(3) == losses(3)
    assert losses(3) != losses(4)


def test_trained_nets_load_back_in_the_project_s_format(tmp_path):
    run = LabRun(tiny(nets=(NetChoice(True, 20, "B"),)))
    run.run()
    (trained,) = run.trained_models()
    weights, sidecar = checkpoint_files(trained, "mine")
    (tmp_path / "mine.safetensors").write_bytes(weights)
    (tmp_path / "mine.json").write_bytes(sidecar)
    back = load_checkpoint(tmp_path / "mine.safetensors")
    assert back.spec.name == "resnet20" and back.shortcut == "B"
    assert back.mean == trained.mean and back.classes == trained.classes
    assert back.accuracy == pytest.approx(trained.accuracy, abs=1e-4) and len(back.meta["log"]) == 1
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(back.model(x), trained.model(x))


# ---------------------------------------------------------------- what the page says

def _track(name: str, losses: list[float]) -> NetTrack:
    return NetTrack(NetChoice.of(name), torch.nn.Linear(1, 1), None, train_loss=losses)  # type: ignore[arg-type]


def test_gaps_and_verdicts_follow_the_losses():
    n = VERDICT_MIN_ITERATIONS
    nets = [_track("plain20", [1.0] * n), _track("plain56", [2.0] * n), _track("resnet56", [0.5] * n)]
    gaps = {(g.kind, g.first, g.second): g.gap for g in loss_gaps(nets)}
    assert gaps == {("depth", "plain-56", "plain-20"): 1.0, ("residual", "plain-56", "ResNet-56"): 1.5}
    en = verdicts(loss_gaps(nets), "en")
    assert "**worse**" in en[0] and "1.000" in en[0] and "1.500" in en[1] and "middle" in en[1]
    better = verdicts(loss_gaps([_track("plain20", [2.0] * n), _track("plain56", [1.0] * n)]), "zh")
    assert better == [t("training_lab.verdict_not_worse", "zh", deep="plain-56", shallow="plain-20", window=20,
                        gap="1.000")]


def test_no_verdict_from_a_handful_of_steps_or_within_the_steps_noise():
    n = VERDICT_MIN_ITERATIONS
    # the issue's case: after a few steps ResNet-56's loss 4.9 above plain-56's said "not lower yet"
    early = [_track("plain56", [2.3] * (n - 1)), _track("resnet56", [7.2] * (n - 1))]
    assert loss_gaps(early) == []
    # noisy steps whose means differ by less than two standard errors: too close to call, said so
    noisy = [0.5, 3.5] * (n // 2)  # mean 2.0, standard error of the last 20: 1.5 / sqrt(20) * sqrt(20/19)
    gaps = loss_gaps([_track("plain56", noisy), _track("resnet56", [1.5] * n)])
    (g,) = gaps
    assert g.gap == pytest.approx(0.5) and not g.settled and g.noise == pytest.approx(2 * 1.5 / 19 ** 0.5)
    (sentence,) = verdicts(gaps, "en")
    assert sentence == t("training_lab.verdict_too_close", "en", first="plain-56", second="ResNet-56", gap="0.500",
                         noise=f"{g.noise:.3f}", window=20)
    clear = loss_gaps([_track("plain56", noisy), _track("resnet56", [0.2] * n)])
    assert clear[0].settled and "**ResNet-56**" in verdicts(clear, "en")[0]
    assert str(VERDICT_MIN_ITERATIONS) in verdict_rule("en") and str(VERDICT_MIN_ITERATIONS) in verdict_rule("zh")


def test_the_status_table_never_shows_none():
    rows = status_rows([_track("plain20", [])], "en")
    assert all(v is not None and "None" not in str(v) and "nan" not in str(v) for v in rows[0].values())
    assert rows[0][t("training_lab.table_train_loss", "en", window=20)] == "–"
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_status_rows_write_a_dash_where_nothing_was_measured_yet(lang):
    """A dataframe writes "None" in an empty cell, in English: the rows hold text, a dash where no number is."""
    fresh, trained = _track("plain20", []), _track("resnet20", [2.0, 1.0])
    trained.train_acc = [40.0, 60.0]
    rows = status_rows([fresh, trained], lang)
    loss_column = t("training_lab.table_train_loss", lang, window=20)
    assert [row[loss_column] for row in rows] == ["–", "1.500"]
    assert [row[t("training_lab.table_test_acc", lang)] for row in rows] == ["–", "–"]
    assert not [v for row in rows for v in row.values() if v is None]


def test_smoothing_and_clock():
    assert smoothed([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    assert clock(65) == "1:05" and clock(3725) == "1:02:05" and clock(None) == "?"


# ---------------------------------------------------------------- the background job, the shelf, memory

def _wait(predicate, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_a_job_trains_in_a_thread_and_shelves_its_nets():
    shelf = ModelShelf()
    meter = CostMeter(1.0)  # a reference of 1 s per multiply-add: far from any measured speed
    job = LabJob(tiny(), on_finish=shelf.add, meter=meter)
    thread = start_job(job, WorkQueue(1))
    thread.join(60)
    assert not thread.is_alive() and job.state == FINISHED and len(job.results) == 2
    seconds, basis = meter.estimate({run_key(job.settings): run_work(job.settings)})
    assert basis == MEASURED and seconds == pytest.approx(sum(job.run.step_seconds))  # what the page promises next
    shelved = shelf.snapshot()
    assert list(shelved.values()) == list(reversed(job.results)) or set(map(id, shelved.values())) == \
        set(map(id, job.results))
    assert all(s.startswith(TRAINED_PREFIX) for s in shelved)
    ref = weakref.ref(job.results[0].model)
    del job, shelf, shelved
    gc.collect()
    assert ref() is None  # nothing outside the session's objects keeps a finished run's nets


def _stepping(ref: weakref.ref[LabJob]) -> bool:
    job = ref()
    return job is not None and job.run is not None and job.run.iteration > 0


def test_a_dropped_job_ends_its_thread():
    job = LabJob(tiny(iterations=5000, nets=(P20,)))
    thread = start_job(job, WorkQueue(1))
    ref = weakref.ref(job)
    _wait(lambda: _stepping(ref))
    del job
    gc.collect()
    thread.join(30)
    assert not thread.is_alive()


def test_queued_jobs_wait_their_turn_and_can_be_stopped():
    queue = WorkQueue(1)
    with queue.turn():  # another session's run
        job = LabJob(tiny())
        thread = start_job(job, queue)
        _wait(lambda: job.ahead == 1)
        assert job.state == QUEUED and job.run is None
        job.stop()
    thread.join(30)
    assert not thread.is_alive() and job.run is None and not job.results


def test_stop_all_ends_every_run_cleanly_and_hands_its_nets_over():
    """A server being stopped stops its training runs as Stop does: the step under way finishes, the nets are tested
    and handed over; a run asked for meanwhile never starts."""
    queue = WorkQueue(1)
    running, waiting = LabJob(tiny(iterations=5000)), LabJob(tiny(iterations=5000))
    threads = [start_job(running, queue), start_job(waiting, queue)]
    _wait(lambda: running.run is not None and running.run.iteration > 0 and waiting.ahead == 1)
    assert stop_all(timeout=60) == 0
    assert not any(t.is_alive() for t in threads)
    assert running.state == FINISHED and running.error is None and len(running.results) == 2
    assert [n.status for n in running.run.nets] == [STOPPED, STOPPED]
    assert 0 < running.run.iteration < 5000
    assert waiting.run is None and not waiting.results and waiting.state == FINISHED


def test_a_draining_server_ends_its_runs_after_the_step_under_way(monkeypatch):
    """While the process drains, a stopped run skips its final test: the nets would only go with the process."""
    draining = threading.Event()
    monkeypatch.setattr(work, "_draining", draining)
    job = LabJob(tiny(iterations=5000, nets=(P20,)))
    thread = start_job(job, WorkQueue(1))
    _wait(lambda: job.run is not None and job.run.iteration > 0)
    draining.set()
    assert stop_all(timeout=60) == 0
    assert not thread.is_alive() and job.state == FINISHED and job.error is None and not job.results
    assert 0 < job.run.iteration < 5000 and job.run.nets[0].test_points == []


def test_a_run_asked_for_while_the_server_drains_never_starts(monkeypatch):
    draining = threading.Event()
    draining.set()
    monkeypatch.setattr(work, "_draining", draining)
    job = LabJob(tiny())
    thread = start_job(job, WorkQueue(1))
    thread.join(30)
    assert not thread.is_alive() and job.run is None and job.stop_requested and not job.results


def test_the_shelf_keeps_the_newest_runs():
    shelf = ModelShelf(kept=3)
    run = LabRun(tiny(iterations=1))
    run.run()
    models = run.trained_models()
    first = shelf.add(models)
    second = shelf.add(models)
    assert list(shelf.snapshot()) == [second[1], second[0], first[1]]


# ---------------------------------------------------------------- the page

def _train_button(at):
    return next(b for b in at.button if b.label == t("training_lab.train", at.session_state["lang"]))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_renders(lang):
    at = app_page("pages/training_lab.py", lang=lang)
    assert_no_exception(at)
    assert at.title[0].value == t("training_lab.page_title", lang)
    assert [s.value for s in at.selectbox if s.key and s.key.startswith("training_lab_kind")] == \
        ["plain", "plain", "resnet"]
    assert not _train_button(at).disabled and not at.get("plotly_chart")  # no run yet, no curves


def test_bad_settings_on_the_page():
    at = app_page("pages/training_lab.py", lang="zh")
    at.number_input(key="training_lab_iterations").set_value(0)
    _train_button(at).click().run()
    assert_no_exception(at)
    assert at.error[0].value == t("training_lab.bad_iterations", "zh", value=0, most=MAX_ITERATIONS)
    assert "training_lab_job" not in at.session_state


def _picker_options(at) -> list[str]:
    return at.sidebar.selectbox(key="model_choice").options


@pytest.mark.slow
def test_a_short_run_reaches_this_session_s_picker_only():
    at = app_page("pages/training_lab.py")
    at.selectbox(key="training_lab_kind1").set_value("none")
    at.selectbox(key="training_lab_kind2").set_value("none")
    at.number_input(key="training_lab_iterations").set_value(2)
    at.number_input(key="training_lab_batch").set_value(8)
    _train_button(at).click().run()
    job = at.session_state["training_lab_job"]
    _wait(lambda: not job.active)
    at.run()
    assert_no_exception(at)
    assert job.state == FINISHED and [m.spec.name for m in job.results] == ["plain20"]
    assert at.get("plotly_chart") and len(at.get("download_button")) == 2
    shelf = at.session_state["_trained_models"]
    (source,) = shelf.snapshot()
    # AppTest draws no sidebar after switch_page: the picker is read on the first page of a session holding it
    mine, other = app_page(_trained_models=shelf), app_page()
    assert any(o.startswith("plain-20 (2 it.), trained here") for o in _picker_options(mine))
    assert not any("trained here" in o for o in _picker_options(other))
    assert "_trained_models" not in other.session_state or not other.session_state["_trained_models"].snapshot()
    page = app_page("pages/feature_maps.py", _trained_models=shelf, model_choice=source)
    assert_no_exception(page)  # another page works on the trained net


def _fake_nets(*curves):
    from types import SimpleNamespace

    return [SimpleNamespace(choice=SimpleNamespace(label=name), train_loss=loss, train_acc=[10.0] * len(loss),
                            test_points=[(len(loss), 12.0, 2.2)]) for name, loss in curves]


def test_figure_keeps_the_loss_axis_legible_when_a_resnet_starts_high():
    from resnet_viz.render.plots.training_lab import CHANCE_LOSS, lab_figures

    nets = _fake_nets(("plain-20", [2.3, 2.2, 2.1] * 10), ("ResNet-56", [14.0, 6.0] + [2.2] * 28))
    loss, acc, test = lab_figures(nets, total=10)  # type: ignore[arg-type]
    assert tuple(loss.layout.yaxis.range) == (0, 2 * CHANCE_LOSS)
    assert tuple(acc.layout.yaxis.range) == (0, 100) and tuple(loss.layout.xaxis.range) == (0, 10)
    assert [sum(tr.name == "ResNet-56" and tr.showlegend is not False for tr in f.data) for f in (loss, acc, test)] \
        == [1, 0, 0]  # one legend, under the first figure
    (note,) = loss.layout.annotations  # what the axis clips
    assert note.text == t("training_lab.loss_clipped", "en",
                          nets=t("training_lab.loss_clipped_net", "en", net="ResNet-56", top="14"))


def test_the_loss_axis_shows_a_curve_that_stays_high():
    from resnet_viz.render.plots.training_lab import lab_figures

    nets = _fake_nets(("plain-56", [2.3] * 40), ("ResNet-56", [7.33] * 40))  # the issue's ResNet-56 at 7.33
    loss, _, _ = lab_figures(nets, total=100)  # type: ignore[arg-type]
    assert loss.layout.yaxis.range[1] > 7.33  # its curve is on the chart
    assert not loss.layout.annotations  # nothing clipped, nothing said


def test_a_plain_net_is_offered_no_shortcut_option():
    at = app_page("pages/training_lab.py")
    radios = {r.key for r in at.radio}
    assert "training_lab_shortcut2" in radios  # ResNet-56
    assert "training_lab_shortcut0" not in radios and "training_lab_shortcut1" not in radios  # plain-20, plain-56
    at.selectbox(key="training_lab_kind0").set_value("resnet").run()  # outside the form: shown at once
    assert "training_lab_shortcut0" in {r.key for r in at.radio}


def test_the_calibration_scales_its_timed_steps_and_counts_the_tests_at_a_third(monkeypatch):
    """The faster of two timed forward and backward passes of the default nets makes a default run's seconds; a
    test's forward pass costs a third of a training step per multiply-add."""
    clock = [0.0]
    passes: list[int] = []
    me, real = threading.current_thread(), stepper.parallel_map

    def one_pass(fn, nets, *, workers):
        if threading.current_thread() is not me:  # a warm-up thread left by another test: its own passes
            return real(fn, nets, workers=workers)
        assert [type(n).__name__ for n in nets] == ["CifarNet"] * 3 and workers == work.WORKERS
        passes.append(len(nets))
        clock[0] += 0.5 if len(passes) != 2 else 4.0  # the first timed pass was slowed by another process

    monkeypatch.setattr(stepper, "parallel_map", one_pass)
    settings = LabSettings()
    units, seconds = stepper.calibration(settings, clock=lambda: clock[0])
    assert passes == [3, 3, 3] and units == run_work(settings)
    tests = math.ceil(settings.iterations / settings.test_every)
    step_units = run_work(settings, 1)
    test_units = tests * settings.test_images * step_units / settings.batch_size
    assert seconds == pytest.approx(0.5 * (settings.iterations + test_units / 3 / step_units))


def test_the_calibration_trains_nothing_it_keeps():
    """A real calibration: numbers for the whole run, and no optimizer module imported for it."""
    import subprocess
    import sys

    code = ("import sys; from resnet_viz.train.training_lab.stepper import calibration; "
            "from resnet_viz.train.training_lab.settings import LabSettings, run_work; "
            "units, seconds = calibration(LabSettings(iterations=20, batch_size=8)); "
            "assert units == run_work(LabSettings(iterations=20, batch_size=8)) and seconds > 0; "
            "print(sorted(m for m in sys.modules if m.startswith('torch._dynamo'))[:1])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
