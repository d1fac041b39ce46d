"""ui.warmup: Home's first run on a fresh server imports no torch (the warm-up thread does, while Home is read), the
other pages wait for the warm-up and then run, and sessions that arrive together on a cold server never see a
half-imported module. Each check runs in a fresh Python process: a warm test process would prove nothing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REAL_SERVERS, ROOT
from ui import warmup
from ui.navigation import PAGES

pytestmark = pytest.mark.slow

# An import hook that lets only the warm-up thread import torch until the warm-up is done, and a warm-up held before
# torch until the test lets it go: a Home that needed torch would fail on its first run with the hook's ImportError.
GUARD = """
import sys, threading
from importlib.abc import MetaPathFinder
from resnet_viz import runtime
release, refused = threading.Event(), []

class OnlyTheWarmUp(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        warm = sys.modules.get("ui.warmup")
        if name.split(".")[0] in ("torch", "torchvision", "captum") \\
                and not (warm and warm.server_warm_up().ready(warm.IMPORTS)) \\
                and threading.current_thread().name != "resnet-viz-warm-up":
            refused.append((name, threading.current_thread().name))
            raise ImportError(f"{name} imported outside the warm-up")
        return None

def held(self, step, step_now=runtime.WarmUp._step):
    if step == "torch":
        release.wait(120)
    step_now(self, step)

sys.meta_path.insert(0, OnlyTheWarmUp())
runtime.WarmUp._step = held
from streamlit.testing.v1 import AppTest
"""

HOME_FIRST = GUARD + """
from ui import warmup
home = AppTest.from_file("app.py", default_timeout=120)
home.query_params["lang"] = "zh"
home.run()
assert not home.exception, [e.value for e in home.exception]
assert not refused, refused
assert "torch" not in sys.modules and not warmup.server_warm_up().ready(warmup.IMPORTS)
captions = [c.value for c in home.sidebar.caption]
assert any("模型选择框" in c for c in captions), captions  # the picker's place says it is coming
release.set()
assert warmup.server_warm_up().wait(300), "the warm-up never finished"
assert warmup.server_warm_up().failed == {}, warmup.server_warm_up().failed
later = AppTest.from_file("app.py", default_timeout=120)  # the next session (a rerun of this one in AppTest
later.run()                                                # draws no sidebar, warm-up or not)
assert [w.label for w in later.sidebar.selectbox] == ["Model"], "no model picker once warm"
assert not any("model picker" in c.value for c in later.sidebar.caption)
page = AppTest.from_file("app.py", default_timeout=300)
page.run()
page.switch_page("pages/architecture.py")
page.run()
assert not page.exception, [e.value for e in page.exception]
assert not refused, refused
print("ok")
"""

COLD_CLASS = """
import threading
from streamlit.runtime.scriptrunner.script_cache import ScriptCache
from streamlit.testing.v1 import AppTest
PAGES = {pages!r}
errors = []

# A server compiles each script once, in its one ScriptCache, under that cache's lock; AppTest makes a cache per
# run, so the sessions below would compile at the same time, which CPython 3.11's ast is not safe for ("AST
# constructor recursion depth mismatch", seen once on figure6). One lock for all caches, as in a server.
compiling, get_bytecode = threading.Lock(), ScriptCache.get_bytecode

def locked_get_bytecode(self, script_path):
    with compiling:
        return get_bytecode(self, script_path)

ScriptCache.get_bytecode = locked_get_bytecode

def visit(page):
    try:
        at = AppTest.from_file("app.py", default_timeout=300)
        at.run()
        if page != "home":
            at.switch_page(f"pages/{{page}}.py")
            at.run()
        errors.extend(f"{{page}}: {{e.value}}" for e in at.exception)
    except Exception as exc:
        errors.append(f"{{page}}: {{exc!r}}")

threads = [threading.Thread(target=visit, args=(p,)) for p in PAGES]
for t in threads: t.start()
for t in threads: t.join()
assert not errors, errors
print("ok")
"""


def run_fresh(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RESNET_VIZ_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env,
                          check=False, timeout=600)


def test_home_runs_before_torch_is_imported_and_the_pages_after_the_warm_up():
    done = run_fresh(HOME_FIRST)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-4000:]


def test_a_class_arriving_on_a_cold_server_sees_no_half_imported_module():
    pages = ["home", "home", "home", "architecture", "evaluate", "figure6"]
    done = run_fresh(COLD_CLASS.format(pages=pages))
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-4000:]


def test_the_warm_up_imports_every_page_module_after_the_libraries_then_the_first_views_then_the_speeds():
    first, imports, views, speeds = warmup.steps()
    assert first == warmup.FIRST
    names = [s for s in imports if isinstance(s, str)]
    assert names.index("torch") < names.index("ui.models") < names.index("ui.architecture")
    pages = [f"ui.{url}" for *_, url in PAGES if (ROOT / "ui" / f"{url}.py").is_file()]
    assert [n for n in names if n.startswith("ui.") and n not in warmup.SHARED] == pages
    assert [step.__qualname__ for step in views] == [f"{name}.warm_up" for name in pages]
    assert [step.__qualname__ for step in speeds] == [f"{name}.measure_speed" for name in pages]
    assert warmup.server_warm_up()._quiet_from == warmup.SPEEDS == 3


@pytest.mark.parametrize("page", ["architecture", "gradient_flow"])
def test_a_page_s_warm_up_leaves_its_first_view_computed(page, monkeypatch):
    """After the page's warm_up, its first visit computes nothing: the functions that would are made to fail."""
    import importlib

    from resnet_viz.inspect import architecture
    from resnet_viz.paper import gradient_flow
    from tests.conftest import app_page, assert_no_exception

    importlib.import_module(f"ui.{page}").warm_up()
    monkeypatch.setattr(architecture, "summarize", _computes)
    monkeypatch.setattr(gradient_flow, "at_init", _computes)
    monkeypatch.setattr(gradient_flow, "of_checkpoint", _computes)
    for lang in ("en", "zh"):
        assert_no_exception(app_page(f"pages/{page}.py", lang=lang))


def _computes(*args, **kwargs):
    raise AssertionError("the first view was computed again")


@pytest.mark.parametrize("page", ["lesion", "landscape", "figure7", "training_lab"])
def test_a_page_s_speed_puts_the_time_it_promises_on_this_server_s_speed(page):
    """Before any student computes anything, the page's promise is this server's measured speed, not the
    reference taken from the project's benchmarks."""
    import importlib

    from resnet_viz.cost import MACS_MEASURED, MACS_REFERENCE

    module = importlib.import_module(f"ui.{page}")
    module.meter.clear()
    try:
        assert module.meter().estimate({"nothing measured": 1e9})[1] == MACS_REFERENCE
        module.measure_speed()
        seconds, basis = module.meter().estimate({"nothing measured": 1e9})
        assert basis == MACS_MEASURED and seconds > 0
    finally:
        module.meter.clear()  # a fresh meter for the tests after this one


@pytest.mark.browser
@REAL_SERVERS
def test_a_class_arriving_on_a_fresh_real_server_gets_no_exception(tmp_path):
    """Six students open the app within a second of the server's start, in Chromium, on Home and on pages that need
    torch: every page ends drawn, none shows an exception (a half-imported module would show as one)."""
    from tests.browser import CHROMIUM, CHROMIUM_ARGS, chromium_missing_reason, streamlit_server, wait_until_idle

    if reason := chromium_missing_reason():
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    urls = ["", "?lang=zh", "", "architecture", "evaluate", "figure6?lang=zh"]
    env = {"HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / ".cache")}
    with streamlit_server(env) as (base, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            pages = [browser.new_context().new_page() for _ in urls]
            for page, url in zip(pages, urls):
                page.goto(f"{base}/{url}", wait_until="commit")
            for page, url in zip(pages, urls):
                wait_until_idle(page)
                page.wait_for_selector('[data-testid="stMain"] h1', timeout=120_000)
                wait_until_idle(page)
                shown = page.locator('[data-testid="stException"]')
                assert shown.count() == 0, (url, shown.first.inner_text())
        finally:
            browser.close()
