"""ui.navigation: the list of pages that run the sidebar's model is the pages that do; the sidebar's menu: every
routed page once, in menu order, under its section's name, all in the session's language; st.navigation's own menu,
which says "View 5 more" in English, is hidden."""

from __future__ import annotations

import pytest

from resnet_viz.i18n import t
from tests.conftest import ROOT, app_page, assert_no_exception
from ui.navigation import PAGES, SIDEBAR_MODEL_PAGES, page_titles


def test_the_pages_said_to_use_the_sidebar_model_are_those_that_do():
    using = {url for file, *_, url in PAGES if "current_model(" in (ROOT / file).read_text(encoding="utf-8")}
    assert using == set(SIDEBAR_MODEL_PAGES)
    assert page_titles(SIDEBAR_MODEL_PAGES) == [f"nav.{url}" for *_, url in PAGES if url in SIDEBAR_MODEL_PAGES]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_sidebar_lists_every_page_by_section_in_the_language(lang):
    at = app_page(lang=lang)
    assert_no_exception(at)
    routed = [(section, url) for file, _, _, section, url in PAGES if (ROOT / file).is_file()]
    links = at.sidebar.get("page_link")
    assert [link.proto.page for link in links] == ["" if url == "home" else url for _, url in routed]  # home: /
    assert [link.proto.label for link in links] == [t(title, lang) for file, title, _, _, _ in PAGES
                                                    if (ROOT / file).is_file()]
    sections = list(dict.fromkeys(section for section, _ in routed))
    captions = [c.value for c in at.sidebar.caption]
    assert [c for c in captions if c in {t(s, lang) for s in sections}] == [t(s, lang) for s in sections]
    assert at.sidebar.radio[0].label == "Language / 语言"  # the switch above the menu


def test_the_router_hides_streamlits_own_menu():
    source = (ROOT / "app.py").read_text(encoding="utf-8")
    assert 'position="hidden"' in source and "sidebar_menu(" in source
