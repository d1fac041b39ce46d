"""Streamlit helpers shared by app.py and the pages: language, messages, the model picker and its caches, image input.

All computation lives in resnet_viz; this package only wires it to widgets and caches.
"""

from ui.legacy_pages import route_through_the_router

route_through_the_router()  # before anything else runs: a fresh server's first run may have skipped app.py

from ui.common import current_language, show_error, tr  # noqa: E402

__all__ = ["current_language", "show_error", "tr"]
