"""Every page of the app, in menu order, grouped by section: app.py routes them, the sidebar menu and Home's cards
read them.

(file, title key, icon, section key, url path). A page whose file is absent is left out. The url paths are the
file names, as Streamlit's legacy pages/ routing derives them (see ui/legacy_pages.py). Kept a literal list:
tests/browser.py reads it without running Streamlit.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st
from streamlit.navigation.page import StreamlitPage

from ui.common import tr

PAGES = [
    ("pages/home.py", "nav.home", ":material/home:", "nav.section_start", "home"),
    ("pages/conv_lab.py", "nav.conv_lab", ":material/grid_on:", "nav.section_basics", "conv_lab"),
    ("pages/architecture.py", "nav.architecture", ":material/account_tree:", "nav.section_resnet", "architecture"),
    ("pages/feature_maps.py", "nav.feature_maps", ":material/layers:", "nav.section_resnet", "feature_maps"),
    ("pages/attribution.py", "nav.attribution", ":material/visibility:", "nav.section_resnet", "attribution"),
    ("pages/layer_learns.py", "nav.layer_learns", ":material/filter_vintage:", "nav.section_resnet", "layer_learns"),
    ("pages/gradient_flow.py", "nav.gradient_flow", ":material/trending_down:", "nav.section_resnet",
     "gradient_flow"),
    ("pages/figure6.py", "nav.figure6", ":material/show_chart:", "nav.section_paper", "figure6"),
    ("pages/figure7.py", "nav.figure7", ":material/bar_chart:", "nav.section_paper", "figure7"),
    ("pages/lesion.py", "nav.lesion", ":material/content_cut:", "nav.section_paper", "lesion"),
    ("pages/landscape.py", "nav.landscape", ":material/landscape:", "nav.section_paper", "landscape"),
    ("pages/homework.py", "nav.homework", ":material/assignment:", "nav.section_homework", "homework"),
    ("pages/training_lab.py", "nav.training_lab", ":material/model_training:", "nav.section_homework",
     "training_lab"),
    ("pages/evaluate.py", "nav.evaluate", ":material/fact_check:", "nav.section_homework", "evaluate"),
    ("pages/resnet_code.py", "nav.resnet_code", ":material/code:", "nav.section_homework", "resnet_code"),
]

# The pages that run the sidebar's model (they call ui.models.current_model; a test keeps this true): Home and the
# picker's help name them.
SIDEBAR_MODEL_PAGES = ("feature_maps", "attribution", "layer_learns", "lesion", "evaluate")


def page_titles(urls) -> list[str]:
    """The title keys of the pages at ``urls``, in menu order."""
    return [title for _, title, _, _, url in PAGES if url in urls]


def sidebar_menu(pages: Mapping[str, StreamlitPage]) -> None:
    """A link to each routed page (url path -> page), under its section's name, in the session's language.

    app.py hides st.navigation's own menu, which speaks only English ("View 5 more", "View less") and folds away
    the pages after the tenth."""
    menu = st.sidebar.container(gap=None)
    section = None
    for _, _, _, section_key, url in PAGES:
        if url not in pages:
            continue
        if section_key != section:
            section = section_key
            menu.caption(tr(section_key))
        menu.page_link(pages[url])
