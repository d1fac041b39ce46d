"""resnet-viz: the router. `streamlit run app.py`

Decides the language (``?lang=en|zh``, the switch, or the browser locale), draws the shared sidebar
(language switch, model picker) and hands over to the chosen page. It imports no torch: the first run starts the
server's warm-up (ui/warmup.py), Home runs meanwhile, every other page waits for what it imports.
"""

from pathlib import Path

import streamlit as st

from ui import warmup
from ui.common import language_switch, page_style, sync_language, tr
from ui.navigation import PAGES, sidebar_menu
from ui.work import drain_on_stop

st.secrets.load_if_toml_exists()  # root-level secrets become environment variables (Community Cloud)
warmup.start()  # once per process: torch (its threads set once), the allocator setting, every page's imports
drain_on_stop()  # once: a stopped server (SIGTERM) finishes its work before Streamlit closes the sessions

ROOT = Path(__file__).parent

st.set_page_config(page_title="resnet-viz", page_icon=":material/hub:", layout="wide")
sync_language()
page_style()

pages = {url: st.Page(file, title=tr(title), icon=icon, url_path=url, default=url == "home")
         for file, title, icon, _, url in PAGES if (ROOT / file).is_file()}
page = st.navigation(list(pages.values()), position="hidden")  # the menu is the sidebar's own: it speaks Chinese
language_switch()
sidebar_menu(pages)
with warmup.running():  # from here the warm-up starts only what this run (or another) waits for
    warmup.before_page(page.url_path or "home")
    warmup.sidebar_model_picker()
    st.sidebar.caption(tr("common.sidebar_footer"))
    page.run()
