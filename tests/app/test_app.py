"""The app shell in AppTest: every page renders in both languages, the language rules, the model picker."""

import re

import pytest

from resnet_viz.i18n import t
from tests.conftest import ROOT, app_page, assert_no_exception

PAGES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py") if not p.name.startswith("_"))


def test_every_page_is_routed():
    text = (ROOT / "ui" / "navigation.py").read_text(encoding="utf-8")
    assert all(f'"{page}"' in text for page in PAGES)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_exception(page, lang):
    at = app_page(page, lang=lang)
    assert_no_exception(at)
    assert at.main.children, f"{page} rendered nothing"
    title = at.title[0].value
    assert bool(re.search(r"[\u4e00-\u9fff]", title)) == (lang == "zh"), title


def test_home_in_chinese_from_query_parameter():
    at = app_page(lang="zh")
    assert_no_exception(at)
    assert at.title[0].value == t("home.title", "zh")
    assert at.sidebar.radio(key="lang_switch").value == "zh"
    assert at.query_params["lang"] == ["zh"] or at.query_params["lang"] == "zh"


def test_language_switch_changes_text_and_url():
    at = app_page(lang="en")
    assert at.title[0].value == t("home.title", "en")
    at.sidebar.radio(key="lang_switch").set_value("zh").run()
    assert_no_exception(at)
    assert at.title[0].value == t("home.title", "zh")
    assert "zh" in str(at.query_params["lang"])


def test_unknown_language_falls_back_to_english():
    at = app_page(lang="fr")
    assert_no_exception(at)
    assert at.title[0].value == t("home.title", "en")


def test_model_picker_offers_checkpoints_pretrained_and_upload():
    at = app_page(lang="en")
    picker = at.sidebar.selectbox(key="model_choice")
    options = " | ".join(picker.options)
    assert "ResNet-50" in options and "Upload" in options
    assert picker.value  # a default is always chosen
