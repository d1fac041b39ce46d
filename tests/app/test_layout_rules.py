"""The rule for pages: ``pages/X.py`` holds widgets and layout; its caches, its calls into the heavy-work queue and its
session-state bookkeeping live in ``ui/X.py``, named after the page; helpers several pages use live in the shared
modules. Read as text: nothing here runs Streamlit."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT
from ui.navigation import PAGES

SHARED = {"common", "models", "images", "work", "navigation", "legacy_pages", "warmup"}
PAGE_FILES = sorted((ROOT / "pages").glob("*.py"))
UI_MODULES = sorted(p for p in (ROOT / "ui").glob("*.py") if p.name != "__init__.py")


@pytest.mark.parametrize("page", PAGE_FILES, ids=lambda p: p.name)
def test_a_page_defines_no_cache_and_queues_nothing_itself(page):
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"cache_data|cache_resource", text), f"{page.name}: caches belong in ui/{page.name}"
    assert not re.search(r"^\s*(from ui\.work import|from ui import work\b|import ui\.work)", text, re.M), (
        f"{page.name}: calls into the heavy-work queue belong in ui/{page.name}")


def test_every_ui_module_is_a_pages_companion_or_shared():
    pages = {url for *_, url in PAGES}
    strays = [p.name for p in UI_MODULES if p.stem not in pages | SHARED]
    assert not strays, f"ui modules named after no page in ui/navigation.py and not shared: {strays}"


def test_the_rule_knows_every_shared_module():
    assert SHARED <= {p.stem for p in UI_MODULES}, "a shared module was renamed: update SHARED here and the README"


@pytest.mark.parametrize("source", PAGE_FILES + UI_MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_ui_modules_are_imported_by_their_names_not_under_aliases(source):
    """``from ui import lesion as data`` hid where a name came from: pages import the names they use."""
    text = source.read_text(encoding="utf-8")
    assert not re.search(r"^\s*(from ui import \w+|import ui\.\w+ as \w+)", text, re.M), source.name


@pytest.mark.parametrize("page", PAGE_FILES, ids=lambda p: p.name)
def test_a_pages_first_import_is_the_ui_package(page):
    """On a fresh server Streamlit's legacy pages/ route runs a deep-linked page file without app.py; importing ui
    sends that run back through the router (ui/legacy_pages.py). Anything imported before it (resnet_viz: torch)
    would be imported by that run's thread, beside the warm-up's (pages/ruff.toml sorts ui first)."""
    import ast

    imports = [node for node in ast.parse(page.read_text(encoding="utf-8")).body
               if isinstance(node, ast.Import | ast.ImportFrom) and getattr(node, "module", None) != "__future__"]
    first = imports[0]
    name = first.module if isinstance(first, ast.ImportFrom) else first.names[0].name
    assert name is not None and name.split(".")[0] == "ui", f"{page.name}: first import is {name}, not ui"
