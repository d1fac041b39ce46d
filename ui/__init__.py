"""Streamlit helpers shared by app.py and the pages: language, messages, cached models and images.

All computation lives in resnet_viz; this package only wires it to widgets and caches.
"""

from streamlit.runtime.pages_manager import PagesManager

if PagesManager.uses_pages_directory:
    # The very first script run of a fresh server takes Streamlit's legacy route for apps with a `pages/`
    # folder: it may run a page file directly, without app.py's router, language and sidebar. Switch the
    # legacy mode off and start the run again, so that app.py's st.navigation handles it like every other.
    import streamlit as st

    PagesManager.uses_pages_directory = False
    st.rerun()

from ui.common import current_language, show_error, tr  # noqa: E402

__all__ = ["current_language", "show_error", "tr"]
