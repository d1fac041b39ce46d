"""Process-wide settings, made once when a process starts (the app, a CLI command), never by a request.

Torch's intra-op thread count belongs to the whole process: the app serves every session from one process,
so a request that changed it would change it under every other session's computation.
"""

from __future__ import annotations

import os
import threading

import torch

THREADS_ENV = "RESNET_VIZ_THREADS"
DEFAULT_MAX_THREADS = 2  # Community Cloud containers have 1-2 cores; small CIFAR convs gain little from more

_configured = False
_guard = threading.Lock()


def default_threads() -> int:
    """$RESNET_VIZ_THREADS, else min(2, the machine's cores)."""
    raw = os.environ.get(THREADS_ENV, "").strip()
    if not raw:
        return min(DEFAULT_MAX_THREADS, os.cpu_count() or 1)
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
