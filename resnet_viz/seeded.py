"""Seeded draws from torch's global random generator, one thread at a time.

``torch.random.fork_rng`` restores the global generator's state after its block, but the generator is the process's:
two threads inside such blocks at once draw from each other's sequence. The app's server runs sessions, its warm-up
and its worker threads side by side, and two replicas once computed different gradient-flow numbers for the same
initialisation. Every seeded draw goes through ``seeded``, whose lock makes the blocks take turns.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch

_turn = threading.RLock()  # re-entrant: a seeded block may build something that seeds its own


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """torch's global generator seeded with ``seed`` inside the block, as it was after it, and no other seeded block
    of this process running meanwhile."""
    with _turn, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


@contextmanager
def drawing() -> Iterator[None]:
    """Unseeded draws from torch's global generator (building a network initialises its weights), never in the
    middle of another thread's seeded block, whose sequence they would move on."""
    with _turn:
        yield
