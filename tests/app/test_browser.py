"""End-to-end: every page in headless Chromium, in English and in Chinese; no exception element; the page's main
element present; no literal None, nan or {placeholder} shown, and in Chinese no English sentence but the titles of
the papers cited; a screenshot of each in tests/screenshots/ (or $RESNET_VIZ_SCREENSHOTS)."""

from __future__ import annotations

import re

import pytest

from tests.browser import (
    DESKTOP,
    PAGES,
    SHOTS,
    chromium_missing_reason,
    opened_page,
    routed_pages,
    streamlit_server,
    wait_until_idle,
)

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(chromium_missing_reason() is not None, reason=str(chromium_missing_reason()))]


# The text a reader sees in the main area and the sidebar, one string per text node, leaving out what is not
# prose: code, formulas (KaTeX's MathML copy), and the few words Streamlit draws itself inside its widgets.
SHOWN_TEXT_JS = """() => {
    const skip = 'code, pre, .katex, [data-testid="stFileUploaderDropzoneInstructions"], ' +
                 '[data-testid="stFileUploaderDropzone"] button, [data-testid="stTooltipIcon"]';
    const out = [];
    for (const area of document.querySelectorAll('[data-testid="stMain"], [data-testid="stSidebar"]')) {
        const walker = document.createTreeWalker(area, NodeFilter.SHOW_TEXT);
        while (walker.nextNode()) {
            const node = walker.currentNode;
            if (node.textContent.trim() && !node.parentElement.closest(skip)) out.push(node.textContent.trim());
        }
    }
    return out;
}"""
# three or more English words in a row (a word: two letters or more, so that "C x H x W" is none)
ENGLISH_RUN = re.compile(r"[A-Za-z]{2,}[A-Za-z'’-]*(?:,? [A-Za-z]{2,}[A-Za-z'’-]*){2,}")
# a value or a catalogue's placeholder left unfilled (a sentence may still begin "None of")
PLACEHOLDER = re.compile(r"\bNone\b(?! [a-z])|\bnan\b|\{[a-z_]+\}")
# What stays English in Chinese: the titles of the papers cited, their authors' names, and the paper's own words
# where a page quotes them beside their translation (原文：...).
ENGLISH_ALLOWED = ("Deep Residual Learning for Image Recognition", "Identity Mappings in Deep Residual Networks",
                   "Visualizing the Loss Landscape of Neural Nets",
                   "Residual Networks Behave Like Ensembles of Relatively Shallow Networks", "Veit, Wilber, Belongie",
                   "We argue that this optimization difficulty is unlikely to be caused by vanishing gradients.")


# English's little words, which no name of a network, layer, file or method contains as a word of its own: one of
# them in Chinese mode is English left over, even alone ("View 5 more", "Choose options", "(JPEG q75 copy)", "(7 it.)")
LITTLE_WORDS = re.compile(r"(?<![\w./-])(?:the|of|and|or|to|in|on|at|by|for|with|from|is|are|it|this|that|more|less|"
                          r"view|choose|options?|copy|none|all|each|every|per|here|yes|no)(?![\w/-])(?!\.\w)",
                          re.IGNORECASE)


def english_sentences(texts: list[str]) -> list[str]:
    """Runs of three or more English words, and English's little words, in ``texts``, outside ``ENGLISH_ALLOWED``."""
    found = []
    for text in texts:
        for allowed in ENGLISH_ALLOWED:
            text = text.replace(allowed, "")
        found += ENGLISH_RUN.findall(text) + [f"{word} (in {text!r})" for word in LITTLE_WORDS.findall(text)]
    return found


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("url_path", list(PAGES))
def test_page_in_browser(server, browser, url_path, lang):
    url, proc = server
    with opened_page(browser, url, url_path, lang, DESKTOP) as page:
        main_text = page.locator('[data-testid="stMain"]').inner_text()
        shown = page.evaluate(SHOWN_TEXT_JS)
        assert not [text for text in shown if PLACEHOLDER.search(text)]
        if lang == "zh":
            assert re.search(r"[\u4e00-\u9fff]", main_text), "no Chinese text on the page"
            english = english_sentences(shown)
            assert not english, f"English in Chinese mode: {english}"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{url_path or 'home'}-{lang}.png"), full_page=False)
        assert proc.poll() is None, "the server died"


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


def test_community_files_on_evaluate_and_in_the_sidebar(server, browser):
    """A chenyaofo hub file uploaded on Evaluate and a torchvision-CIFAR file in the sidebar, as a student does it:
    each is recognised, its source and normalisation are said, the max-pool choice is offered for the second."""
    import time

    from tests import community_nets as N

    hub = N.torch_bytes(N.trained_like(N.CifarResNet(N.ChenyaofoBlock, [3, 3, 3])).state_dict())
    tv = N.torch_bytes(N.trained_like(N.torchvision_cifar(18)).state_dict())
    url, proc = server
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    page = context.new_page()
    try:
        page.goto(f"{url}/evaluate?lang=en", wait_until="domcontentloaded")
        wait_until_idle(page)
        page.get_by_text("Upload a checkpoint here").click()
        wait_until_idle(page)
        page.locator('[data-testid="stMain"] input[type="file"]').first.set_input_files(
            files=[{"name": "cifar10_resnet20-4118986f.pt", "mimeType": "application/octet-stream", "buffer": hub}])
        page.wait_for_selector("text=from chenyaofo/pytorch-cifar-models", timeout=120_000)
        wait_until_idle(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "community-evaluate-en.png"), full_page=True)

        page.goto(f"{url}/feature_maps?lang=zh", wait_until="domcontentloaded")
        wait_until_idle(page)
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
        page.get_by_role("option", name="上传检查点…").click()
        wait_until_idle(page)
        page.locator('[data-testid="stSidebar"] input[type="file"]').first.set_input_files(
            files=[{"name": "resnet18_cifar10.pth", "mimeType": "application/octet-stream", "buffer": tv}])
        time.sleep(1.5)
        page.wait_for_selector('[data-testid="stSidebar"] >> text=保留', timeout=120_000)
        wait_until_idle(page)
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        assert "torchvision-cifar" in sidebar and "torchvision 的 resnet18" in sidebar
        assert page.locator('[data-testid="stException"]').count() == 0
        page.locator('[data-testid="stSidebarContent"]').evaluate("e => e.scrollTo(0, e.scrollHeight)")
        page.screenshot(path=str(SHOTS / "community-sidebar-zh.png"))
        assert proc.poll() is None, "the server died"
    finally:
        context.close()
