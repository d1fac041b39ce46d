"""Training lab: up to three CIFAR-10 nets trained side by side, live, in a background thread of this session."""

from ui.common import keep_valid, tr
from ui.training_lab import busy, current_job, default_numbers, downloads, live, recipe_note, start

import streamlit as st

from resnet_viz.train.training_lab.settings import (
    DEFAULT_NETS,
    MAX_BATCH,
    MAX_ITERATIONS,
    MAX_NETS,
    LabSettings,
    NetChoice,
    lab_depths,
)

KINDS = ("none", "plain", "resnet")


def _net_slot(k: int, col) -> NetChoice | None:
    """One column of the form: kind, depth and (for a ResNet) the shortcut option."""
    default = NetChoice.of(DEFAULT_NETS[k]) if k < len(DEFAULT_NETS) else None
    keep_valid(f"training_lab_kind{k}", KINDS, "none" if default is None else ("resnet" if default.residual
                                                                                 else "plain"))
    keep_valid(f"training_lab_depth{k}", lab_depths(), 20 if default is None else default.depth)
    keep_valid(f"training_lab_shortcut{k}", ("A", "B"), "A")
    col.markdown(f"**{tr('training_lab.net_slot', k=k + 1)}**")
    labels = {v: tr(f"training_lab.family_{v}") for v in KINDS}  # fixed now: the label of this run's language
    kind = col.selectbox(tr("training_lab.family"), KINDS, key=f"training_lab_kind{k}", format_func=labels.__getitem__,
                         help=tr("training_lab.family_help"))
    depth = col.selectbox(tr("training_lab.depth"), lab_depths(), key=f"training_lab_depth{k}",
                          help=tr("training_lab.depth_help"))
    if kind == "none":
        return None
    if kind == "plain":  # a plain net has no shortcut: nothing to choose
        return NetChoice(False, int(depth))
    shortcut = col.radio(tr("training_lab.shortcut"), ("A", "B"), key=f"training_lab_shortcut{k}", horizontal=True,
                         help=tr("training_lab.shortcut_help"))
    return NetChoice(True, int(depth), str(shortcut))


def _settings_form() -> None:
    """The nets, outside the form (a kind chosen shows or hides its shortcut option at once), then the settings and
    the Train button (disabled while this session's run is under way)."""
    default_numbers()
    st.markdown(f"**{tr('training_lab.nets_header')}**")
    nets = [n for k, col in enumerate(st.columns(MAX_NETS)) if (n := _net_slot(k, col)) is not None]
    with st.form("training_lab_form", border=True):
        st.markdown(f"**{tr('training_lab.settings_header')}**")
        c1, c2, c3, c4 = st.columns(4)
        iterations = c1.number_input(tr("training_lab.iterations"), min_value=0, max_value=MAX_ITERATIONS, step=50,
                                     key="training_lab_iterations", help=tr("training_lab.iterations_help"))
        batch = c2.number_input(tr("training_lab.batch"), min_value=1, max_value=MAX_BATCH, step=16,
                                key="training_lab_batch", help=tr("training_lab.batch_help"))
        lr = c3.number_input(tr("training_lab.lr"), min_value=0.0, step=0.05, format="%.4g", key="training_lab_lr",
                             help=tr("training_lab.lr_help"))
        seed = c4.number_input(tr("training_lab.seed"), min_value=0, max_value=9999, step=1, key="training_lab_seed",
                               help=tr("training_lab.seed_help"))
        pressed = st.form_submit_button(tr("training_lab.train"), type="primary", disabled=busy(),
                                        help=tr("training_lab.train_help"))
    if pressed:
        start(LabSettings(tuple(nets), int(iterations), int(batch), float(lr), int(seed)))


def main() -> None:
    st.title(tr("training_lab.page_title"))
    st.markdown(tr("training_lab.intro"))
    st.caption(recipe_note())
    _settings_form()
    live()
    downloads(current_job())
    with st.expander(tr("training_lab.what_to_notice"), expanded=False):
        st.markdown(tr("training_lab.notice"))


main()
