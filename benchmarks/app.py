"""App benchmark: cold start, warm page renders (AppTest and browser), upload-to-result, memory, leaks, and 8
concurrent browser sessions. Prints a table and a JSON object.

    python -m benchmarks.app [--interactions 50] [--sessions 8] [--skip-browser]

Targets (issue 10, on the 2-core project machine): warm render <= 1 s per page, upload-to-result <= 2 s, server RSS
after all pages <= 1,400 MB with the CUDA torch build (about 700 MB with the CPU build), 50 interactions grow RSS
by < 5 %, 8 concurrent sessions: 0 errors and p95 <= 5 s. Needs Debian's chromium for the browser parts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

from tests.browser import (
    BUSY_JS,
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    chromium_missing_reason,
    routed_pages,
    rss_mb,
    streamlit_server,
    wait_until_idle,
)

UPLOAD_PAGES = ("feature_maps", "attribution")
PHOTO = ROOT / "assets" / "samples" / "photos" / "chelsea.jpg"


def apptest_renders(pages: list[tuple[str, str]]) -> dict[str, float]:
    """Warm render (second run of the same session) of every page in AppTest, in seconds."""
    from streamlit.testing.v1 import AppTest

    out = {}
    for file, url in pages:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
        at.query_params["lang"] = "en"
        at.run()
        if url:
            at.switch_page(file)
        at.run()
        t0 = time.perf_counter()
        at.run()
        out[url or "home"] = time.perf_counter() - t0
        if at.exception:
            out[(url or "home") + " (exception)"] = float("nan")
    return out


def _visit(page, base: str, url: str) -> float:
    t0 = time.perf_counter()
    page.goto(f"{base}/{url}?lang=en", wait_until="domcontentloaded")
    wait_until_idle(page)
    return time.perf_counter() - t0


def _upload(page) -> float:
    t0 = time.perf_counter()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(PHOTO))
    time.sleep(0.3)
    wait_until_idle(page)
    return time.perf_counter() - t0


def browser_part(pages, interactions: int) -> dict:
    from playwright.sync_api import sync_playwright

    res: dict = {}
    t_start = time.perf_counter()
    with streamlit_server() as (base, proc), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        _visit(page, base, "")
        res["cold_start_s"] = time.perf_counter() - t_start
        res["rss_after_start_mb"] = rss_mb(proc.pid)
        first, warm = {}, {}
        for _, url in pages:
            first[url or "home"] = _visit(page, base, url)
        for _, url in pages:
            warm[url or "home"] = _visit(page, base, url)
        res["browser_first_render_s"], res["browser_warm_render_s"] = first, warm
        uploads = {}
        for url in UPLOAD_PAGES:
            if any(u == url for _, u in pages):
                _visit(page, base, url)
                uploads[url] = _upload(page)
        res["upload_to_result_s"] = uploads
        res["rss_after_all_pages_mb"] = rss_mb(proc.pid)
        # Leak check: repeated interactions (page visits and uploads) in fresh sessions.
        baseline = rss_mb(proc.pid)
        cycle = [u for _, u in pages]
        for i in range(interactions):
            url = cycle[i % len(cycle)]
            _visit(page, base, url)
            if url in UPLOAD_PAGES:
                _upload(page)
        res["rss_after_interactions_mb"] = rss_mb(proc.pid)
        res["rss_growth_pct"] = 100 * (res["rss_after_interactions_mb"] - baseline) / baseline
        res["interactions"] = interactions
        browser.close()
    return res


async def _concurrent(sessions: int) -> dict:
    from playwright.async_api import async_playwright

    with streamlit_server() as (base, proc):
        peak = [rss_mb(proc.pid)]
        errors: list[str] = []
        latencies: list[float] = []

        async def sampler(stop: asyncio.Event):
            while not stop.is_set():
                peak.append(rss_mb(proc.pid))
                await asyncio.sleep(0.25)

        async def one(browser, i: int):
            context = await browser.new_context(viewport={"width": 1200, "height": 900})
            page = await context.new_page()
            try:
                url = UPLOAD_PAGES[i % len(UPLOAD_PAGES)]
                await page.goto(f"{base}/{url}?lang=en", wait_until="domcontentloaded")
                await page.wait_for_selector('[data-testid="stFileUploaderDropzoneInput"]', state="attached",
                                             timeout=180_000)
                await _idle_async(page)
                t0 = time.perf_counter()
                await page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files(str(PHOTO))
                await asyncio.sleep(0.3)
                await _idle_async(page)
                latencies.append(time.perf_counter() - t0)
                if await page.locator('[data-testid="stException"]').count():
                    errors.append(f"session {i}: exception on {url}")
            except Exception as exc:  # noqa: BLE001 - every failure is counted, not raised
                errors.append(f"session {i}: {type(exc).__name__}: {exc}"[:200])
            finally:
                await context.close()

        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            stop = asyncio.Event()
            task = asyncio.create_task(sampler(stop))
            await asyncio.gather(*(one(browser, i) for i in range(sessions)))
            stop.set()
            await task
            await browser.close()
        lat = sorted(latencies)
        p95 = lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))] if lat else float("nan")
        return {"sessions": sessions, "errors": errors, "p95_s": p95,
                "median_s": statistics.median(lat) if lat else float("nan"), "peak_rss_mb": max(peak)}


async def _idle_async(page, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    quiet = None
    while time.monotonic() < deadline:
        if await page.evaluate(BUSY_JS):
            quiet = None
        elif quiet is None:
            quiet = time.monotonic()
        elif time.monotonic() - quiet > 1.0:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError("the app kept running")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--interactions", type=int, default=50)
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--skip-browser", action="store_true")
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args()
    pages = routed_pages()
    result: dict = {"apptest_warm_render_s": apptest_renders(pages)}
    missing = chromium_missing_reason()
    if not args.skip_browser and missing is None:
        result.update(browser_part(pages, args.interactions))
        result["concurrent"] = asyncio.run(_concurrent(args.sessions))
    elif missing:
        result["browser_skipped"] = missing

    print(f"{'page':<18} {'AppTest warm':>13} {'browser first':>14} {'browser warm':>13}")
    for _, url in pages:
        name = url or "home"
        row = [result["apptest_warm_render_s"].get(name), result.get("browser_first_render_s", {}).get(name),
               result.get("browser_warm_render_s", {}).get(name)]
        print(f"{name:<18} " + " ".join(f"{v:>13.2f}s" if v is not None else f"{'-':>14}" for v in row))
    for key in ("cold_start_s", "rss_after_start_mb", "rss_after_all_pages_mb", "rss_after_interactions_mb",
                "rss_growth_pct"):
        if key in result:
            print(f"{key:<28} {result[key]:.2f}")
    for url, s in result.get("upload_to_result_s", {}).items():
        print(f"upload-to-result {url:<11} {s:.2f} s")
    if "concurrent" in result:
        c = result["concurrent"]
        print(f"{c['sessions']} concurrent uploads: {len(c['errors'])} errors, p95 {c['p95_s']:.2f} s, "
              f"median {c['median_s']:.2f} s, peak RSS {c['peak_rss_mb']:.0f} MB")
    text = json.dumps(result, indent=1, default=float)
    print(text)
    if args.json_out:
        args.json_out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
