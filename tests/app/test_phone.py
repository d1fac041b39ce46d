"""Every page on a phone (390 x 844 CSS pixels, held upright), in English and in Chinese, as it opens and in each of
its tabs and views: no text runs past the screen's edge or is cut by the box it sits in (unless that box scrolls
sideways: a wide table, a formula, code; a chart cuts at its top and bottom too), and in every chart no title, axis
title, legend, annotation or tick label lies over another. A screenshot of each whole page and view goes to
tests/screenshots/phone-<page>-<lang>[-view<n>].png (or $RESNET_VIZ_SCREENSHOTS): look at them, the checks cannot
tell whether a page reads well."""

from __future__ import annotations

import re

import pytest

from tests.browser import PAGES, PHONE, SHOTS, chromium_missing_reason, opened_page, wait_until_idle

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(chromium_missing_reason() is not None, reason=str(chromium_missing_reason()))]

# Text nodes of the main area whose boxes reach past the screen, or past an ancestor that clips without scrolling
# (overflow hidden or clip, an <svg>). Text inside a box that scrolls sideways is readable by scrolling it.
CUT_TEXT_JS = """() => {
    const width = document.documentElement.clientWidth;
    const scrolls = el => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX)
        && el.scrollWidth > el.clientWidth + 1;
    const clips = el => el instanceof SVGSVGElement || ['hidden', 'clip'].includes(getComputedStyle(el).overflowX);
    const hidden = el => getComputedStyle(el).visibility === 'hidden';
    const screenReaderOnly = el => {  // e.g. KaTeX's MathML copy: 1 px wide, clipped away
        const s = getComputedStyle(el);
        return s.clip !== 'auto' || s.clipPath !== 'none';
    };
    const cut = [];
    const range = document.createRange();
    const walker = document.createTreeWalker(document.querySelector('[data-testid="stMain"]'), NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
        const node = walker.currentNode;
        const text = node.textContent.trim();
        if (!text || !node.parentElement || hidden(node.parentElement)) continue;
        let left = 0, right = width, top = -Infinity, bottom = Infinity, scrollable = false;
        for (let el = node.parentElement; el && el !== document.body; el = el.parentElement) {
            if (el instanceof HTMLElement && (scrolls(el) || screenReaderOnly(el))) { scrollable = true; break; }
            if (clips(el)) {
                const box = el.getBoundingClientRect();
                left = Math.max(left, box.left);
                right = Math.min(right, box.right);
                if (el instanceof SVGSVGElement) {  // a chart: a title too high is cut at its top
                    top = Math.max(top, box.top);
                    bottom = Math.min(bottom, box.bottom);
                }
            }
        }
        if (scrollable) continue;
        range.selectNodeContents(node);
        for (const r of range.getClientRects()) {
            const out = r.right > right + 1 || r.left < left - 1 || r.top < top - 1 || r.bottom > bottom + 1;
            if (r.width >= 1 && r.height >= 1 && out) {
                cut.push(`"${text.slice(0, 50)}" spans x ${Math.round(r.left)}..${Math.round(r.right)}, `
                         + `y ${Math.round(r.top)}..${Math.round(r.bottom)}, its box ${Math.round(left)}..`
                         + `${Math.round(right)}, y ${Math.round(top)}..${Math.round(bottom)}`);
                break;
            }
        }
    }
    return cut;
}"""

# In each Plotly chart: the boxes of the titles, axis titles, annotations (subplot titles among them), legends,
# colour-bar texts and tick labels; every pair that overlaps by more than 2 px both ways (tick labels written at an
# angle are left out of the tick-against-tick pairs: their upright boxes overlap while the labels do not).
OVERLAPS_JS = """() => {
    const found = [];
    document.querySelectorAll('[data-testid="stMain"] .js-plotly-plot').forEach((plot, n) => {
        const boxes = [];
        const add = (kind, el, label) => {
            const r = el.getBoundingClientRect();
            if (r.width > 0.5 && r.height > 0.5) {
                const angled = /rotate\\((?!0[,)])/.test(el.getAttribute('transform') || '');
                boxes.push({kind, r, angled, label: (label || el.textContent || '').trim().slice(0, 40)});
            }
        };
        plot.querySelectorAll('.g-gtitle text').forEach(e => add('title', e));
        plot.querySelectorAll('.infolayer > g[class^="g-"][class$="title"]:not(.g-gtitle) text')
            .forEach(e => add('axis title', e));
        plot.querySelectorAll('.annotation-text').forEach(e => add('annotation', e));
        plot.querySelectorAll('.legend > .bg').forEach(e => add('legend', e, 'legend'));
        plot.querySelectorAll('.colorbar text').forEach(e => add('colour bar', e));
        plot.querySelectorAll('.xaxislayer-above text, .yaxislayer-above text').forEach(e => add('tick', e));
        for (let i = 0; i < boxes.length; i++) {
            for (let j = i + 1; j < boxes.length; j++) {
                const a = boxes[i], b = boxes[j];
                if (a.kind === 'tick' && b.kind === 'tick' && (a.angled || b.angled)) continue;
                const w = Math.min(a.r.right, b.r.right) - Math.max(a.r.left, b.r.left);
                const h = Math.min(a.r.bottom, b.r.bottom) - Math.max(a.r.top, b.r.top);
                if (w > 2 && h > 2) found.push(`chart ${n + 1}: ${a.kind} "${a.label}" over ${b.kind} "${b.label}"`);
            }
        }
    });
    return found;
}"""


# The other views of a page, the first of each already open: tabs, and a segmented control's options.
VIEWS = ('[data-testid="stMain"] [role="tab"]',
         '[data-testid="stMain"] button[data-variant="segmented_control"]')


def _check(page, shot: str) -> list[str]:
    """What reads badly on the page as it is now, its expanders unfolded, and a picture of the whole of it (the
    phone's width, the page's height) in ``shot``."""
    folded = page.locator('[data-testid="stMain"] details:not([open]) > summary')
    for _ in range(folded.count()):  # an expander opens in the browser: the script does not run again
        shown = [summary for summary in folded.all() if summary.is_visible()]  # not those in hidden tabs
        if not shown:
            break
        shown[0].click()
        page.wait_for_timeout(300)  # it unfolds in an animation: measure the page once it is open
    problems = [f"text past the screen's or its box's edge: {c}" for c in page.evaluate(CUT_TEXT_JS)]
    problems += [f"chart texts over each other: {o}" for o in page.evaluate(OVERLAPS_JS)]
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": PHONE[0], "height": height})
    page.evaluate("() => document.fonts.ready.then(() => true)")
    page.wait_for_timeout(1500)  # the charts and icons drawn again at the new height
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{shot}.png"))
    page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    return problems


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("url_path", list(PAGES))
def test_page_reads_on_a_phone(server, browser, url_path, lang):
    """The page as it opens, then each of its other views in turn (a hidden tab's content has no boxes to check)."""
    url, _ = server
    name = f"phone-{url_path or 'home'}-{lang}"
    with opened_page(browser, url, url_path, lang, PHONE) as page:
        problems = _check(page, name)
        for group, selector in enumerate(VIEWS):
            for k in range(1, page.locator(selector).count()):
                view = page.locator(selector).nth(k)
                if not view.is_visible():
                    continue
                label = view.inner_text()
                view.click()
                wait_until_idle(page)
                problems += [f"view {label!r}: {p}" for p in _check(page, f"{name}-view{group}{k}")]
    assert not problems, "\n".join(problems)


# Pages whose numbers sit side by side on a laptop, and a text each must show whole there.
# Gradient flow's is plain-56's ratio at initialisation as the page writes it, e.g. "1.52e+04".
LAPTOP_NUMBERS = {"conv_lab": "64 x 112 x 112", "gradient_flow": re.compile(r"^\d\.\d\de\+0\d$")}


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("url_path", list(LAPTOP_NUMBERS))
def test_numbers_side_by_side_are_not_cut_on_a_laptop(server, browser, lang, url_path):
    """On a laptop results sit side by side: four in a row cut the conv lab's "64 x 112 x 112" to "64 x 112 x …",
    three in a half-width column gradient flow's "1.53e+04" to "1.53e…" (a phone stacks them, so the test above
    cannot see it)."""
    url, _ = server
    with opened_page(browser, url, url_path, lang, (1280, 900)) as page:
        cut = page.evaluate(CUT_TEXT_JS)
        assert page.get_by_text(LAPTOP_NUMBERS[url_path]).count() and not cut, cut
