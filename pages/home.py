import streamlit as st

from ui.common import tr

st.title(tr("home.title"))
