"""The one place that works around Streamlit's legacy ``pages/`` routing.

The project keeps its pages in a folder named ``pages/`` (the layout agreed with its users) and routes with
``st.navigation`` in app.py. Streamlit documents that "as soon as any session of your app executes the
st.navigation command, your app will ignore the pages/ directory (across all sessions)" — but until then, the
very first script run of a fresh server takes the legacy route: a deep link (``/feature_maps``) runs the page file
directly, without app.py's router, language and sidebar. Streamlit offers no setting to switch the legacy mode
off, so this module flips its private flag ``PagesManager.uses_pages_directory`` (the same assignment
``st.navigation`` makes) and starts the run again. ``tests/test_legacy_pages.py`` fails the day Streamlit renames
the flag; the browser test ``test_deep_link_on_a_fresh_server_goes_through_the_router`` checks the behaviour.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager


def route_through_the_router() -> None:
    """Make the current run (and every later one) go through app.py's ``st.navigation``."""
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
