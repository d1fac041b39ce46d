"""Every Plotly figure builder of the app, pages included (figures are tested here, pages only show them)."""
