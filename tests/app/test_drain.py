"""A server that is stopped (SIGTERM, as Kubernetes, Docker and deploy/replicas.py stop a replica) drains: its health
check answers 503 while the heavy work under way finishes and reaches its student, the training lab's run stops, and
then Streamlit closes the sessions and the process ends by itself (slow: real servers)."""

from __future__ import annotations

import asyncio
import signal
import time
from contextlib import ExitStack

import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState

from benchmarks.class_load import Session, http
from resnet_viz.i18n import t
from tests.browser import ROOT, streamlit_server
from tests.conftest import REAL_SERVERS

pytestmark = [pytest.mark.slow, REAL_SERVERS]

DRAIN_S = 90  # the server's RESNET_VIZ_DRAIN_S here
LOG = ROOT / "tests" / ".streamlit-server.log"  # where tests.browser.streamlit_server writes the server's output


def _serve(stack: ExitStack, tmp_path) -> tuple[int, object]:
    env = {"HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / ".cache"), "RESNET_VIZ_DRAIN_S": str(DRAIN_S)}
    try:
        url, proc = stack.enter_context(streamlit_server(env, timeout=60))
    except RuntimeError as exc:
        pytest.skip(f"the app's server could not start here: {exc}")
    return int(url.rsplit(":", 1)[1]), proc


async def _health_while_alive(port: int, proc) -> list[tuple[int, str]]:
    """Every answer of the health check until the server stops answering."""
    seen = []
    while proc.poll() is None:
        try:
            status, _, body = await http(port, "GET", "/_stcore/health")
        except OSError:
            break
        seen.append((status, body.decode()))
        await asyncio.sleep(0.2)
    return seen


def _wait_for_exit(proc, timeout: float) -> int | None:
    end = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < end:
        time.sleep(0.2)
    return proc.poll()


async def _button(s: Session, page: str, label: str, tries: int = 3):
    """The button ``label`` of ``page``, opened up to ``tries`` times (CI once found a fresh server's first run of
    the training lab without its form); else the test fails with what the page showed."""
    for _ in range(tries):
        shown = await s.rerun(page=page)
        found = [el.button for el in shown.in_order() if el.WhichOneof("type") == "button" and el.button.label == label]
        if found:
            return found[0]
        await asyncio.sleep(2)
    pytest.fail(f"no {label!r} button on {page}: {shown.lines()[:30]}, errors {shown.errors()}, "
                f"exceptions {shown.exceptions()}")


def test_heavy_work_under_way_finishes_and_reaches_its_student_before_the_server_stops(tmp_path):
    """Figure 7 recomputed live on 200 images (five networks, one queued job each) is under way when SIGTERM
    comes: the run still finishes with its table, the health check says "draining" meanwhile, then the session is
    closed and the process ends on its own with status 0."""
    with ExitStack() as stack:
        port, proc = _serve(stack, tmp_path)

        async def scenario():
            s = Session(port, timeout=300)
            await s.open()
            await s.rerun(page="figure7")
            await s.choose("figure7_images", 1)  # 200 images
            press = asyncio.create_task(s.press("figure7_recompute"))
            while not any(line.startswith("progress") for line in s.page.lines()):  # a network is being measured
                assert not press.done(), "the computation ended before it could be caught under way"
                await asyncio.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            health = asyncio.create_task(_health_while_alive(port, proc))
            page = await press
            finished = time.monotonic()
            while not s.closed and time.monotonic() - finished < 60:  # Streamlit closes the session after the drain
                await asyncio.sleep(0.1)
            closed = s.closed
            await s.close()
            return page, signalled, finished, closed, await health

        page, signalled, finished, closed, health = asyncio.run(scenario())
        code = _wait_for_exit(proc, DRAIN_S + 30)
    assert finished > signalled and page.errors() == [] and page.exceptions() == []
    assert any(line.startswith("row ") for line in page.lines()), "the Figure 7 table is on the page"
    assert (503, "draining") in health
    assert closed, "the server closed the session once drained"
    assert code == 0
    assert "drained in" in LOG.read_text(encoding="utf-8")


def test_the_training_lab_s_run_is_stopped_when_the_server_stops(tmp_path):
    """A run of the default settings takes minutes; a stopped server stops it (the nets are tested and handed over,
    as after Stop) and ends within its drain, not after the run."""
    with ExitStack() as stack:
        port, proc = _serve(stack, tmp_path)
        train = t("training_lab.train", "en")

        async def scenario():
            s = Session(port, timeout=300)
            await s.open()
            button = await _button(s, "training_lab", train)
            await s.rerun(states=[WidgetState(id=button.id, trigger_value=True)])
            await asyncio.sleep(5)  # the run builds its networks and steps
            proc.send_signal(signal.SIGTERM)
            end = time.monotonic() + DRAIN_S + 30
            while not s.closed and time.monotonic() < end:  # connected until the server closes the session
                await asyncio.sleep(0.2)
            await s.close()

        asyncio.run(scenario())
        code = _wait_for_exit(proc, DRAIN_S + 30)
    log = LOG.read_text(encoding="utf-8")
    assert code == 0
    assert "draining:" in log and "drained in" in log, log[-2000:]
