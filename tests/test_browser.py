"""End-to-end: every page in headless Chromium, in English and in Chinese; no exception element; the page's main
element present; a screenshot of each in tests/screenshots/ (or $RESNET_VIZ_SCREENSHOTS)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    chromium_missing_reason,
    routed_pages,
    streamlit_server,
    wait_until_idle,
)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(chromium_missing_reason() is not None, reason=str(chromium_missing_reason()))]

SHOTS = Path(os.environ.get("RESNET_VIZ_SCREENSHOTS") or ROOT / "tests" / "screenshots")

# url path -> CSS selector of the element that proves the page did its job (None: the title suffices).
MAIN_ELEMENT = {
    "": None,  # home: the default page, served at the root
    "conv_lab": '[data-testid="stMetric"]',  # the calculator's results (the charts sit in hidden tabs)
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


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app as a fresh deploy runs it: an empty HOME (no torch hub cache, no ~/.streamlit) and no network."""
    home = tmp_path_factory.mktemp("home")
    with streamlit_server({"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")}) as (url, proc):
        yield url, proc


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("url_path", list(PAGES))
def test_page_in_browser(server, browser, url_path, lang):
    url, proc = server
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    page = context.new_page()
    try:
        page.goto(f"{url}/{url_path}?lang={lang}", wait_until="domcontentloaded")
        wait_until_idle(page)
        selector = PAGES[url_path]
        if selector:
            page.wait_for_selector(selector, timeout=90_000)
            wait_until_idle(page)
        assert page.locator('[data-testid="stException"]').count() == 0, page.locator(
            '[data-testid="stException"]').first.inner_text()
        main_text = page.locator('[data-testid="stMain"]').inner_text()
        if lang == "zh":
            assert re.search(r"[\u4e00-\u9fff]", main_text), "no Chinese text on the page"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{url_path or 'home'}-{lang}.png"), full_page=False)
        assert proc.poll() is None, "the server died"
    finally:
        context.close()


def test_a_tab_that_runs_only_when_opened_shows_its_content_on_a_click(server, browser):
    """Architecture's tabs run only when open (ui.common.lazy_tabs): a click reruns the page with that tab."""
    url, _ = server
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    page = context.new_page()
    try:
        page.goto(f"{url}/architecture?lang=en", wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stPlotlyChart"]', timeout=90_000)
        wait_until_idle(page)
        assert "11.51" not in page.locator('[data-testid="stMain"]').inner_text()
        page.get_by_role("tab", name="Table 1").click()
        page.wait_for_selector('text=11.51', timeout=60_000)  # Table 1's V1.5 note, computed on the click
        wait_until_idle(page)
        assert page.get_by_role("tab", name="Table 1").get_attribute("aria-selected") == "true"
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        context.close()


def test_language_defaults_from_browser_locale(server, browser):
    url, _ = server
    context = browser.new_context(viewport={"width": 1200, "height": 800}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(url, wait_until="domcontentloaded")
        wait_until_idle(page)
        assert "看清" in page.locator('[data-testid="stMain"] h1').first.inner_text()
        assert "lang=zh" in page.url
    finally:
        context.close()


def test_deep_link_on_a_fresh_server_goes_through_the_router(browser):
    """The first run of a new server process takes Streamlit's legacy pages/ route; ui/__init__.py redirects it
    through app.py, so a shared deep link gets the language, the sidebar and no "Page not found" dialog."""
    first, page_file = next(((u, f) for f, u in routed_pages() if u), ("", "pages/home.py"))
    with streamlit_server() as (url, _):
        context = browser.new_context(viewport={"width": 1200, "height": 800})
        page = context.new_page()
        try:
            page.goto(f"{url}/{first}?lang=zh", wait_until="domcontentloaded")
            # the language switch is drawn by app.py only: its presence proves the router ran
            page.wait_for_selector('[data-testid="stSidebar"] [role="radiogroup"]', timeout=90_000)
            wait_until_idle(page)
            assert page.locator('[role="dialog"]').count() == 0
            assert re.search(r"[\u4e00-\u9fff]", page.locator('[data-testid="stMain"] h1').first.inner_text())
            assert page.url.split("?")[0].endswith(f"/{first}")
        finally:
            context.close()
