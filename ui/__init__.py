"""Streamlit helpers for app.py and the pages. ``ui/X.py`` holds the caches, heavy-queue calls and session-state
bookkeeping of ``pages/X.py``; common, models and images are shared by several pages (language and messages, the
model picker and its caches, image input), as are work, navigation and legacy_pages.

All computation lives in resnet_viz; this package only wires it to widgets and caches.
"""

from ui.legacy_pages import route_through_the_router

route_through_the_router()  # before anything else runs: a fresh server's first run may have skipped app.py

from ui.common import current_language, show_error, tr  # noqa: E402

__all__ = ["current_language", "show_error", "tr"]
