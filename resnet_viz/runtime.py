"""Process-wide settings, made once when a process starts (the app, a CLI command), never by a request.

Torch's intra-op thread count belongs to the whole process: the app serves every session from one process,
so a request that changed it would change it under every other session's computation. So does the C
allocator's behaviour (``configure_allocator``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading

import torch

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

MMAP_THRESHOLD = 64 * 1024  # bytes; glibc's default start value, made fixed
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h

_configured = False
_allocator_configured: bool | None = None
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
    """Keep freed memory from piling up in glibc's heap; True where it was applied (Linux with glibc).

    glibc serves a large block (a batch's activations) by mmap and gives it back on free, but each such free raises
    its "dynamic mmap threshold" (up to 32 MB), after which blocks of that size come from the heap instead, where
    freed space is fragmented and rarely returned to the system: a process that runs many batches grows by
    gigabytes (Figure 7 on 10,000 images: killed at 24 GB). Setting the threshold explicitly switches the dynamic
    adjustment off, as ``MALLOC_MMAP_THRESHOLD_=65536`` in the environment would.
    """
    global _allocator_configured
    if _allocator_configured is not None:  # the app's script calls this on every rerun; find_library forks
        return _allocator_configured
    _allocator_configured = _set_mmap_threshold()
    return _allocator_configured


def _set_mmap_threshold() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl): nothing to tune
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
