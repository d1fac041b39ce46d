"""Home: what the app is and the paper's story."""

import streamlit as st

from ui.common import tr

st.title(tr("home.title"))
st.markdown(tr("home.intro"))
st.info(tr("home.how"), icon=":material/info:")

st.header(tr("home.story_header"))
st.subheader(tr("home.degradation_title"))
st.markdown(tr("home.degradation"))
st.subheader(tr("home.residual_title"))
st.markdown(tr("home.residual"))
st.latex(r"y = \mathcal{F}(x, \{W_i\}) + x")
st.subheader(tr("home.gradient_title"))
st.markdown(tr("home.gradient"))
st.latex(r"\frac{\partial L}{\partial x} = \frac{\partial L}{\partial y}"
         r"\left(\frac{\partial \mathcal{F}}{\partial x} + 1\right)")
st.subheader(tr("home.blocks_title"))
st.markdown(tr("home.blocks"))
st.subheader(tr("home.results_title"))
st.markdown(tr("home.results"))

st.header(tr("home.pages_header"))
for page in ("conv_lab", "architecture", "feature_maps", "attribution", "figure6", "figure7",
             "gradient_flow"):
    st.markdown(f"- {tr(f'home.page_{page}')}")
st.caption(tr("home.model_note"))
