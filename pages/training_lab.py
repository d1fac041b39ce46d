"""Training lab: up to three CIFAR-10 nets trained side by side, live, in a background thread of this session."""

import streamlit as st

from resnet_viz.train.lab import (
    DEFAULT_BATCH,
    DEFAULT_ITERATIONS,
    DEFAULT_LR,
    DEFAULT_NETS,
    MAX_BATCH,
    MAX_ITERATIONS,
    MAX_NETS,
    LabSettings,
    NetChoice,
    lab_depths,
)
from ui import training_lab as lab
from ui.common import keep_valid, tr

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
    shortcut = col.radio(tr("training_lab.shortcut"), ("A", "B"), key=f"training_lab_shortcut{k}", horizontal=True,
                         help=tr("training_lab.shortcut_help"))
    if kind == "none":
        return None
    return NetChoice(kind == "resnet", int(depth), str(shortcut))


def _settings_form() -> None:
    """The nets and the settings, and the Train button (disabled while this session's run is under way)."""
    keep_valid_numbers()
    with st.form("training_lab_form", border=True):
        st.markdown(f"**{tr('training_lab.nets_header')}**")
        nets = [n for k, col in enumerate(st.columns(MAX_NETS)) if (n := _net_slot(k, col)) is not None]
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
        pressed = st.form_submit_button(tr("training_lab.train"), type="primary", disabled=lab.busy(),
                                        help=tr("training_lab.train_help"))
    if pressed:
        lab.start(LabSettings(tuple(nets), int(iterations), int(batch), float(lr), int(seed)))


def keep_valid_numbers() -> None:
    """The number inputs' first values (set once, so a value typed earlier stays)."""
    for key, value in (("iterations", DEFAULT_ITERATIONS), ("batch", DEFAULT_BATCH), ("lr", DEFAULT_LR),
                       ("seed", 0)):
        st.session_state.setdefault(f"training_lab_{key}", value)


def main() -> None:
    st.title(tr("training_lab.page_title"))
    st.markdown(tr("training_lab.intro"))
    st.caption(tr("training_lab.recipe_note"))
    _settings_form()
    lab.live()
    lab.downloads(lab.current_job())
    with st.expander(tr("training_lab.what_to_notice"), expanded=False):
        st.markdown(tr("training_lab.notice"))


main()
