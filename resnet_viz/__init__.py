"""resnet-viz core: models, checkpoints, inspection, explanation, the paper's experiments, training, rendering
and the conv/pool lab. Usable from a notebook; it never imports Streamlit.
"""

from pathlib import Path

__version__ = "0.1.0"

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = PROJECT_ROOT / "assets"
