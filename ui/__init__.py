"""Streamlit helpers shared by app.py and the pages: language, messages, cached models and images.

All computation lives in resnet_viz; this package only wires it to widgets and caches.
"""

from ui.common import current_language, show_error, tr

__all__ = ["current_language", "show_error", "tr"]
