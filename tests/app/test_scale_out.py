"""benchmarks/scale_out.py: which replica served each session, read from nginx's access log; and (slow) the class
load test through nginx in front of three real replicas, one of them killed mid-run."""

from __future__ import annotations

import asyncio
import signal
from contextlib import ExitStack
from pathlib import Path

import pytest

from benchmarks.class_load import Session, widget_value
from benchmarks.scale_out import affinity, one_run, parse_args, replicas_by_session
from deploy.replicas import NGINX
from resnet_viz.i18n import t
from tests.browser import CHROMIUM, CHROMIUM_ARGS, chromium_missing_reason, streamlit_server, wait_until_idle
from tests.conftest import REAL_SERVERS
from ui.gradient_flow import DEFAULT_DEPTH

A, B, C = "127.0.0.1:8501", "127.0.0.1:8502", "127.0.0.1:8503"


def _line(student: int, upstream: str, cookie: str = "-") -> str:
    """A line as deploy/nginx/resnet-viz.conf.template's log_format writes it."""
    return (f'127.0.0.1 [06/Dec/2026:16:33:44 +0000] "GET /_stcore/health HTTP/1.1" 200 2 0.001 '
            f'"class_load student {student}" replica_cookie="{cookie}" upstream="{upstream}" upstream_status="200"')


def test_the_replicas_of_each_session_in_order(tmp_path):
    log = tmp_path / "access.log"
    log.write_text("\n".join([
        _line(1, A), _line(2, B), _line(1, A, "1"), _line(2, B, "2"),
        _line(1, f"{A} : {B}", "1"),  # its replica went away: nginx tried it, then another one answered
        _line(1, B, "2"), _line(-1, "-"),  # nginx answered itself: no replica
        '127.0.0.1 [06/Dec/2026:16:33:44 +0000] "GET / HTTP/1.1" 200 9 0.000 "Mozilla/5.0" replica_cookie="-" '
        f'upstream="{C}" upstream_status="200"',  # not a session of the load test
    ]) + "\n")
    assert replicas_by_session(log) == {1: [A, B], 2: [B]}


def test_a_session_may_move_once_and_only_from_the_replica_that_was_killed():
    paths = {1: [A], 2: [B], 3: [A, C], 4: [B, C], 5: [A, B, A]}
    assert affinity(paths, killed=None)["wrong"] == {3: [A, C], 4: [B, C], 5: [A, B, A]}
    found = affinity(paths, killed=A)
    assert (found["one_replica"], found["moved_once"]) == (2, 1)
    assert found["wrong"] == {4: [B, C], 5: [A, B, A]}
    assert found["per_replica"] == {A: 3, B: 2}


@pytest.mark.slow
@REAL_SERVERS
@pytest.mark.skipif(not Path(NGINX).is_file(), reason=f"no nginx at {NGINX} (apt-get install nginx)")
def test_a_class_through_nginx_stays_on_its_replicas_and_goes_on_when_one_is_killed():
    """Three replicas of `streamlit run app.py` behind nginx, six students on the tour with the view changes; a few
    seconds in, the replica with the most of them is killed (SIGKILL). Every page equals the solo tour's, nothing
    fails, every session is served by one replica, and those of the killed one by exactly one other afterwards."""
    args = parse_args(["--timeout", "240", "--deadline", "900", "--kill-after", "3"])
    result = one_run(3, 6, args)
    assert result["problems"] == [], result["problems"][:10]
    assert all(r["finished"] == r["n"] for r in result["interactions"].values())
    assert result["killed"] and result["alive"].count(False) == 1
    found = result["affinity"]
    assert found["wrong"] == {} and found["moved_once"] >= 1, found
    assert found["one_replica"] + found["moved_once"] == found["sessions"] >= 6
    assert sum(r["moves"] for r in result["interactions"].values()) == found["moved_once"]  # each said once


@pytest.mark.slow
@REAL_SERVERS
@pytest.mark.browser
@pytest.mark.skipif(chromium_missing_reason() is not None, reason=str(chromium_missing_reason()))
@pytest.mark.skipif(not Path(NGINX).is_file(), reason=f"no nginx at {NGINX} (apt-get install nginx)")
def test_a_tab_whose_replica_is_killed_goes_on_with_another_one(tmp_path):
    """Chromium through nginx in front of two replicas: the tab uploads a photo on Feature maps, its replica is
    killed; once the tab has connected again (the cookie now names the other replica), its next click is answered
    there with the page, no error.
    (The photo went with the first replica: the page shows the sample, as the README says a student sees.)"""
    from playwright.sync_api import sync_playwright

    from benchmarks.class_load import default_photo
    from deploy.replicas import COOKIE, Replicas

    with Replicas(2, env={"HOME": str(tmp_path), "RESNET_VIZ_OFFLINE": "1"}) as cluster, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
        page = context.new_page()
        page.goto(f"{cluster.url}/feature_maps?lang=en", wait_until="domcontentloaded")
        wait_until_idle(page)
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(default_photo()))
        page.get_by_text(default_photo().name).first.wait_for()
        wait_until_idle(page)

        def pinned() -> str:
            return next(c["value"] for c in context.cookies() if c["name"] == COOKIE)

        first = pinned()
        cluster.stop_replica(int(first) - 1, signal.SIGKILL)
        for _ in range(300):  # the tab connects again, through nginx to the other replica (a new cookie)
            if pinned() != first:
                break
            page.wait_for_timeout(100)
        page.get_by_text(t("feature_maps.view_anatomy", "en")).first.click()  # the student's next click
        page.get_by_text(t("feature_maps.anatomy_title", "en")).first.wait_for(timeout=90_000)  # its answer
        wait_until_idle(page)
        page.screenshot(path=str(tmp_path / "after.png"))
        assert pinned() != first
        assert page.locator('[data-testid="stException"]').count() == 0
        browser.close()


@pytest.mark.slow
@REAL_SERVERS
def test_a_tab_that_moves_to_another_server_keeps_what_its_widgets_show(tmp_path):
    """The tab's replica went away and it reconnected to another one (a new session there): the select boxes whose
    labels the app keeps (Feature maps' layer, the sidebar's model) and a widget whose default a page sets
    (``keep_valid``: gradient flow's depth) show what the browser held, not their defaults. CI's nginx class test
    caught the layer going back to conv1 for a session killed between two steps."""
    def shown(page, key: str) -> str:
        return widget_value(*page.widget(key))

    async def moved(first: int, second: int, page_name: str, steps: list[tuple[str, int]]):
        s = Session(first, timeout=240)
        await s.open()
        before = await s.rerun(page=page_name)
        for key, index in steps:
            before = await s.choose(key, index)
        await s.close()
        s.port = second  # what the balancer does once the first replica is gone
        await s.open()
        after = await s.rerun()
        await s.close()
        return [shown(before, key) for key, _ in steps], [shown(after, key) for key, _ in steps], after

    with ExitStack() as stack:
        env = {"HOME": str(tmp_path), "RESNET_VIZ_OFFLINE": "1"}
        first, second = (int(stack.enter_context(streamlit_server(env, timeout=120))[0].rsplit(":", 1)[1])
                         for _ in range(2))
        # another shipped network than the default, the last layer; the shallowest depth (the default is deeper)
        held, kept, page = asyncio.run(moved(first, second, "feature_maps", [("model_choice", 1),
                                                                              ("feature_maps_layer", -1)]))
        depth_held, depth_kept, flow = asyncio.run(moved(first, second, "gradient_flow",
                                                         [("gradient_flow_depth", 0)]))
    assert kept == held and held[1].startswith("stage3") and page.errors() == [] and page.exceptions() == []
    assert depth_kept == depth_held and flow.errors() == [] and flow.exceptions() == []
    assert depth_held != [str(DEFAULT_DEPTH)], depth_held
    computed = f"**plain-{depth_held[0]}:"  # the verdict on the experiment the server ran, not only the widget
    assert any(line.startswith(f"markdown: {computed}") for line in flow.lines()), flow.lines()[:12]
