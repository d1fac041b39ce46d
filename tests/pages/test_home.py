"""Home in AppTest: the start button opens Feature maps, a card links every other page, the picture needs no model."""

import pytest

from resnet_viz.i18n import catalogue, t
from resnet_viz.render.plots.home import NOTE_LINE, residual_block
from resnet_viz.render.plots.layout import wrap
from tests.conftest import ROOT, app_page, assert_no_exception

OTHER_PAGES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py")
                     if not p.name.startswith("_") and p.name != "home.py")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_home_offers_start_button_and_a_card_per_page(lang):
    at = app_page(lang=lang)
    assert_no_exception(at)
    assert at.title[0].value == t("home.title", lang)
    assert at.button(key="home_start").label == t("home.start", lang)
    links = at.main.get("page_link")  # the sidebar's menu links every page too
    linked = {link.proto.page for link in links}
    assert linked == {page.removeprefix("pages/").removesuffix(".py") for page in OTHER_PAGES}
    assert all(link.proto.icon and link.proto.label for link in links)
    captions = {c.value for c in at.caption}
    assert all(t(f"home.page_{url}", lang) in captions for url in linked)
    assert len(at.expander) == 5  # the paper's story, folded


def test_start_button_opens_feature_maps():
    at = app_page(lang="en")
    at.button(key="home_start").click().run()
    assert_no_exception(at)
    assert at.title[0].value == t("feature_maps.title", "en")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_residual_block_picture_is_labelled_in_the_language(lang):
    fig = residual_block(lang)
    texts = {a.text for a in fig.layout.annotations}
    assert {wrap(catalogue(lang)[f"home.fig_{k}"], NOTE_LINE) for k in ("identity", "residual")} <= texts
    assert sum(s.type == "rect" for s in fig.layout.shapes) == 2  # the two weight layers


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_story_and_the_model_note_name_the_pages_that_are_there(lang):
    at = app_page(lang=lang)
    texts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    results = next(x for x in texts if "ResNet-110 (6.43%)" in x or "ResNet-110 的 6.43%" in x)
    for key in ("nav.section_paper", "nav.figure6", "nav.figure7", "nav.lesion", "nav.landscape"):
        assert t(key, lang) in results, key
    assert "{" not in results
    note = next(x for x in texts if x.startswith(t("home.model_note", lang)[:12]))
    for key in ("nav.feature_maps", "nav.attribution", "nav.layer_learns", "nav.lesion", "nav.evaluate"):
        assert t(key, lang) in note, key


def test_card_titles_wrap_instead_of_being_cut():
    """Streamlit cuts a page link's label at the column's edge: Home's cards let theirs wrap (the browser test
    measures that no title is cut)."""
    at = app_page()
    styles = [el.proto.body for el in at.get("html")]
    assert any("st-key-home_card_" in s and "white-space: normal" in s for s in styles)
