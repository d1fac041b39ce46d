"""Heavy work goes through the server's one queue; a student whose turn has not come is told how many are ahead.

The queue (``resnet_viz.work.WorkQueue``, ``$RESNET_VIZ_HEAVY_SLOTS`` jobs at a time) is shared by every session
of the process. A result computed before is most likely still in its page's cache, so asking for it again does
not queue: ``heavy`` remembers the keys it has run (a few hundred, process-wide).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import streamlit as st

from resnet_viz.work import WorkQueue, heavy_slots
from ui.common import tr

T = TypeVar("T")
REMEMBERED = 512

_done: OrderedDict[Hashable, None] = OrderedDict()
_done_lock = threading.Lock()


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
