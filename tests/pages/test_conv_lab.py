"""The Conv & pooling lab page in AppTest: both languages, the paper's numbers, impossible settings shown as
messages (never tracebacks), and each tab's interactive paths. Only the open tab runs (ui.common.lazy_tabs): a test
opens a tab as a click on it does."""

from __future__ import annotations

import pytest

from resnet_viz.i18n import t
from tests.conftest import app_page, assert_no_exception
from ui.common import open_tab_key
from ui.conv_lab import TABS

PAGE = "pages/conv_lab.py"
TAB = open_tab_key(TABS)  # the open tab, remembered by name


def lab(tab: str = "tab_calculator", lang: str = "en", **session):
    """The lab with ``tab`` open."""
    at = app_page(PAGE, lang=lang, **{TAB: tab}, **session)
    assert_no_exception(at)
    return at


def _open(at, tab: str):
    """What a click on a tab does: its name remembered, the page rerun."""
    at.session_state[TAB] = tab
    at.run()
    assert_no_exception(at)
    return at


def _texts(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [m.value for m in at.success] + [m.value for m in at.error])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_renders_with_the_resnet_stem(lang):
    at = app_page(PAGE, lang=lang)  # the calculator opens first
    assert_no_exception(at)
    assert at.title[0].value == t("conv_lab.title", lang)
    assert at.tabs[0].label == t("conv_lab.tab_calculator", lang) and len(at.tabs) == 8
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[t("conv_lab.output_shape", lang)] == "64 x 112 x 112"
    assert metrics[t("conv_lab.params", lang)] == "9,408"
    assert not at.error
    assert len(at.success) == 1 and not at.get("plotly_chart")  # torch agrees; the other tabs did not run
    assert "= 112" in at.latex[0].value

    _open(at, "tab_why")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[t("conv_lab.why_fc_weights", lang)] == "150,528,000"
    assert metrics[t("conv_lab.why_conv_weights", lang)] == "1,728"
    _open(at, "tab_receptive")
    assert t("conv_lab.vgg_result", lang, n=3, k=3, rf=7, stacked_factor=27, single_factor=49, c=64,
             stacked="110,592", single="200,704", relus=3) in _texts(at)
    for tab in ("tab_multichannel", "tab_pooling"):  # torch agrees on the multi-channel conv and the pooling
        assert len(_open(at, tab).success) == 1 and not at.error


def test_a_tab_keeps_its_settings_while_another_is_open():
    """Closed tabs do not run, yet what the student set or typed there is there again when it is reopened."""
    at = lab()
    at.number_input(key="conv_lab_h").set_value(100).run()
    assert {m.label: m.value for m in at.metric}["Output (C x H x W)"] == "64 x 50 x 112"
    _open(at, "tab_pooling")
    assert not any(w.key == "conv_lab_h" for w in at.number_input)
    _open(at, "tab_calculator")
    assert at.number_input(key="conv_lab_h").value == 100
    assert {m.label: m.value for m in at.metric}["Output (C x H x W)"] == "64 x 50 x 112"

    from resnet_viz.conv_lab.pool_lesson import pool_exercise

    _open(at, "tab_exercise")
    right = pool_exercise(4, 1).max_out[0, 0]
    at.session_state["conv_lab_ex_answers_4_1_max"] = {"edited_rows": {0: {"1": f"{right:g}"}}}
    at.run()
    score = t("conv_lab.ex_score", "en", right=1, total=4, wrong=0, empty=3)
    assert score in _texts(at)
    _open(at, "tab_shift")
    assert score not in _texts(at)
    _open(at, "tab_exercise")  # a data editor's typed cells, which Streamlit itself does not keep
    assert score in _texts(at)


def test_impossible_settings_show_messages_and_the_page_keeps_working():
    at = lab()
    at.number_input(key="conv_lab_pad").set_value(0)
    at.number_input(key="conv_lab_h").set_value(4).run()
    assert_no_exception(at)
    assert [e.value for e in at.error] == [t("calc.error_output_empty", "en", axis="H", out=-1, kernel=7, padded=4)]
    assert len(_open(at, "tab_pooling").success) == 1  # the other tabs still work
    _open(at, "tab_calculator")

    at.number_input(key="conv_lab_h").set_value(224)
    at.number_input(key="conv_lab_groups").set_value(2).run()
    assert_no_exception(at)
    assert "divisible by groups (2)" in at.error[0].value

    at.number_input(key="conv_lab_groups").set_value(1)
    at.radio(key="conv_lab_pad_mode").set_value("same").run()
    assert_no_exception(at)
    assert at.error[0].value.startswith('"Same" padding only exists for stride 1')

    at.number_input(key="conv_lab_stride").set_value(1).run()
    assert_no_exception(at)
    assert not at.error
    assert {m.label: m.value for m in at.metric}["Output (C x H x W)"] == "64 x 224 x 224"

    # Pooling padding above half the kernel, and a sliding-window input smaller than the kernel.
    _open(at, "tab_pooling").number_input(key="conv_lab_pool_p").set_value(2).run()
    assert [e.value for e in at.error] == [t("calc.error_pool_padding", "en", padding=2, kernel=2)]
    _open(at, "tab_sliding").selectbox(key="conv_lab_in_source").set_value("random").run()
    at.number_input(key="conv_lab_in_rows").set_value(1).run()
    assert_no_exception(at)
    assert [e.value for e in at.error] == [t("calc.error_output_empty", "en", axis="H", out=-1, kernel=3, padded=1)]


def test_sliding_steps_and_receptive_field_from_the_zoo():
    at = lab("tab_sliding", lang="zh")
    at.slider(key="conv_lab_step").set_value(5).run()
    assert_no_exception(at)
    # Vertical edge with Sobel x: step 5 is output row 2, column 1, which sits on the flat bright part.
    assert t("conv_lab.step_sum", "zh", step=5, steps=16, row=2, col=1,
             terms=" + ".join(["(10)", "(0)", "(-10)", "(20)", "(0)", "(-20)", "(10)", "(0)", "(-10)"]),
             total="0") in _texts(at)

    at.toggle(key="conv_lab_play").set_value(True).run()
    assert_no_exception(at)
    assert any(m.value.startswith("第 6 / 16 步") for m in at.markdown)  # playing advanced one step
    at.toggle(key="conv_lab_play").set_value(False).run()

    _open(at, "tab_receptive").radio(key="conv_lab_rf_source").set_value("zoo").run()
    at.selectbox(key="conv_lab_rf_until_resnet34").set_value("conv1").run()
    assert_no_exception(at)
    assert t("conv_lab.rf_summary", "zh", size=224, out=56, rf=11, jump=4, layers=2) in _texts(at)

    at.radio(key="conv_lab_rf_source").set_value("custom").run()
    assert_no_exception(at)
    assert t("conv_lab.rf_summary", "zh", size=224, out=56, rf=19, jump=4, layers=3) in _texts(at)


def test_typed_grids_and_kernels():
    at = lab("tab_pooling")
    at.selectbox(key="conv_lab_pool_in_source").set_value("custom").run()
    assert_no_exception(at)
    assert not at.error and len(at.success) == 1
    _open(at, "tab_sliding")
    at.selectbox(key="conv_lab_kernel").set_value("custom")
    at.selectbox(key="conv_lab_in_source").set_value("custom").run()
    assert_no_exception(at)
    assert not at.error
    # The typed kernel starts as Sobel x on the vertical edge: the same output as the preset.
    shape = t("conv_lab.sliding_shape", "en", h=6, w=6, kh=3, kw=3, oh=4, ow=4, steps=16)
    assert shape in [c.value for c in at.caption]
    at.number_input(key="conv_lab_kernel_edit_rows").set_value(5)
    at.number_input(key="conv_lab_in_edit_cols").set_value(2).run()
    assert_no_exception(at)
    assert [e.value for e in at.error] == [t("calc.error_output_empty", "en", axis="W", out=0, kernel=3, padded=2)]


def test_pooling_ceil_mode_rule_on_the_page():
    at = lab("tab_pooling", conv_lab_pool_in_source="random", conv_lab_pool_p=1, conv_lab_pool_ceil=True)
    at.number_input(key="conv_lab_pool_in_rows").set_value(5)
    at.number_input(key="conv_lab_pool_in_cols").set_value(5).run()
    assert_no_exception(at)
    assert t("conv_lab.pool_ceil_rule", "en") in [i.value for i in at.info]
    assert any("= 4 - 1 = 3" in x.value for x in at.latex)
    assert t("conv_lab.pool_torch_check", "en") in [s.value for s in at.success]


def test_stride_zero_and_other_impossible_numbers_are_named_not_ignored():
    """The widgets do not clamp: a typed 0 or negative value reaches the lab, whose message names the field."""
    at = lab()
    at.number_input(key="conv_lab_stride").set_value(0).run()
    assert_no_exception(at)
    assert [e.value for e in at.error] == [t("calc.error_at_least", "en", name="S", minimum=1, value=0)]
    assert not any(m.label == "Output (C x H x W)" for m in at.metric)  # no result left from the last valid stride

    at.number_input(key="conv_lab_stride").set_value(2)
    at.number_input(key="conv_lab_pad").set_value(-1).run()
    assert [e.value for e in at.error] == [t("calc.error_at_least", "en", name="P", minimum=0, value=-1)]
    for tab, key, name, value in (("tab_sliding", "conv_lab_sl_stride", "S", 0),
                                  ("tab_pooling", "conv_lab_pool_s", "S", -3), ("tab_why", "conv_lab_why_k", "K", 0)):
        _open(at, tab).number_input(key=key).set_value(value).run()
        assert_no_exception(at)
        assert [e.value for e in at.error] == [t("calc.error_at_least", "en", name=name, minimum=1, value=value)]


# --- the lesson tabs: pooling by hand, several channels, the one-pixel shift, why pool ------------------

def test_pooling_exercise_checks_each_cell():
    from resnet_viz.conv_lab.pool_lesson import pool_exercise

    lang = "en"
    at = lab("tab_exercise", lang=lang)
    expected = pool_exercise(4, 1).max_out
    assert t("conv_lab.ex_score", lang, right=0, total=4, wrong=0, empty=4) in _texts(at)
    editor = "conv_lab_ex_answers_4_1_max"
    typed = {"edited_rows": {0: {"1": f"{expected[0, 0]:g}", "2": f"{expected[0, 1] + 1:g}"}}}
    at.session_state[editor] = typed
    at.run()
    assert_no_exception(at)
    assert t("conv_lab.ex_score", lang, right=1, total=4, wrong=1, empty=2) in _texts(at)
    rows = {i: {str(j + 1): f"{expected[i, j]:g}" for j in range(2)} for i in range(2)}
    at.session_state[editor] = {"edited_rows": rows}
    at.run()
    assert t("conv_lab.ex_done", lang, total=4, function="max_pool2d") in _texts(at)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_lesson_tabs_in_both_languages(lang):
    """Pooling by hand (empty answers, the code in the page's language), several channels, the shift, why pool."""
    from resnet_viz.conv_lab.handwritten import source

    at = lab("tab_exercise", lang=lang)
    assert t("conv_lab.ex_score", lang, right=0, total=4, wrong=0, empty=4) in _texts(at)
    assert source("pooling", lang).strip() in [c.value.strip() for c in at.code]
    _open(at, "tab_multichannel")
    assert t("conv_lab.mc_torch_check", lang, h=3, w=3) in _texts(at)
    assert any("C_{in}-1=2" in x.value and "O_{0,0} =" in x.value for x in at.latex)
    assert t("conv_lab.mc_notation", lang) in [c.value for c in at.caption]
    _open(at, "tab_shift")
    texts = _texts(at)
    assert t("conv_lab.shift_notes", lang) in [c.value for c in at.caption]  # "invariant" in the notes, said kindly
    assert t("conv_lab.shift_equivariant", lang, dy=0, dx=1, cells=64, changed=8) in texts
    assert t("conv_lab.shift_pool_same", lang, unchanged=13, cells=16) in texts
    assert t("conv_lab.shift_gap_same", lang, before="2", after="2") in texts
    _open(at, "tab_pooling")
    why = next(d.value for d in at.table if t("conv_lab.why_pool_reason", lang) in d.value.columns)
    assert why.iloc[0, 1:].tolist() == ["65,536", "16,384"]
    assert why.iloc[:, 0].tolist() == [t(f"conv_lab.why_pool_{k}", lang)  # the lesson's four reasons
                                       for k in ("values", "macs", "invariance", "compress", "rf")]
    assert why.iloc[4, 2] == t("conv_lab.why_pool_rf_value", lang, rf=6)

    _open(at, "tab_multichannel").radio(key="conv_lab_mc_source").set_value("image")
    at.number_input(key="conv_lab_mc_stride").set_value(0).run()
    assert_no_exception(at)
    assert [e.value for e in at.error] == [t("calc.error_at_least", lang, name="S", minimum=1, value=0)]
    at.number_input(key="conv_lab_mc_stride").set_value(2).run()
    assert_no_exception(at)
    assert not at.error and t("conv_lab.mc_torch_check", lang, h=2, w=2) in _texts(at)
