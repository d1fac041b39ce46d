"""First visits (issue 33): every page opened in headless Chromium, English and Chinese, as a student opens it.

    python -m benchmarks.first_visits                       # both kinds, both languages, every page: the README's table
    python -m benchmarks.first_visits --kind first --pages home evaluate --langs zh
    python -m benchmarks.first_visits --json first_visits.json

Two kinds of first visit, each in a new browser context (no cookies, an empty browser cache, as a new student):

- ``first``: a fresh ``streamlit run app.py`` per measurement (empty HOME, no network, as tests/browser.py starts
  it), and the page is the server's very first session: the process has imported Streamlit and nothing of the app;
- ``warm``: one server per language that has served Home once and finished its background warm-up (its CPU has
  gone quiet), then each page in its own new session, in menu order.

A visit is timed from ``page.goto`` until the page's main element (tests/browser.py's ``MAIN_ELEMENT``) is present
and Streamlit is idle (no running indicator, no spinner) for good: the time printed is when that quiet began, checked
by ``QUIET_S`` more seconds without a run. A page that shows an exception is marked ``!``. Target: 3 s each.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from tests.browser import (
    BUSY_JS,
    CHROMIUM,
    CHROMIUM_ARGS,
    MAIN_ELEMENT,
    chromium_missing_reason,
    routed_pages,
    streamlit_server,
)

TARGET_S = 3.0
QUIET_S = 1.0  # seconds without a run before the page counts as done (its time is when the quiet began)
POLL_S = 0.05
IDLE_CPU_S = 0.05  # server CPU seconds per second below which its warm-up counts as finished
QUIET_SERVER_S = 4  # seconds in a row that low: more than ui.warmup.QUIET_S, after which the speeds are timed
HEADING = '[data-testid="stMain"] h1, [data-testid="stMain"] [data-testid="stHeading"]'
EXCEPTION = '[data-testid="stException"]'


def page_names() -> list[str]:
    return [url or "home" for _, url in routed_pages()]


def fresh_env() -> dict[str, str]:
    """A fresh deploy: an empty HOME (no torch hub cache, no ~/.streamlit)."""
    home = tempfile.mkdtemp(prefix="first-visit-home-")
    return {"HOME": home, "XDG_CACHE_HOME": os.path.join(home, ".cache")}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet_server(pid: int, timeout_s: float = 120, quiet_s: int = QUIET_SERVER_S) -> float:
    """Block until the server's CPU use stays under IDLE_CPU_S a second for ``quiet_s`` seconds in a row (its
    warm-up is over: its last stage waits ui.warmup.QUIET_S without a script run before it starts); seconds
    waited."""
    start = time.monotonic()
    last, quiet = cpu_seconds(pid), 0
    while time.monotonic() - start < timeout_s and quiet < quiet_s:
        time.sleep(1.0)
        now = cpu_seconds(pid)
        quiet = quiet + 1 if now - last < IDLE_CPU_S else 0
        last = now
    return time.monotonic() - start


def visit(browser, base: str, name: str, lang: str, timeout_s: float = 180) -> tuple[float, bool]:
    """Seconds until the page's main element is present and Streamlit stays idle; and whether it showed an
    exception."""
    url = "" if name == "home" else name
    selector = MAIN_ELEMENT.get(url) or HEADING
    done_js = f"""() => !!document.querySelector({json.dumps(HEADING)})
        && !!document.querySelector({json.dumps(selector)}) && !({BUSY_JS})()"""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    page = context.new_page()
    try:
        start = time.perf_counter()
        page.goto(f"{base}/{url}?lang={lang}", wait_until="commit")
        quiet_since = None
        while time.perf_counter() - start < timeout_s:
            now = time.perf_counter()
            if not page.evaluate(done_js):
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= QUIET_S:
                return quiet_since - start, page.locator(EXCEPTION).count() > 0
            time.sleep(POLL_S)
        return float("nan"), page.locator(EXCEPTION).count() > 0
    finally:
        context.close()


def measure(names: list[str], langs: list[str], kinds: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    """{kind: {lang: {page: seconds}}}; an exception on the page is stored as a negative time."""
    from playwright.sync_api import sync_playwright

    results: dict[str, dict[str, dict[str, float]]] = {kind: {lang: {} for lang in langs} for kind in kinds}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            if "first" in kinds:
                for lang in langs:
                    for name in names:
                        with streamlit_server(fresh_env()) as (base, _):
                            seconds, failed = visit(browser, base, name, lang)
                        results["first"][lang][name] = -seconds if failed else seconds
                        report("first", lang, name, seconds, failed)
            if "warm" in kinds:
                for lang in langs:
                    with streamlit_server(fresh_env()) as (base, proc):
                        visit(browser, base, "home", lang)
                        waited = wait_for_quiet_server(proc.pid)
                        print(f"  warm server ({lang}): Home served, quiet {waited:.1f} s later", file=sys.stderr)
                        for name in names:
                            seconds, failed = visit(browser, base, name, lang)
                            results["warm"][lang][name] = -seconds if failed else seconds
                            report("warm", lang, name, seconds, failed)
        finally:
            browser.close()
    return results


def report(kind: str, lang: str, name: str, seconds: float, failed: bool) -> None:
    print(f"  {kind:<5} {lang} {name:<14} {seconds:6.2f} s{'  (exception on the page)' if failed else ''}",
          file=sys.stderr, flush=True)


def cell(value: float | None) -> str:
    if value is None:
        return "–"
    mark = "!" if value < 0 else ("*" if abs(value) > TARGET_S else "")
    return f"{abs(value):.2f}{mark}"


def table(results: dict[str, dict[str, dict[str, float]]], names: list[str]) -> str:
    columns = [(kind, lang) for kind in results for lang in results[kind]]
    header = "| page | " + " | ".join(f"{kind} session, {lang}" for kind, lang in columns) + " |"
    lines = [header, "| --- |" + " ---: |" * len(columns)]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(cell(results[k][lang].get(name)) for k, lang in columns) + " |")
    slowest = [max((abs(v) for v in results[k][lang].values()), default=float("nan")) for k, lang in columns]
    lines.append("| slowest | " + " | ".join(f"{s:.2f}" for s in slowest) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", nargs="+", choices=["first", "warm"], default=["first", "warm"])
    parser.add_argument("--langs", nargs="+", choices=["en", "zh"], default=["en", "zh"])
    parser.add_argument("--pages", nargs="+", help="page names (url paths; Home is 'home'); default: every page")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if reason := chromium_missing_reason():
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    names = args.pages or page_names()
    unknown = set(names) - set(page_names())
    if unknown:
        parser.error(f"unknown pages: {', '.join(sorted(unknown))}; the pages are {', '.join(page_names())}")
    load = os.getloadavg()
    results = measure(names, args.langs, args.kind)
    print(f"\nFirst visits in headless Chromium, seconds until the main element is present and the app idle (target "
          f"{TARGET_S:g} s; * above it, ! an exception); load average before {load[0]:.1f} / {load[1]:.1f} / "
          f"{load[2]:.1f}, after {' / '.join(f'{v:.1f}' for v in os.getloadavg())}, {os.cpu_count()} cores\n")
    print(table(results, names))
    if args.json:
        args.json.write_text(json.dumps({"results": results, "load_before": load, "load_after": os.getloadavg()},
                                        indent=1))
    worst = max((abs(v) for r in results.values() for lang in r.values() for v in lang.values()), default=0.0)
    failed = any(v < 0 for r in results.values() for lang in r.values() for v in lang.values())
    return 1 if failed or worst != worst else 0


if __name__ == "__main__":
    sys.exit(main())
