"""Homework: the course's four homework questions, each with a home in the app. Question 1 is "predict, then
check": a guess, a deep link that opens the conv lab with the question's numbers, the answer folded; 2 and 3 lead
to the pooling exercise and the hand-written ResNet; 4 says what to run where, what to expect and how to bring the
checkpoint back; 2 and 3 also show the check and convert commands with what they print for the project's own
examples. Every number is computed in resnet_viz.conv_lab.homework (and resnet_viz.conv_lab.calc)."""

from __future__ import annotations

from ui.common import command_example, tr

from pathlib import Path

import streamlit as st
from streamlit.errors import StreamlitAPIException

from resnet_viz.conv_lab import homework as H
from resnet_viz.conv_lab.parse import format_number as fmt
from resnet_viz.inspect.resnet_code import trace
from resnet_viz.inspect.skeleton import INPUT_SIZE
from resnet_viz.render.tables import epochs_text
from resnet_viz.student.pooling import CASES as POOL_CASES

KEY = "homework"
ROOT = Path(__file__).resolve().parent.parent
LAB, TRAINING_LAB, EVALUATE, RESNET_CODE = ("pages/conv_lab.py", "pages/training_lab.py", "pages/evaluate.py",
                                            "pages/resnet_code.py")
WHERE = ("laptop", "lab_gpu", "cloud")


def _link(page: str, label_key: str, preset: str | None = None, icon: str = ":material/science:") -> None:
    """A link to another page of the app (a preset for the conv lab); a page not installed is said, not linked."""
    if (ROOT / page).is_file():
        try:
            st.page_link(page, label=tr(label_key), icon=icon, query_params={"preset": preset} if preset else None)
            return
        except StreamlitAPIException:  # a file the app does not route (yet)
            pass
    st.caption(tr("homework.page_missing", page=tr(label_key)))


def _predict(key: str, answer: int, label_key: str) -> None:
    """A number to guess before opening the lab; the page says whether it is right, not what is right."""
    guess = st.number_input(tr(label_key), value=None, step=1, key=f"{KEY}_{key}", placeholder=tr("homework.guess"))
    if guess is None:
        return
    if int(guess) == answer:
        st.success(tr("homework.right", value=fmt(answer)))
    else:
        st.warning(tr("homework.wrong", value=fmt(int(guess))))


def _stride() -> None:
    a = H.stride_answer()
    st.subheader(tr("homework.stride_title"))
    _predict("stride", a.gaps.h.out, "homework.stride_predict")
    _link(LAB, "homework.link_stride_gaps", "stride_gaps")
    _link(LAB, "homework.link_stride_one", "stride_one")
    with st.expander(tr("homework.show_answer")):
        st.markdown(tr("homework.stride_answer", out=a.gaps.h.out, covered=a.covered, size=a.gaps.h.size,
                       gap=a.gaps.h.stride - a.gaps.h.effective_kernel, unseen=f"{a.unseen_share:.2f}",
                       out1=a.stride_one.h.out, out2=a.stride_two.h.out, macs1=fmt(a.stride_one.macs),
                       macs2=fmt(a.stride_two.macs), ratio=f"{a.cost_ratio:.0f}"))


def _padding() -> None:
    a = H.padding_answer()
    st.subheader(tr("homework.padding_title"))
    _predict("padding", a.valid_chain[-1].size_out, "homework.padding_predict")
    _link(LAB, "homework.link_valid", "valid_3x3")
    with st.expander(tr("homework.show_answer")):
        sizes = " → ".join([str(a.valid_chain[0].size_in)] + [str(r.size_out) for r in a.valid_chain])
        st.markdown(tr("homework.padding_answer", one=a.one_valid.h.out, sizes=sizes, layers=len(a.valid_chain),
                       last=a.valid_chain[-1].size_out, same=a.same_chain[-1].size_out, most=a.max_valid_layers,
                       corner=a.corner_uses, centre=a.centre_uses, size=H.SIZE))


def _vgg() -> None:
    a = H.vgg_answer()
    st.subheader(tr("homework.vgg_title"))
    _predict("vgg", a.two.stacked_factor, "homework.vgg_predict")
    _link(LAB, "homework.link_vgg_two", "vgg_two")
    _link(LAB, "homework.link_vgg_three", "vgg_three")
    with st.expander(tr("homework.show_answer")):
        st.markdown(tr("homework.vgg_answer", rf2=a.two.receptive_field, w2=a.two.stacked_factor,
                       s2=a.two.single_factor, relu2=a.two.nonlinearities, rf3=a.three.receptive_field,
                       w3=a.three.stacked_factor, s3=a.three.single_factor, relu3=a.three.nonlinearities,
                       extra=f"{a.extra_percent:.0f}", c=a.three.channels, stacked=fmt(a.three.stacked_weights),
                       single=fmt(a.three.single_weights)))


def _question(number: int) -> None:
    st.header(tr(f"homework.q{number}_title"))
    st.markdown(f"> {tr(f'homework.q{number}_question')}")


def _training() -> None:
    _question(4)
    st.markdown(tr("homework.q4_intro"))
    st.code(H.INSTALL, language="bash")
    st.caption(tr("homework.install_note"))
    for tab, where in zip(st.tabs([tr(f"homework.where_{w}") for w in WHERE]), WHERE):
        with tab:
            st.markdown(tr(f"homework.where_{where}_body", data=H.DATA, out=H.CLOUD_OUT))
            st.code("\n".join(H.TRAIN_COMMANDS[where]), language="bash", wrap_lines=True)
    run, full = H.shipped_run(), H.FAST_FULL
    st.subheader(tr("homework.expect_title"))
    if run is not None:
        st.markdown(tr("homework.expect_short", epochs=epochs_text(run.epochs), batch=run.batch_size,
                       acc=f"{run.accuracy:.1f}", minutes=f"{run.seconds / 60:.0f}"))
    st.markdown(tr("homework.expect_full", epochs=f"{full.epochs:.0f}", acc=f"{full.accuracy:.2f}",
                   minutes=f"{full.seconds / 60:.0f}", target_epochs=H.EPOCHS,
                   estimate=f"{full.seconds_for(H.EPOCHS) / 60:.0f}", target=f"{H.TARGET:.0f}", aim=f"{H.AIM:.0f}"))
    st.subheader(tr("homework.resume_title"))
    st.markdown(tr("homework.resume_body"))
    st.code(H.RESUME_COMMAND, language="bash", wrap_lines=True)
    st.subheader(tr("homework.back_title"))
    st.markdown(tr("homework.back_body", out=H.OUT))
    st.code(H.EVALUATE_COMMAND, language="bash", wrap_lines=True)
    _link(EVALUATE, "homework.link_evaluate", icon=":material/fact_check:")
    _link(TRAINING_LAB, "homework.link_training_lab", icon=":material/model_training:")


def main() -> None:
    st.title(tr("homework.title"))
    st.markdown(tr("homework.intro"))
    _question(1)
    st.caption(tr("homework.q1_how"))
    _stride()
    _padding()
    _vgg()
    _question(2)
    st.markdown(tr("homework.q2_body"))
    _link(LAB, "homework.link_pooling", "pooling", icon=":material/grid_on:")
    st.markdown(tr("homework.q2_check", cases=len(POOL_CASES)))
    command_example("check_pooling")
    _question(3)
    st.markdown(tr("homework.q3_body"))
    _predict("resnet", trace(3, "A").params, "homework.q3_predict")
    _link(RESNET_CODE, "homework.link_resnet_code", icon=":material/code:")
    st.markdown(tr("homework.q3_check", size=INPUT_SIZE))
    command_example("check_resnet")
    st.markdown(tr("homework.q3_convert"))
    command_example("convert")
    _training()


main()
