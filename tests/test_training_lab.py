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

from resnet_viz.checkpoints.read import load_checkpoint
from resnet_viz.errors import InputError
from resnet_viz.i18n import t
from resnet_viz.samples import load_test_sample
from resnet_viz.train import lab
from resnet_viz.train.lab import (
    DIVERGED,
    DONE,
    FINISHED,
    QUEUED,
    STOPPED,
    LabJob,
    LabRun,
    LabSettings,
    ModelShelf,
    NetChoice,
    NetTrack,
    check_settings,
    checkpoint_files,
    clock,
    loss_gaps,
    smoothed,
    start_job,
    verdicts,
)
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
    monkeypatch.setattr(lab, "lab_data", lambda: (x[:400], y[:400], x, y, classes))


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
        ("paper", 32, 0.1, 0.9, 1e-4)


# ---------------------------------------------------------------- the stepper

@pytest.mark.slow
def test_the_lab_trains_on_the_shipped_images(monkeypatch):
    monkeypatch.undo()
    lab.lab_data.cache_clear()
    train_x, train_y, test_x, test_y, classes = lab.lab_data()
    assert train_x.shape == (5000, 3, 32, 32) and test_x.shape == (1000, 3, 32, 32) and len(classes) == 10
    assert torch.bincount(train_y).tolist() == [500] * 10
    run = LabRun(LabSettings(nets=(P20,), iterations=1, batch_size=8, eval_every=1))
    assert len(run.train_loader.images) == 5000 and len(run.test_loader.images) == 1000
    run.run()
    assert run.trained_models()[0].meta["eval_images"] == 1000


def test_nets_step_in_turn_on_the_same_batches(monkeypatch):
    calls: list[tuple[str, int, float]] = []
    original = LabRun._train_step

    def spy(self, net, x, y, lr):
        calls.append((net.choice.name, self.iteration, float(x.sum())))
        return original(self, net, x, y, lr)

    monkeypatch.setattr(LabRun, "_train_step", spy)
    run = LabRun(tiny())
    reports = [run.step() for _ in range(3)]
    assert [c[:2] for c in calls] == [("plain20", 0), ("resnet20", 0), ("plain20", 1), ("resnet20", 1),
                                      ("plain20", 2), ("resnet20", 2)]
    assert all(calls[2 * i][2] == calls[2 * i + 1][2] for i in range(3))  # one batch per iteration, for both
    assert calls[0][2] != calls[2][2]
    assert [r.iteration for r in reports] == [1, 2, 3]
    assert all(len(r.loss) == 2 and all(v is not None and math.isfinite(v) for v in r.loss) for r in reports)
    assert run.done and reports[-1].tested.keys() == {0, 1}  # the last iteration is always tested
    assert all(n.test_points[-1][0] == 3 and 0 <= n.test_points[-1][1] <= 100 for n in run.nets)


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
    run = LabRun(tiny(iterations=4, lr=lab.MAX_LR))
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
    nets = [_track("plain20", [1.0] * 20), _track("plain56", [2.0] * 20), _track("resnet56", [0.5] * 20)]
    gaps = {(g.kind, g.first, g.second): g.gap for g in loss_gaps(nets)}
    assert gaps == {("depth", "plain-56", "plain-20"): 1.0, ("residual", "plain-56", "ResNet-56"): 1.5}
    en = verdicts(loss_gaps(nets), "en")
    assert "**worse**" in en[0] and "1.000" in en[0] and "1.500" in en[1]
    assert loss_gaps([_track("plain20", [1.0] * 19), _track("plain56", [2.0] * 20)]) == []  # too few steps
    better = verdicts(loss_gaps([_track("plain20", [2.0] * 20), _track("plain56", [1.0] * 20)]), "zh")
    assert better == [t("training_lab.verdict_not_worse", "zh", deep="plain-56", shallow="plain-20", window=20,
                        gap="1.000")]


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
    job = LabJob(tiny(), on_finish=shelf.add)
    thread = start_job(job, WorkQueue(1))
    thread.join(60)
    assert not thread.is_alive() and job.state == FINISHED and len(job.results) == 2
    shelved = shelf.snapshot()
    assert list(shelved.values()) == list(reversed(job.results)) or set(map(id, shelved.values())) == \
        set(map(id, job.results))
    assert all(s.startswith(lab.TRAINED_PREFIX) for s in shelved)
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
    assert at.error[0].value == t("training_lab.bad_iterations", "zh", value=0, most=lab.MAX_ITERATIONS)
    assert "training_lab_job" not in at.session_state


def _picker_options(at) -> list[str]:
    return at.sidebar.selectbox(key="model_source").options


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
    page = app_page("pages/feature_maps.py", _trained_models=shelf, model_source=source)
    assert_no_exception(page)  # another page works on the trained net


def test_figure_keeps_the_loss_axis_legible_when_a_resnet_starts_high():
    from types import SimpleNamespace

    from resnet_viz.render.plots.training_lab import CHANCE_LOSS, lab_figure

    nets = [SimpleNamespace(choice=SimpleNamespace(label=name), train_loss=loss, train_acc=[10.0] * len(loss),
                            test_points=[(len(loss), 12.0, 2.2)])
            for name, loss in (("plain-20", [2.3, 2.2, 2.1]), ("ResNet-56", [14.0, 6.0, 2.2]))]
    fig = lab_figure(nets, total=10)  # type: ignore[arg-type]
    assert tuple(fig.layout.yaxis.range) == (0, 2 * CHANCE_LOSS)
    assert tuple(fig.layout.yaxis2.range) == (0, 100) and tuple(fig.layout.xaxis.range) == (0, 10)
    assert sum(tr.name == "ResNet-56" and tr.showlegend for tr in fig.data) == 1
