"""Hand-written ResNet: the project's own CIFAR block and network as source code read from the running classes,
each note attached to its line, a trace of the network a student picks (shapes and parameters per layer and per
line), the check that the same code without its shortcuts is the plain net, and the commands that check a
student's own ResNet and convert its weights (with their output on the project's example). All computed in
resnet_viz; no code a user types is ever run."""

from __future__ import annotations

from ui.common import command_example, keep_valid, tr
from ui.resnet_code import plain_check

import pandas as pd
import streamlit as st

from resnet_viz.conv_lab.parse import format_number as fmt
from resnet_viz.inspect import resnet_code as R

KEY = "resnet_code"
SHORTCUTS = ("A", "B", "C", "none")
MARKS = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"


def _shape(shape: tuple[int, ...]) -> str:
    return " × ".join(map(str, shape))


def _name(depth: int, option: str | None) -> str:
    return tr("resnet_code.name_plain" if option is None else "resnet_code.name_resnet", depth=depth)


def _source(name: str) -> None:
    """One object's source with a numbered mark on every annotated line, then the notes in the same order."""
    lines = R.annotated(name)
    marked = [line for line in lines if line.note]
    text = "\n".join(f"{line.text}  # {MARKS[marked.index(line)]}" if line.note else line.text for line in lines)
    st.code(text, language="python", line_numbers=True)
    st.markdown("\n".join(f"- **{MARKS[i]}** {tr('resnet_code.line', line=line.number)} {tr(line.note)}"
                          for i, line in enumerate(marked) if line.note))


def _code() -> None:
    st.header(tr("resnet_code.code_title"))
    names = list(R.SHOWN)
    for tab, name in zip(st.tabs([tr(f"resnet_code.tab_{n}") for n in names]), names):
        with tab:
            st.caption(tr(f"resnet_code.about_{name}"))
            _source(name)


def _choice() -> tuple[int, str | None]:
    c1, c2 = st.columns(2)
    keep_valid(f"{KEY}_n", R.BLOCKS_PER_STAGE, 3)
    blocks = {n: tr("resnet_code.n_option", n=n, depth=6 * n + 2) for n in R.BLOCKS_PER_STAGE}
    n = c1.selectbox(tr("resnet_code.n_label"), list(blocks), key=f"{KEY}_n", format_func=blocks.__getitem__)
    keep_valid(f"{KEY}_shortcut", SHORTCUTS, "A")
    shortcuts = {s: tr(f"resnet_code.shortcut_{s}") for s in SHORTCUTS}
    shortcut = c2.radio(tr("resnet_code.shortcut_label"), list(shortcuts), key=f"{KEY}_shortcut", horizontal=True,
                        format_func=shortcuts.__getitem__)
    return int(n or 3), None if shortcut in (None, "none") else str(shortcut)


def _per_line(t: R.Trace) -> None:
    code = {name: R.source_text(name) for name in R.SHOWN}
    rows = [{tr("resnet_code.col_object"): tr(f"resnet_code.tab_{x.source}"), tr("resnet_code.col_line"): x.line,
             tr("resnet_code.col_code"): code[x.source][x.line - 1].strip(), tr("resnet_code.col_layers"): x.layers,
             tr("resnet_code.col_params"): x.params} for x in R.line_totals(t)]
    counts = {tr(f"resnet_code.col_{c}"): st.column_config.NumberColumn(format="localized") for c in ("params",)}
    st.dataframe(pd.DataFrame(rows), hide_index=True, column_config=counts)
    with st.expander(tr("resnet_code.layers_expander", count=len(t.rows))):
        st.dataframe(pd.DataFrame([{tr("resnet_code.col_layer"): r.name, tr("resnet_code.col_type"): r.type,
                                    tr("resnet_code.col_shape"): _shape(r.output_shape),
                                    tr("resnet_code.col_params"): r.params,
                                    tr("resnet_code.col_object"): tr(f"resnet_code.tab_{r.source}"),
                                    tr("resnet_code.col_line"): r.line} for r in t.rows]), hide_index=True,
                     column_config=counts)


def _trace() -> None:
    st.header(tr("resnet_code.trace_title"))
    st.markdown(tr("resnet_code.trace_intro", size=R.INPUT_SIZE))
    n, option = _choice()
    t = R.trace(n, option)
    plain = R.trace(n, None)
    c1, c2, c3 = st.columns(3)
    c1.metric(tr("resnet_code.metric_depth"), t.depth, help=tr("resnet_code.metric_depth_help", n=n))
    c2.metric(tr("resnet_code.metric_params", name=_name(t.depth, option)), fmt(t.params))
    c3.metric(tr("resnet_code.metric_params", name=_name(t.depth, None)), fmt(plain.params),
              delta=fmt(t.params - plain.params) if t.params != plain.params else None, delta_color="off")
    stages = {r.name.split(".")[0]: r.output_shape for r in t.rows if r.name.startswith("layer")}
    st.markdown(tr("resnet_code.stage_shapes", size=R.INPUT_SIZE, s1=_shape(stages["layer1"]),
                   s2=_shape(stages["layer2"]), s3=_shape(stages["layer3"]), out=_shape(t.rows[-1].output_shape)))
    st.subheader(tr("resnet_code.per_line_title"))
    _per_line(t)
    _plain(n, option or "A")


def _plain(n: int, option: str) -> None:
    st.header(tr("resnet_code.plain_title"))
    check = plain_check(n, option)
    depth = 6 * n + 2
    line = R.find_line("block", "self.shortcut = None")
    names = dict(resnet=_name(depth, option), plain=_name(depth, None), option=option, line=line)
    st.markdown(tr("resnet_code.plain_intro", **names))
    same = check.same_parameters and check.same_output
    st.markdown(tr("resnet_code.plain_same" if same else "resnet_code.plain_differs", **names,
                   stripped=fmt(check.stripped_params), plain_params=fmt(check.plain_params)))
    key = "resnet_code.shortcut_free" if check.shortcut_params == 0 else "resnet_code.shortcut_costs"
    st.markdown(tr(key, **names, extra=fmt(check.shortcut_params), residual=fmt(check.residual_params)))
    if check.residual_differs:
        st.markdown(tr("resnet_code.residual_differs", **names))


def _yours() -> None:
    """The student's own ResNet: the commands that check it against the zoo and convert its weights."""
    st.header(tr("resnet_code.yours_title"))
    st.markdown(tr("resnet_code.yours_intro", size=R.INPUT_SIZE))
    command_example("check_resnet")
    st.markdown(tr("resnet_code.yours_convert"))
    command_example("convert")


def main() -> None:
    st.title(tr("resnet_code.title"))
    st.markdown(tr("resnet_code.intro"))
    _code()
    _trace()
    _yours()


main()
