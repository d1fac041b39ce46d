"""Heavy work goes through the server's one queue; a student whose turn has not come is told how many are ahead.

The queue (``resnet_viz.work.WorkQueue``, ``$RESNET_VIZ_HEAVY_SLOTS`` jobs at a time) is shared by every session
of the process. A result computed before is most likely still in its page's cache, so asking for it again does
not queue: ``heavy`` remembers the keys it has run (a few hundred, process-wide).

``drain_on_stop`` makes a server that is stopped finish its work first (see there).
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import streamlit as st

from resnet_viz.work import WorkQueue, drain_seconds, draining, heavy_slots, start_draining, wait_for_queues
from ui.common import tr

T = TypeVar("T")
REMEMBERED = 512

_done: OrderedDict[Hashable, None] = OrderedDict()
_done_lock = threading.Lock()
_drain_hooked = False
_drain_lock = threading.Lock()


@st.cache_resource(show_spinner=False)
def server_queue() -> WorkQueue:
    """The one queue of this server process."""
    return WorkQueue(heavy_slots())


def _seen(key: Hashable) -> bool:
    with _done_lock:
        if key in _done:
            _done.move_to_end(key)
            return True
        return False


def _remember(key: Hashable) -> None:
    with _done_lock:
        _done[key] = None
        while len(_done) > REMEMBERED:
            _done.popitem(last=False)


def heavy(key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()`` in its turn, saying "waiting for N other users" meanwhile; at once when ``key`` ran before."""
    if _seen(key):
        return compute()
    note = st.empty()

    def tell(ahead: int) -> None:
        note.info(tr("common.queue_waiting", n=ahead))

    try:
        with server_queue().turn(tell):
            note.empty()
            result = compute()
    finally:
        note.empty()
    _remember(key)
    return result


@contextmanager
def stoppable(key: str, label: str, on_stop: Callable[[], None], *, help: str | None = None,
              active: bool = True) -> Iterator[Any]:
    """A Stop button (when ``active``) above a progress bar; yields the bar's slot, and clears both at the end.

    A click on Stop interrupts the running script at its next progress update (Streamlit stops a run when a widget
    changes); ``on_stop``, the button's callback, then decides what the rerun shows instead.
    """
    stop_slot, bar = st.empty(), st.empty()
    if active:
        stop_slot.button(label, key=key, on_click=on_stop, help=help)
    try:
        yield bar
    finally:
        stop_slot.empty()
        bar.empty()


def drain(timeout: float) -> bool:
    """Drain this process: the training lab's runs stop (each hands its nets over, as after Stop) and the heavy work
    goes on until the queues are quiet; True when both came within ``timeout`` s."""
    from resnet_viz.train.training_lab.job import stop_all  # the lab's modules load with its page, not here

    start = time.monotonic()
    pending = start_draining()
    _say(f"draining: {pending} heavy job(s) under way, training runs stopping; at most {timeout:g} s (stop again to "
         "stop at once)")
    left = stop_all(timeout)
    idle = wait_for_queues(max(0.0, timeout - (time.monotonic() - start)))
    took = time.monotonic() - start
    _say(f"drained in {took:.1f} s" if idle and not left else f"drain cut after {took:.1f} s: work was still running")
    return idle and not left


def _say(line: str) -> None:
    print(f"resnet-viz: {line}", file=sys.stderr, flush=True)


def drain_on_stop() -> None:
    """Once per process: a server that is stopped (SIGTERM, Ctrl+C) drains before Streamlit stops it.

    Streamlit's signal handler calls ``Server.stop``, which closes the listening socket and every websocket at once
    (code 1012: the browser reconnects, behind a load balancer to another replica) and ends the process with the
    work under way cut. Wrapped, the first stop marks the process as draining, so that its health check answers
    503 ``draining`` (a readiness probe takes the replica out of rotation), and drains it (``drain``, at most
    $RESNET_VIZ_DRAIN_S) while its sessions stay connected and get their results; then Streamlit stops it. A second
    stop (Ctrl+C twice) stops at once. Streamlit is pinned; tests/app/test_drain.py checks these hooks.
    """
    global _drain_hooked
    with _drain_lock:
        if _drain_hooked:
            return
        _drain_hooked = True
    from streamlit.runtime.runtime import Runtime
    from streamlit.web.server.server import Server

    stop, ready = Server.stop, Runtime.is_ready_for_browser_connection

    def drain_then_stop(server: Server) -> None:
        if draining():
            stop(server)
            return
        try:  # Streamlit's handler calls this on the server's event loop; Streamlit's stop is run there too
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None

        def run() -> None:
            drain(drain_seconds())
            if loop is None:
                stop(server)
            else:
                loop.call_soon_threadsafe(stop, server)

        threading.Thread(target=run, name="resnet-viz-drain", daemon=True).start()

    async def ready_unless_draining(runtime: Runtime) -> tuple[bool, str]:
        if draining():
            return False, "draining"
        return await ready.fget(runtime)  # type: ignore[attr-defined]

    Server.stop = drain_then_stop  # type: ignore[method-assign, assignment]
    Runtime.is_ready_for_browser_connection = property(ready_unless_draining)  # type: ignore[assignment]
