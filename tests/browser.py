"""Helpers for the end-to-end tests: a real `streamlit run app.py` on a free loopback port, driven by Playwright
in Debian's headless Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("RESNET_VIZ_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic"]


def routed_pages() -> list[tuple[str, str]]:
    """(page file, url path) of every page app.py routes (ui/navigation.py lists them) whose file exists; the default
    page's url is ""."""
    import ast

    tree = ast.parse((ROOT / "ui" / "navigation.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "PAGES":
            rows = ast.literal_eval(node.value)
            return [(f, "" if url == "home" else url) for f, _, _, _, url in rows if (ROOT / f).is_file()]
    raise RuntimeError("ui/navigation.py has no PAGES list")


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def chromium_missing_reason() -> str | None:
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(env_extra: dict[str, str] | None = None, timeout: float = 120, root: Path = ROOT):
    """Start the app (of the checkout at ``root``: another version to compare with); yield (base url, process); stop
    it afterwards."""
    port = free_port()
    env = {**os.environ, "RESNET_VIZ_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **(env_extra or {})}
    if root != ROOT:
        env["PYTHONPATH"] = str(root)
    cmd = [sys.executable, "-m", "streamlit", "run", str(root / "app.py"), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    log = open(ROOT / "tests" / ".streamlit-server.log", "w")
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start (see {log.name})")
            time.sleep(0.3)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


# True while the app runs its script (status widget) or shows a spinner.
BUSY_JS = """() => !!document.querySelector('[data-testid="stStatusWidgetRunningIcon"], [data-testid="stSpinner"]')
    || (document.querySelector('[data-testid="stStatusWidget"]')?.innerText || '').toLowerCase().includes('running')"""


def wait_until_idle(page, timeout_ms: int = 120_000) -> None:
    """Wait until the app has rendered and its script run has finished (no running indicator, no spinner)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_ms)
    page.wait_for_selector('[data-testid="stMain"] h1, [data-testid="stMain"] [data-testid="stHeading"]',
                           timeout=timeout_ms)
    deadline = time.monotonic() + timeout_ms / 1000
    quiet_since = None
    while time.monotonic() < deadline:
        if page.evaluate(BUSY_JS):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 1.0:
            return
        time.sleep(0.2)
    raise TimeoutError("the app kept running")


SHOTS = Path(os.environ.get("RESNET_VIZ_SCREENSHOTS") or ROOT / "tests" / "screenshots")
DESKTOP, PHONE = (1400, 1000), (390, 844)  # viewport sizes (CSS pixels): a laptop, and a phone held upright

# url path -> CSS selector of the element that proves the page did its job (None: the title suffices).
MAIN_ELEMENT = {
    "": None,  # home: the default page, served at the root
    "conv_lab": '[data-testid="stMetric"]',  # the calculator's results (its first tab: only the open tab runs)
    "architecture": '[data-testid="stPlotlyChart"]',
    "feature_maps": '[data-testid="stImage"], [data-testid="stPlotlyChart"]',
    "attribution": '[data-testid="stImage"]',
    "layer_learns": '[data-testid="stImage"]',
    "figure6": '[data-testid="stPlotlyChart"]',
    "figure7": '[data-testid="stPlotlyChart"]',
    "gradient_flow": '[data-testid="stPlotlyChart"]',
    "landscape": '[data-testid="stPlotlyChart"]',
    "lesion": '[data-testid="stPlotlyChart"]',
    "training_lab": '[data-testid="stForm"]',  # the settings and the Train button (no curves before a run)
    "homework": '[data-testid="stExpander"]',
    "resnet_code": '[data-testid="stCode"]',
    "evaluate": '[data-testid="stPlotlyChart"]',
}
PAGES = {url: MAIN_ELEMENT.get(url) for _, url in routed_pages()}


@contextmanager
def opened_page(browser, base_url: str, url_path: str, lang: str, viewport: tuple[int, int]):
    """A fresh browser context at ``viewport`` on one page of the app, once its main element is drawn and its
    script run has finished, with no exception shown; closed afterwards."""
    width, height = viewport
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
    page = context.new_page()
    try:
        page.goto(f"{base_url}/{url_path}?lang={lang}", wait_until="domcontentloaded")
        wait_until_idle(page)
        selector = PAGES.get(url_path)
        if selector:
            page.wait_for_selector(selector, timeout=90_000)
            wait_until_idle(page)
        exceptions = page.locator('[data-testid="stException"]')
        assert exceptions.count() == 0, exceptions.first.inner_text()
        page.evaluate("() => document.fonts.ready.then(() => true)")  # text is measured in the fonts it is drawn in
        yield page
    finally:
        context.close()
