"""The browser tests' fixtures: the app served as a fresh deploy runs it, and one headless Chromium."""

from __future__ import annotations

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server


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
