"""Sharing one server between a whole class: a first-come-first-served queue for heavy work, and a cache bounded
by bytes rather than by entry count.

On Streamlit Community Cloud every student's session runs in one process with one or two cores. Thirty
Integrated-Gradients runs at once would each take thirty times as long and hold their memory all together; in a
queue each runs at full speed and the others are told their place. Models differ a thousandfold in size
(ResNet-20: 1 MB, VGG-19: 548 MB), so a cache of "six models" is not a memory bound; a byte budget is.

A server that is being stopped drains (``start_draining``, then ``wait_for_queues``): its sessions stay connected
and their heavy work goes on until every queue of the process has been quiet for a moment.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from queue import SimpleQueue
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:  # the queue and the drain need no torch (deploy/replicas.py reads drain_seconds)
    from torch import nn

V = TypeVar("V")
T = TypeVar("T")

SLOTS_ENV = "RESNET_VIZ_HEAVY_SLOTS"
MODEL_CACHE_ENV = "RESNET_VIZ_MODEL_CACHE_MB"
UPLOAD_ENV = "RESNET_VIZ_UPLOAD_MB"
DRAIN_ENV = "RESNET_VIZ_DRAIN_S"
DEFAULT_SLOTS = 1  # Community Cloud: one or two cores, which one heavy computation already keeps busy
DEFAULT_MODEL_CACHE_MB = 1024
DEFAULT_UPLOAD_MB = 256  # uploaded files being loaded at once: two ImageNet ResNet-50s, five 45 MB CIFAR ResNet-18s
# How long a stopped server waits for the heavy jobs under way. The longest a page queues on the shipped networks
# is the live 11 x 11 loss landscape, 23 CPU-s on two worker threads (issue 33), a few times that in wall time on a
# server that others load; a lesion sweep of an uploaded ResNet-110 (167 CPU-s) is cut and runs again on the
# replica the student moves to. deploy/k8s/deployment.yaml's terminationGracePeriodSeconds is this plus the preStop
# pause and margin.
DEFAULT_DRAIN_S = 120
# Python threads one heavy computation splits its work over. The process keeps one torch intra-op thread (a
# process-wide setting, resnet_viz.runtime), but torch releases the GIL inside its ops, so two threads each running
# their own batches or grid points use two cores: one heavy job at a time (DEFAULT_SLOTS) fills a 2-core server.
WORKERS = 2
# A queue counts as quiet once no job has run for this long: a page that queues several jobs one after another
# (Figure 7 live: one per network) finishes before its server stops.
QUIET_S = 2.0

_queues: weakref.WeakSet[WorkQueue] = weakref.WeakSet()
_queues_lock = threading.Lock()
_draining = threading.Event()


def _positive_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a positive whole number, got {raw!r}")
    return int(raw)


class WorkQueue:
    """At most ``slots`` jobs at a time, started in the order they arrived; a job may weigh more than one slot
    (``weight``: an upload's bytes in a queue of bytes; never more than all the slots).

    ``with queue.turn(on_wait):`` blocks until it is this job's turn; meanwhile ``on_wait(ahead)`` is called (from
    the waiting thread, without the queue's lock held) whenever the number of jobs ahead of it changes.
    """

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        self.slots = slots
        self._cond = threading.Condition()
        self._waiting: deque[int] = deque()
        self._running = 0  # jobs
        self._used = 0  # their weight
        self._tickets = itertools.count()
        self._last_done = float("-inf")  # time.monotonic() when a job last finished
        with _queues_lock:
            _queues.add(self)

    def ahead_of_new(self) -> int:
        """How many jobs a job arriving now would find ahead of it (running or waiting)."""
        with self._cond:
            return self._running + len(self._waiting)

    def _ahead(self, ticket: int, weight: int) -> int | None:
        """Jobs ahead of ``ticket``, or None when it may start now (called with the lock held)."""
        if self._waiting[0] == ticket and self._used + weight <= self.slots:
            return None
        return self._running + self._waiting.index(ticket)

    def _quiet_for(self, now: float) -> float:
        """Seconds since the last job finished, 0 while one runs or waits (called with the lock held)."""
        return 0.0 if self._running or self._waiting else now - self._last_done

    def quiet_for(self) -> float:
        with self._cond:
            return self._quiet_for(time.monotonic())

    def wait_until_quiet(self, quiet_s: float, timeout: float) -> bool:
        """Wait up to ``timeout`` s until no job has run for ``quiet_s`` s; True when that came first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while (quiet := self._quiet_for(now := time.monotonic())) < quiet_s:
                if now >= deadline:
                    return False
                self._cond.wait(min(deadline, now + quiet_s - quiet if quiet else deadline) - now)
        return True

    @contextmanager
    def turn(self, on_wait: Callable[[int], None] | None = None, *, weight: int = 1,
             poll_s: float = 0.5) -> Iterator[None]:
        weight = min(max(int(weight), 1), self.slots)
        with self._cond:
            ticket = next(self._tickets)
            self._waiting.append(ticket)
        told = None
        try:
            while True:
                with self._cond:
                    ahead = self._ahead(ticket, weight)
                    if ahead is None:
                        self._waiting.popleft()
                        self._running += 1
                        self._used += weight
                        break
                if on_wait is not None and ahead != told:
                    on_wait(ahead)
                    told = ahead
                with self._cond:
                    if self._ahead(ticket, weight) == ahead:
                        self._cond.wait(poll_s)
        except BaseException:  # a session stopped while waiting (a rerun, a closed tab) leaves the line
            with self._cond:
                if ticket in self._waiting:
                    self._waiting.remove(ticket)
                self._cond.notify_all()
            raise
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._used -= weight
                self._last_done = time.monotonic()
                self._cond.notify_all()


class ByteBudgetCache(Generic[V]):
    """Least-recently-used entries dropped until the entries' sizes fit ``max_bytes`` (the newest always stays).

    ``get_or_create`` builds a missing entry once even when several threads ask for it at the same time.
    """

    def __init__(self, max_bytes: int, size_of: Callable[[V], int]) -> None:
        self.max_bytes = max_bytes
        self._size_of = size_of
        self._entries: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[Hashable, threading.Lock] = {}

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._entries

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(size for _, size in self._entries.values())

    def keys(self) -> list[Hashable]:
        with self._lock:
            return list(self._entries)

    def get(self, key: Hashable) -> V | None:
        """The entry under ``key`` (marked as just used), or None when there is none (never built, or dropped)."""
        found = self._get(key)
        return found[0] if found is not None else None

    def _get(self, key: Hashable) -> tuple[V] | None:
        """(value,) of a present entry, marked as just used; None when absent."""
        with self._lock:
            if key not in self._entries:
                return None
            self._entries.move_to_end(key)
            return (self._entries[key][0],)

    def get_or_create(self, key: Hashable, make: Callable[[], V]) -> V:
        found = self._get(key)
        if found is not None:
            return found[0]
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        with building:
            found = self._get(key)
            if found is not None:
                return found[0]
            created = make()
            self._put(key, created)
        with self._lock:
            self._building.pop(key, None)
        return created

    def _put(self, key: Hashable, value: V) -> None:
        size = self._size_of(value)
        with self._lock:
            self._entries[key] = (value, size)
            self._entries.move_to_end(key)
            total = sum(s for _, s in self._entries.values())
            while total > self.max_bytes and len(self._entries) > 1:
                _, (_, dropped) = self._entries.popitem(last=False)
                total -= dropped


def parallel_map(fn: Callable[[int, T], V], items: Sequence[T], *, workers: int = WORKERS,
                 on_done: Callable[[int], None] | None = None) -> list[V]:
    """``[fn(worker, item) for item in items]`` on ``workers`` threads (``worker``: the thread's index, for state of
    its own such as a model copy), in order. ``on_done(count)`` runs on the calling thread after each finished item
    (Streamlit's widgets can only be updated there). An exception raised by ``fn`` or ``on_done`` stops the work:
    the items not yet started are skipped, the threads are joined and the exception is raised here."""
    if workers <= 1 or len(items) <= 1:
        out = []
        for i, item in enumerate(items):
            out.append(fn(0, item))
            if on_done is not None:
                on_done(i + 1)
        return out
    results: list[V | None] = [None] * len(items)
    finished: SimpleQueue[BaseException | None] = SimpleQueue()
    stop = threading.Event()
    next_item = itertools.count()
    next_lock = threading.Lock()

    def work(worker: int) -> None:
        while not stop.is_set():
            with next_lock:
                i = next(next_item)
            if i >= len(items):
                return
            try:
                results[i] = fn(worker, items[i])
            except BaseException as exc:  # handed to the calling thread, which raises it
                stop.set()
                finished.put(exc)
                return
            finished.put(None)

    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in range(min(workers, len(items)))]
    for thread in threads:
        thread.start()
    try:
        for count in range(1, len(items) + 1):
            error = finished.get()
            if error is not None:
                raise error
            if on_done is not None:
                on_done(count)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    return results  # type: ignore[return-value]  # every item was computed


def module_bytes(model: nn.Module) -> int:
    """Bytes held by a model's parameters and buffers."""
    tensors = itertools.chain(model.parameters(), model.buffers())
    return sum(t.numel() * t.element_size() for t in tensors)


def heavy_slots() -> int:
    """$RESNET_VIZ_HEAVY_SLOTS, else 1: how many heavy computations a server runs at once."""
    return _positive_env(SLOTS_ENV, DEFAULT_SLOTS)


def model_cache_bytes() -> int:
    """$RESNET_VIZ_MODEL_CACHE_MB (default 1024) in bytes: the model cache's budget."""
    return _positive_env(MODEL_CACHE_ENV, DEFAULT_MODEL_CACHE_MB) * 1024 * 1024


def upload_bytes() -> int:
    """$RESNET_VIZ_UPLOAD_MB (default 256) in bytes: how many bytes of uploaded files a server loads at once."""
    return _positive_env(UPLOAD_ENV, DEFAULT_UPLOAD_MB) * 1024 * 1024


def drain_seconds() -> int:
    """$RESNET_VIZ_DRAIN_S, else 120: how long a stopped server waits for the heavy jobs under way."""
    return _positive_env(DRAIN_ENV, DEFAULT_DRAIN_S)


def _live_queues() -> list[WorkQueue]:
    with _queues_lock:
        return list(_queues)


def draining() -> bool:
    """True once ``start_draining`` was called: this process is being stopped."""
    return _draining.is_set()


def start_draining() -> int:
    """Mark the process as being stopped; the heavy jobs running or waiting now."""
    _draining.set()
    return sum(queue.ahead_of_new() for queue in _live_queues())


def wait_for_queues(timeout: float, quiet_s: float = QUIET_S) -> bool:
    """Wait up to ``timeout`` s until every queue of the process has run no job for ``quiet_s`` s at the same time;
    True when that came first."""
    deadline = time.monotonic() + timeout
    while True:
        queues = _live_queues()
        for queue in queues:
            if not queue.wait_until_quiet(quiet_s, max(0.0, deadline - time.monotonic())):
                return False
        if all(queue.quiet_for() >= quiet_s for queue in queues):  # none started again meanwhile
            return True
