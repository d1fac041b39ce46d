"""Home: a picture of the residual block, one button that starts the tour, a card per page, the paper's story.

Nothing here runs a model: the first load of Home stays fast.
"""

from ui.common import current_language, tr
from ui.navigation import PAGES, SIDEBAR_MODEL_PAGES, page_titles

from pathlib import Path

import streamlit as st

from resnet_viz.render.plots.home import residual_block

ROOT = Path(__file__).resolve().parent.parent
START_PAGE = "pages/feature_maps.py"
CARDS_PER_ROW = 4
STORY = ["degradation", "residual", "gradient", "blocks", "results"]
FORMULAS = {
    "residual": r"y = \mathcal{F}(x, \{W_i\}) + x",
    "gradient": r"\frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}"
                r"\left(\frac{\partial \mathcal{F}}{\partial x} + 1\right)",
}


def top() -> None:
    st.title(tr("home.title"))
    st.markdown(tr("home.intro"))
    picture, start = st.columns([3, 2], vertical_alignment="center")
    with picture:
        st.plotly_chart(residual_block(current_language()), config={"displayModeBar": False, "staticPlot": True})
        st.caption(tr("home.fig_caption"))
    with start:
        if st.button(tr("home.start"), key="home_start", type="primary", icon=":material/photo_camera:",
                     width="stretch"):
            st.switch_page(START_PAGE)
        st.caption(tr("home.start_help"))
        st.info(tr("home.how"), icon=":material/translate:")


# Streamlit draws a page link's label on one line and cuts it at the column's edge without an ellipsis ("Plain vs
# residual gradient f"); inside Home's cards the titles wrap instead.
CARD_TITLES_WRAP = """<style>[class*="st-key-home_card_"] [data-testid="stPageLink-NavLink"] span
{white-space: normal; overflow-wrap: anywhere;}</style>"""


def cards() -> None:
    """A card per page (icon and title as app.py registers them, the promise from home.toml), by section."""
    st.html(CARD_TITLES_WRAP)
    st.header(tr("home.pages_header"))
    sections: dict[str, list[tuple[str, str, str]]] = {}
    for file, _, icon, section, url in PAGES:
        if url != "home" and (ROOT / file).is_file():
            sections.setdefault(section, []).append((file, icon, url))
    for section, entries in sections.items():
        st.subheader(tr(section))
        for row in range(0, len(entries), CARDS_PER_ROW):
            for column, (file, icon, url) in zip(st.columns(CARDS_PER_ROW), entries[row:row + CARDS_PER_ROW]):
                with column.container(border=True, key=f"home_card_{url}"):
                    st.page_link(file, icon=icon)
                    st.caption(tr(f"home.page_{url}"))
    st.caption(tr("home.model_note", pages=", ".join(tr(k) for k in page_titles(SIDEBAR_MODEL_PAGES))))


def story() -> None:
    st.header(tr("home.story_header"))
    paper = [url for _, _, _, section, url in PAGES if section == "nav.section_paper"]
    params = {"results": dict(section=tr("nav.section_paper"), pages=", ".join(tr(k) for k in page_titles(paper)))}
    for section in STORY:
        with st.expander(tr(f"home.{section}_title")):
            st.markdown(tr(f"home.{section}", **params.get(section, {})))
            if section in FORMULAS:
                st.latex(FORMULAS[section])


top()
cards()
story()
