"""The Figure 6 page's data: the checkpoints' logged runs, read again when the folders change, and the runs the
page's multiselect offers as they come and go."""

from __future__ import annotations

import streamlit as st

from resnet_viz.paper.figure6 import Run, collect_runs

RUNS_KEY = "figure6_runs"  # the multiselect of the runs shown
_KNOWN_KEY = "figure6_known"  # the runs logged at the last visit: a run logged since is added to the choice


@st.cache_data(max_entries=8, show_spinner=False)
def checkpoint_runs(fingerprint_key: tuple, user_dir: str) -> list[Run]:
    """Every CIFAR-10 plain net and ResNet among the checkpoints, as a run (``collect_runs``), read again when the
    folders change."""
    return collect_runs()


def runs_default(keys: list[str]) -> list[str] | None:
    """Before the runs' multiselect is drawn: keep the chosen runs still logged, add the runs logged since the last
    visit, and return the multiselect's default (every run on a first visit, None after)."""
    state = st.session_state
    if RUNS_KEY in state:
        known = state.get(_KNOWN_KEY, keys)
        state[RUNS_KEY] = [k for k in state[RUNS_KEY] if k in keys] + [k for k in keys if k not in known]
    state[_KNOWN_KEY] = keys
    return None if RUNS_KEY in state else keys
