"""Process-wide settings, made once when a process starts (the app, a CLI command), never by a request.

Torch's intra-op thread count belongs to the whole process: the app serves every session from one process,
so a request that changed it would change it under every other session's computation. So does the C
allocator's behaviour (``configure_allocator``).
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import importlib
import math
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

THREADS_ENV = "RESNET_VIZ_THREADS"
# One: the sessions of a class are the parallelism. With two, a busy 2-core server spins both in every op: an
# attribution class change took 1.67 s instead of 0.23 s while two other processes ran (benchmarks/clicks.py),
# 8 concurrent tours 13 s instead of 11 s (benchmarks/class_load.py). A lone student's batch work (Figure 7 live,
# the training lab) runs about twice as fast with RESNET_VIZ_THREADS=2 on an idle 2-core machine.
DEFAULT_THREADS = 1
# Images per forward pass when a CPU evaluates a sample: small enough for the activations to stay in cache.
# ResNet-20 on 1,000 images, one thread: 0.97 s at 32, 1.17 s at 64-100, 1.51 s at 250; ResNet-110: 5.2-5.5 s at
# 32-100, 7.7 s at 250 (two threads: best at 64).
INFERENCE_BATCH = 64

# Bytes: glibc's largest. A CIFAR batch's activations (a few MB) come from the heap and are reused, not fresh pages
# that the kernel faults in and zeroes for every tensor: with 64 KB a first-block lesion click took 2.96 s instead of
# 1.37 s, the landscape 30.6 s instead of 22.7 s (21 million page faults on Figure 7's 10,000 images).
MMAP_THRESHOLD = 32 * 1024 * 1024
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h
# The heap keeps what is freed, and kept results scattered between freed batches split it: Figure 7 on 10,000 images
# grew to 5.3 GB. So free pages go back to the system whenever the process has grown this much since the last time.
TRIM_GROWTH = 64 * 1024 * 1024
TRIM_EVERY_S = 0.2

_configured = False
_allocator_configured: bool | None = None
heap_keeper: HeapKeeper | None = None  # the process's, once ``configure_allocator`` has started it
_guard = threading.Lock()


def default_threads() -> int:
    """$RESNET_VIZ_THREADS, else one."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return DEFAULT_THREADS
    try:
        threads = int(raw)
    except ValueError:
        threads = 0
    if threads < 1:
        raise ValueError(f"{THREADS_ENV} must be a positive whole number, got {raw!r}")
    return threads


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads for this process and return the count in use.

    ``threads`` (a command's ``--threads``) is always applied; without it the first call applies
    ``default_threads()`` and later calls (every rerun of the app's script) change nothing.
    """
    import torch  # here, not at the top: the app's router imports this module before torch is needed

    global _configured
    with _guard:
        if threads is None and _configured:
            return torch.get_num_threads()
        wanted = default_threads() if threads is None else int(threads)
        if wanted < 1:
            raise ValueError(f"threads must be at least 1, got {wanted}")
        if torch.get_num_threads() != wanted:
            torch.set_num_threads(wanted)
        _configured = True
        return wanted


def configure_allocator() -> bool:
    """Serve batches from glibc's heap and hand its free pages back as the process grows; True where it was applied
    (Linux with glibc).

    glibc serves a large block by mmap and unmaps it on free, so every batch's activations are fresh pages the kernel
    faults in. With the threshold fixed at 32 MB (which also switches off glibc's dynamic adjustment) blocks below it
    come from the heap instead, and a ``HeapKeeper`` thread calls ``malloc_trim`` whenever the resident size has
    grown by ``TRIM_GROWTH``: the heap's free pages go back to the system, so memory stays flat across repeated work.
    """
    global _allocator_configured, heap_keeper
    with _guard:  # one keeper, though the warm-up and a script may ask at once
        if _allocator_configured is not None:  # the app's script calls this on every rerun; find_library forks
            return _allocator_configured
        libc = _glibc()
        _allocator_configured = False
        if libc is not None and libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD):
            heap_keeper = HeapKeeper(resident_bytes, libc.malloc_trim)
            heap_keeper.start()
            _allocator_configured = True
        return _allocator_configured


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to tune
        return None
    libc.mallopt.restype = libc.malloc_trim.restype = ctypes.c_int
    return libc


def resident_bytes() -> int:
    """This process's resident set size (Linux's /proc/self/statm)."""
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class HeapKeeper:
    """A daemon thread that trims the C heap (``trim(0)``) whenever ``rss()`` has grown by ``growth`` bytes since
    the last trim, or since the lowest size seen after it. ``tick`` is one look; ``trims`` counts them."""

    def __init__(self, rss: Callable[[], int], trim: Callable[[int], object], *, growth: int = TRIM_GROWTH,
                 every_s: float = TRIM_EVERY_S) -> None:
        self.rss, self.trim, self.growth, self.every_s = rss, trim, growth, every_s
        self.base = rss()
        self.trims = 0
        self._stop = threading.Event()

    def tick(self) -> bool:
        now = self.rss()
        if now < self.base:
            self.base = now
        elif now > self.base + self.growth:
            self.trim(0)  # ctypes releases the GIL: sessions go on meanwhile
            self.trims += 1
            self.base = self.rss()
            return True
        return False

    def start(self) -> threading.Thread:
        def run() -> None:
            while not self._stop.wait(self.every_s):
                self.tick()

        thread = threading.Thread(target=run, name="resnet-viz-heap-keeper", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """End the thread after its current look (the process's own keeper runs as long as the process)."""
        self._stop.set()


# Between two steps of a warm-up the thread sleeps this long: the GIL goes to the threads serving students.
WARM_UP_PAUSE_S = 0.002
WARM_UP_EXIT_S = 120.0  # at exit, how long the step under way may take to finish


Step = str | Callable[[], object]  # a module to import, or a call


class WarmUp:
    """What a process needs before its first real work, done once, in one background thread, in stages run in
    order, each a sequence of steps (a module name to import, or a call); whoever needs a stage waits for it
    (``wait``), and whoever needs only some steps asks for them (``need``): they go first. The app's: numpy, pandas
    and PIL (what a page that runs meanwhile may find half-imported in ``sys.modules``: plotly's JSON encoder looks
    them up there), then torch and every page's imports, then each page's first view.

    Only this thread imports them, one step at a time with a pause between, so the GIL is never held longer than
    one module's own import; whoever needs them waits instead of importing concurrently. Two threads importing the
    same packages at once can deadlock on the import locks, which CPython breaks by handing one of them a partially
    initialised module (``AttributeError: partially initialized module 'pandas'``). A step that fails is recorded
    (``failed``) and the rest goes on: the page that needs it runs it again and says what is wrong.

    While a student's script runs (``running``) the thread starts only steps somebody waits for: the rest would
    take the CPU from that student for work nobody has asked for yet. The stages from ``quiet_from`` on (timings
    of this server's speed) start only after ``quiet_s`` seconds without any script run: a class arriving keeps
    them back (under 30 sessions they took 10-14 s of CPU and 200 MB of peak memory from the class).

    At exit the step under way finishes and no other starts (``stop``): a daemon thread still inside torch when the
    interpreter finalises aborts the process ("terminate called without an active exception").
    """

    def __init__(self, *stages: Sequence[Step], importer: Callable[[str], object] = importlib.import_module,
                 quiet_from: int | None = None, quiet_s: float = 0.0) -> None:
        self.stages = tuple(tuple(stage) for stage in stages)
        self._quiet_from = len(self.stages) if quiet_from is None else quiet_from
        self._quiet_s = quiet_s
        self._last_run = -math.inf  # when the last script run ended (``running``)
        self._import = importer
        self._done = [threading.Event() for _ in self.stages]
        self._steps = [(stage, step) for stage, steps in enumerate(self.stages) for step in steps]
        self._step_done = {step_name(step): threading.Event() for _, step in self._steps}
        self._wanted: set[str] = set()
        self._runs = 0  # scripts running now (``running``)
        self._changed = threading.Condition()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.failed: dict[str, str] = {}
        self.seconds: dict[str, float] = {}  # each step's seconds, by name

    def start(self) -> bool:
        """Start the thread (once; later calls do nothing); True when this call started it."""
        with self._lock:
            if self._thread is not None:
                return False
            self._thread = threading.Thread(target=self._run, name="resnet-viz-warm-up", daemon=True)
            self._thread.start()
            atexit.register(self.stop, WARM_UP_EXIT_S)
            return True

    def stop(self, timeout: float | None = None) -> None:
        """Run no further step; wait up to ``timeout`` s for the one under way. Whoever waits is let go."""
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _step(self, step: Step) -> None:
        name = step_name(step)
        start = time.perf_counter()
        try:
            self._import(step) if isinstance(step, str) else step()
        except Exception as exc:  # noqa: BLE001 - whoever needs it runs it again and gets its own message
            self.failed[name] = "".join(traceback.format_exception_only(exc)).strip()
        self.seconds[name] = time.perf_counter() - start
        time.sleep(WARM_UP_PAUSE_S)

    def _next(self, pending: list[tuple[int, Step]]) -> tuple[tuple[int, Step] | None, float | None]:
        """(The first pending step somebody waits for; else, while no script runs, the first pending step, if its
        stage may start; None), and how long to wait before asking again (None: until something changes)."""
        wanted = next((entry for entry in pending if step_name(entry[1]) in self._wanted), None)
        if wanted or self._runs:
            return wanted, None
        quiet_left = self._last_run + self._quiet_s - time.monotonic()
        if pending[0][0] >= self._quiet_from and quiet_left > 0:
            return None, quiet_left
        return pending[0], None

    def _run(self) -> None:
        pending = list(self._steps)
        try:
            while pending and not self._stopping.is_set():
                with self._changed:
                    entry, later = self._next(pending)
                    while entry is None and not self._stopping.is_set():
                        self._changed.wait(later)
                        entry, later = self._next(pending)
                if entry is None:
                    return
                stage, step = entry
                self._step(step)
                pending.remove(entry)
                self._step_done[step_name(step)].set()
                for earlier in range(stage, len(self.stages)):
                    if any(s <= earlier for s, _ in pending):
                        break
                    self._done[earlier].set()
        finally:
            for done in (*self._done, *self._step_done.values()):
                done.set()

    def ready(self, stage: int = -1) -> bool:
        """Every step of ``stage`` and those before it done (or failed); by default the last stage's."""
        return self._done[stage].is_set()

    def done(self, steps: Sequence[Step]) -> bool:
        """Every one of ``steps`` done (or failed)."""
        return all(self._step_done[step_name(step)].is_set() for step in steps)

    def wait(self, timeout: float | None = None, *, stage: int = -1) -> bool:
        """Block until ``stage`` (default: the last) is done; False on timeout. Starts the warm-up if nobody has."""
        self.start()
        return self._done[stage].wait(timeout)

    def need(self, steps: Sequence[Step], timeout: float | None = None) -> bool:
        """Block until each of ``steps`` is done, running them before any other (in the warm-up's order); False on
        timeout. Starts the warm-up if nobody has."""
        names = [step_name(step) for step in steps]
        with self._changed:
            self._wanted.update(names)
            self._changed.notify_all()
        self.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        return all(self._step_done[name].wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
                   for name in names)

    @contextmanager
    def running(self) -> Iterator[None]:
        """Around a student's script run: meanwhile the thread starts only the steps somebody waits for."""
        with self._changed:
            self._runs += 1
        try:
            yield
        finally:
            with self._changed:
                self._runs -= 1
                self._last_run = time.monotonic()
                self._changed.notify_all()


def step_name(step: Step) -> str:
    """A step's name in ``WarmUp.seconds``, ``failed`` and ``need``: the module, or the call's qualified name."""
    return step if isinstance(step, str) else getattr(step, "__qualname__", repr(step))
