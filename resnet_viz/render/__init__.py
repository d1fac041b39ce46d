"""Turning numbers into pictures: the one colour pipeline (colour maps, overlays, PNG) and every Plotly figure."""
