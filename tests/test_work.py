"""The per-server work queue and the byte-bounded cache (resnet_viz.work)."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from resnet_viz.models.registry import build_model
from resnet_viz.work import ByteBudgetCache, WorkQueue, heavy_slots, model_cache_bytes, module_bytes


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
