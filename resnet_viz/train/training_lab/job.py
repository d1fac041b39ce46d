"""A training-lab run in a background thread: ``LabJob`` is what a page reads (a plain object: the thread never
touches a user interface), ``start_job`` runs it in its turn in a ``WorkQueue``. The thread holds its job by a weak
reference between steps: a job nobody holds any more (its session ended) stops at the next step and its memory goes
with it. ``stop_all`` stops every run of the process (a server being stopped) and waits for their threads."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

from resnet_viz.checkpoints.read import LoadedModel
from resnet_viz.cost import CostMeter
from resnet_viz.errors import VizError
from resnet_viz.train.training_lab.settings import LabSettings, check_settings, run_key, run_work
from resnet_viz.train.training_lab.stepper import LabRun
from resnet_viz.work import WorkQueue, draining

QUEUED, RUNNING, FINISHED, FAILED = "queued", "running", "finished", "failed"

_threads: list[tuple[weakref.ref[LabJob], threading.Thread]] = []  # every run's thread and its job, while alive
_threads_lock = threading.Lock()


@dataclass
class LabJob:
    """What a page reads about a run in a background thread: a plain object the thread writes.

    ``results`` holds the trained nets once the run has finished (or was stopped); ``on_finish`` (if given) is
    called with them from the thread, before ``state`` turns FINISHED. ``meter`` (if given) gets the time of the
    run's steps and their work (``run_work``) when they end.
    """

    settings: LabSettings
    state: str = QUEUED
    ahead: int = 0  # jobs ahead in the queue while QUEUED
    run: LabRun | None = None
    error: VizError | None = None
    results: list[LoadedModel] = field(default_factory=list)
    finished_at: float | None = None  # time.monotonic() when results became ready
    on_finish: Callable[[list[LoadedModel]], object] | None = None
    meter: CostMeter | None = None  # told the run's seconds and work when its steps end
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
        if (job := ref()) is None or job.stop_requested:  # a job that arrives while the server drains never queues
            return
        del job
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
            _measured(ref, run)
            if draining():  # the server is being stopped: the nets go with the process, no final test for them
                return
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


def _measured(ref: weakref.ref[LabJob], run: LabRun) -> None:
    job = ref()
    if job is not None and job.meter is not None and run.iteration:
        job.meter.record(run_key(run.settings), run_work(run.settings, run.iteration), sum(run.step_seconds))


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
    if draining():  # the server is being stopped: the run ends at once, and the student moves to another server
        job.stop()
    ref = weakref.ref(job)
    thread = threading.Thread(target=_work, args=(ref, queue, device), daemon=True, name="training-lab")
    with _threads_lock:
        _threads[:] = [(r, t) for r, t in _threads if t.is_alive()]
        _threads.append((ref, thread))
    thread.start()
    return thread


def stop_all(timeout: float) -> int:
    """Stop every run of this process as Stop does (each finishes the step under way; its nets are tested and handed
    over, except while the process drains: they would go with it) and wait up to ``timeout`` s for the threads to
    end; the number of threads still alive."""
    deadline = time.monotonic() + timeout
    with _threads_lock:
        live = [(r, t) for r, t in _threads if t.is_alive()]
    for ref, _ in live:
        if (job := ref()) is not None:
            job.stop()
    for _, thread in live:
        thread.join(max(0.0, deadline - time.monotonic()))
    return sum(thread.is_alive() for _, thread in live)
