"""The per-server work queue and the byte-bounded cache (resnet_viz.work)."""

from __future__ import annotations

import threading
import time
import weakref

import pytest
import torch

from resnet_viz import work
from resnet_viz.models.registry import build_model
from resnet_viz.work import ByteBudgetCache, WorkQueue, heavy_slots, model_cache_bytes, module_bytes, parallel_map


def _run_jobs(queue: WorkQueue, n: int, hold_s: float = 0.05):
    started, waits, running, peak = [], {i: [] for i in range(n)}, [0], [0]
    lock = threading.Lock()

    def job(i: int) -> None:
        with queue.turn(waits[i].append, poll_s=0.01):
            with lock:
                started.append(i)
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            time.sleep(hold_s)
            with lock:
                running[0] -= 1

    threads = []
    for i in range(n):  # arrive one after another, so the arrival order is known
        threads.append(threading.Thread(target=job, args=(i,)))
        threads[-1].start()
        time.sleep(0.01)
    for th in threads:
        th.join(timeout=30)
    return started, waits, peak[0]


def test_one_slot_runs_jobs_one_at_a_time_in_arrival_order():
    started, waits, peak = _run_jobs(WorkQueue(1), 5)
    assert started == [0, 1, 2, 3, 4] and peak == 1
    assert waits[0] == []  # the first job never waits
    assert waits[4][0] >= 1 and waits[4] == sorted(waits[4], reverse=True)  # told its place, counting down
    assert all(w[-1] == 1 for w in waits.values() if w)  # last word before its turn: one job ahead (running)


def test_two_slots_run_two_at_a_time():
    started, _, peak = _run_jobs(WorkQueue(2), 6, hold_s=0.1)
    assert sorted(started) == list(range(6)) and peak == 2


def test_a_session_that_stops_while_waiting_leaves_the_line():
    queue = WorkQueue(1)
    release = threading.Event()

    def holder():
        with queue.turn():
            release.wait(10)

    first = threading.Thread(target=holder)
    first.start()
    time.sleep(0.05)

    def stop(_ahead):
        raise KeyboardInterrupt  # what a rerun does to the waiting script thread

    with pytest.raises(KeyboardInterrupt), queue.turn(stop):
        pass
    assert queue.ahead_of_new() == 1  # only the running job: the stopped one is gone
    release.set()
    first.join(10)
    with queue.turn():  # and the next job is not blocked by it
        assert queue.ahead_of_new() == 1


def test_cache_drops_least_recently_used_until_under_budget():
    cache = ByteBudgetCache(100, size_of=len)
    for key in "abc":
        cache.get_or_create(key, lambda k=key: k * 40)  # 40 bytes each
    assert cache.keys() == ["b", "c"] and cache.nbytes == 80
    cache.get_or_create("b", lambda: "never built")  # a hit: b becomes the most recent
    cache.get_or_create("d", lambda: "d" * 40)
    assert cache.keys() == ["b", "d"]
    cache.get_or_create("huge", lambda: "h" * 500)  # bigger than the budget: kept alone
    assert cache.keys() == ["huge"]


def test_cache_builds_a_missing_entry_once_for_concurrent_callers():
    cache = ByteBudgetCache(10**9, size_of=lambda v: 1)
    built = []

    def make():
        built.append(1)
        time.sleep(0.1)
        return object()

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_create("k", make))) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    assert len(built) == 1 and len({id(r) for r in results}) == 1


def test_module_bytes_and_settings(monkeypatch):
    net = build_model("resnet20")
    expected = sum(t.numel() * t.element_size() for t in [*net.parameters(), *net.buffers()])
    assert module_bytes(net) == expected and module_bytes(net.half()) < expected
    assert module_bytes(torch.nn.Linear(10, 10)) == 110 * 4
    monkeypatch.delenv("RESNET_VIZ_HEAVY_SLOTS", raising=False)
    monkeypatch.setenv("RESNET_VIZ_MODEL_CACHE_MB", "2")
    assert heavy_slots() == 1 and model_cache_bytes() == 2 * 1024 * 1024
    monkeypatch.setenv("RESNET_VIZ_HEAVY_SLOTS", "zero")
    with pytest.raises(ValueError):
        heavy_slots()


def test_weighed_jobs_share_a_budget_of_bytes_in_arrival_order():
    """Uploads being loaded: a queue of bytes, where a job waits until its weight fits beside the running ones."""
    queue = WorkQueue(100)
    order, lock = [], threading.Lock()
    release = threading.Event()

    def job(name: str, weight: int, hold: bool) -> None:
        with queue.turn(weight=weight, poll_s=0.01):
            with lock:
                order.append(name)
            if hold:
                release.wait(10)

    first = threading.Thread(target=job, args=("60", 60, True))
    first.start()
    time.sleep(0.05)
    blocked = threading.Thread(target=job, args=("50", 50, False))  # 60 + 50 > 100: waits
    blocked.start()
    time.sleep(0.05)
    small = threading.Thread(target=job, args=("10", 10, False))  # would fit, but arrived later: waits its turn
    small.start()
    time.sleep(0.1)
    assert order == ["60"] and queue.ahead_of_new() == 3
    release.set()
    for th in (first, blocked, small):
        th.join(timeout=10)
    assert order == ["60", "50", "10"]
    with queue.turn(weight=10**9):  # heavier than the whole budget: runs alone instead of never
        assert queue.ahead_of_new() == 1


def test_the_cache_gives_an_entry_or_none_without_building():
    cache = ByteBudgetCache(100, size_of=len)
    assert cache.get("a") is None
    cache.get_or_create("a", lambda: "x" * 60)
    cache.get_or_create("b", lambda: "y" * 60)  # over budget: the least recently used goes
    assert cache.get("a") is None and cache.get("b") == "y" * 60


# ---------------------------------------------------------------- draining: a server that is being stopped

def _hold(queue: WorkQueue, release: threading.Event, done: list[str], name: str) -> threading.Thread:
    def job() -> None:
        with queue.turn():
            release.wait(30)
            done.append(name)

    thread = threading.Thread(target=job)
    thread.start()
    return thread


def test_a_queue_is_quiet_only_a_moment_after_its_last_job():
    queue, release, done = WorkQueue(1), threading.Event(), []
    assert queue.wait_until_quiet(1.0, timeout=0)  # never used: quiet since ever
    thread = _hold(queue, release, done, "a")
    time.sleep(0.05)
    assert queue.quiet_for() == 0.0
    assert not queue.wait_until_quiet(0.1, timeout=0.2)  # the job still runs
    release.set()
    assert queue.wait_until_quiet(0.2, timeout=30)
    assert done == ["a"] and queue.quiet_for() >= 0.2
    thread.join(10)


def test_jobs_one_after_another_are_one_stretch_of_work():
    """Figure 7 live queues one job per network: the wait ends after the last, not in the gap after the first."""
    queue, done = WorkQueue(1), []

    def page() -> None:
        for net in ("plain20", "resnet20", "resnet56"):
            with queue.turn():
                time.sleep(0.1)
                done.append(net)
            time.sleep(0.02)  # the script between two jobs

    thread = threading.Thread(target=page)
    thread.start()
    time.sleep(0.05)
    assert queue.wait_until_quiet(0.5, timeout=30)
    assert done == ["plain20", "resnet20", "resnet56"]
    thread.join(10)


def test_draining_waits_for_every_queue_of_the_process(monkeypatch):
    monkeypatch.setattr(work, "_draining", threading.Event())
    monkeypatch.setattr(work, "_queues", weakref.WeakSet())
    heavy, lab, idle = WorkQueue(1), WorkQueue(1), WorkQueue(2)
    release, done = threading.Event(), []
    threads = [_hold(heavy, release, done, "heavy"), _hold(lab, release, done, "lab")]
    time.sleep(0.05)
    assert not work.draining()
    assert work.start_draining() == 2 and work.draining()
    assert not work.wait_for_queues(timeout=0.2, quiet_s=0.05)
    release.set()
    assert work.wait_for_queues(timeout=30, quiet_s=0.05)
    assert sorted(done) == ["heavy", "lab"] and idle.quiet_for() > 0
    for thread in threads:
        thread.join(10)


def test_drain_seconds_setting(monkeypatch):
    monkeypatch.delenv("RESNET_VIZ_DRAIN_S", raising=False)
    assert work.drain_seconds() == work.DEFAULT_DRAIN_S
    monkeypatch.setenv("RESNET_VIZ_DRAIN_S", "30")
    assert work.drain_seconds() == 30
    monkeypatch.setenv("RESNET_VIZ_DRAIN_S", "-1")
    with pytest.raises(ValueError, match="RESNET_VIZ_DRAIN_S"):
        work.drain_seconds()


def test_parallel_map_keeps_the_order_and_reports_progress_on_the_calling_thread():
    caller = threading.get_ident()
    seen: list[tuple[int, int]] = []

    def report(count: int) -> None:
        seen.append((count, threading.get_ident()))

    workers_used: set[int] = set()

    def square(worker: int, x: int) -> int:
        workers_used.add(worker)
        time.sleep(0.01 * (x % 3))  # finishing out of order
        return x * x

    assert parallel_map(square, list(range(12)), workers=2, on_done=report) == [x * x for x in range(12)]
    assert seen == [(c, caller) for c in range(1, 13)] and workers_used == {0, 1}
    assert parallel_map(square, [3], workers=2) == [9] and parallel_map(square, [], workers=2) == []


def test_parallel_map_stops_at_an_exception_of_the_work_or_of_the_progress():
    threads_before = threading.active_count()
    started: list[int] = []

    class Stop(Exception):
        pass

    def work(_worker: int, x: int) -> int:
        started.append(x)
        time.sleep(0.01)
        if x == 2:
            raise ValueError(x)
        return x

    with pytest.raises(ValueError):
        parallel_map(work, list(range(100)), workers=2)
    assert len(started) < 10  # the items after the error were skipped
    started.clear()

    def stop(count: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        parallel_map(work, list(range(3, 103)), workers=2, on_done=stop)
    assert len(started) < 10
    assert threading.active_count() == threads_before  # the workers were joined
