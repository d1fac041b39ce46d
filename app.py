"""resnet-viz: the router. `streamlit run app.py`

Decides the language (``?lang=en|zh``, the switch, or the browser locale), draws the shared sidebar
(language switch, model picker) and hands over to the chosen page.
"""

from pathlib import Path

import streamlit as st

from resnet_viz.runtime import configure_allocator, configure_threads
from ui.common import language_switch, sync_language, tr
from ui.models import model_picker
from ui.navigation import PAGES

st.secrets.load_if_toml_exists()  # root-level secrets become environment variables (Community Cloud)
configure_threads()  # once per process (later reruns change nothing): torch's threads serve every session
configure_allocator()  # freed activations go back to the system: memory stays flat across a class's work

ROOT = Path(__file__).parent

st.set_page_config(page_title="resnet-viz", page_icon=":material/hub:", layout="wide")
sync_language()

sections: dict[str, list] = {}
for file, title, icon, section, url in PAGES:
    if (ROOT / file).is_file():
        sections.setdefault(tr(section), []).append(
            st.Page(file, title=tr(title), icon=icon, url_path=url, default=url == "home"))

page = st.navigation(sections)
language_switch()
model_picker()
st.sidebar.caption(tr("common.sidebar_footer"))
page.run()
