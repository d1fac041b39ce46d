"""Sharing one server between a whole class: a first-come-first-served queue for heavy work, and a cache bounded
by bytes rather than by entry count.

On Streamlit Community Cloud every student's session runs in one process with one or two cores. Thirty
Integrated-Gradients runs at once would each take thirty times as long and hold their memory all together; in a
queue each runs at full speed and the others are told their place. Models differ a thousandfold in size
(ResNet-20: 1 MB, VGG-19: 548 MB), so a cache of "six models" is not a memory bound; a byte budget is.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

from torch import nn

V = TypeVar("V")

SLOTS_ENV = "RESNET_VIZ_HEAVY_SLOTS"
MODEL_CACHE_ENV = "RESNET_VIZ_MODEL_CACHE_MB"
DEFAULT_SLOTS = 1  # Community Cloud: one or two cores, which one heavy computation already keeps busy
DEFAULT_MODEL_CACHE_MB = 1024


def _positive_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a positive whole number, got {raw!r}")
    return int(raw)


class WorkQueue:
    """At most ``slots`` jobs at a time, started in the order they arrived.

    ``with queue.turn(on_wait):`` blocks until it is this job's turn; meanwhile ``on_wait(ahead)`` is called (from
    the waiting thread, without the queue's lock held) whenever the number of jobs ahead of it changes.
    """

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError(f"slots must be at least 1, got {slots}")
        self.slots = slots
        self._cond = threading.Condition()
        self._waiting: deque[int] = deque()
        self._running = 0
        self._tickets = itertools.count()

    def ahead_of_new(self) -> int:
        """How many jobs a job arriving now would find ahead of it (running or waiting)."""
        with self._cond:
            return self._running + len(self._waiting)

    def _ahead(self, ticket: int) -> int | None:
        """Jobs ahead of ``ticket``, or None when it may start now (called with the lock held)."""
        if self._waiting[0] == ticket and self._running < self.slots:
            return None
        return self._running + self._waiting.index(ticket)

    @contextmanager
    def turn(self, on_wait: Callable[[int], None] | None = None, *, poll_s: float = 0.5) -> Iterator[None]:
        with self._cond:
            ticket = next(self._tickets)
            self._waiting.append(ticket)
        told = None
        try:
            while True:
                with self._cond:
                    ahead = self._ahead(ticket)
                    if ahead is None:
                        self._waiting.popleft()
                        self._running += 1
                        break
                if on_wait is not None and ahead != told:
                    on_wait(ahead)
                    told = ahead
                with self._cond:
                    if self._ahead(ticket) == ahead:
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
