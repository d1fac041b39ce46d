"""Plotly figure builders, one module per page or topic (data in, figure out; no Streamlit)."""
