"""Home in AppTest: the start button opens Feature maps, a card links every other page, the picture needs no model."""

import pytest

from resnet_viz.i18n import catalogue, t
from resnet_viz.render.plots.home import residual_block
from tests.conftest import ROOT, app_page, assert_no_exception

OTHER_PAGES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "pages").glob("*.py")
                     if not p.name.startswith("_") and p.name != "home.py")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_home_offers_start_button_and_a_card_per_page(lang):
    at = app_page(lang=lang)
    assert_no_exception(at)
    assert at.title[0].value == t("home.title", lang)
    assert at.button(key="home_start").label == t("home.start", lang)
    links = at.get("page_link")
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
    assert {catalogue(lang)["home.fig_identity"], catalogue(lang)["home.fig_residual"]} <= texts
    assert sum(s.type == "rect" for s in fig.layout.shapes) == 2  # the two weight layers
