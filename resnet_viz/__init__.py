"""resnet-viz core: models, loading, inspection, calculators, attribution, data and training.

Usable from a notebook; it never imports Streamlit.
"""

__version__ = "0.1.0"
