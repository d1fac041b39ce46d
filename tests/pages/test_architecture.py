"""The Architecture page in AppTest: renders in both languages, reacts to its widgets, never crashes."""

from __future__ import annotations

import json

import pytest

import resnet_viz.inspect.architecture as summary_module
from tests.conftest import app_page, assert_no_exception
from ui.architecture import TABS
from ui.common import open_tab_key

TAB = open_tab_key(TABS)  # the open tab, remembered by name

PAGE = "pages/architecture.py"


@pytest.fixture(scope="module")
def page():
    at = app_page(PAGE)
    assert_no_exception(at)
    return at


def _text(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    return "\n".join(str(p) for p in parts)


def _open(at, tab: str):
    """What a click on a tab does: its name remembered, the page rerun (only the open tab runs)."""
    at.session_state[TAB] = tab
    at.run()
    assert_no_exception(at)
    return at


def test_renders_figure3_first_and_only_it(page):
    assert page.title[0].value == "Architecture explorer: the paper's Figure 3"
    assert not page.error
    assert len(page.get("plotly_chart")) == 1
    assert [page.selectbox(key=f"architecture_col_{i}").value for i in range(3)] == ["vgg19", "plain34", "resnet34"]
    tables = [t.value for t in page.table]
    assert any("conv3_1" in str(t.to_dict()) for t in tables)  # where the dimensions change
    text = _text(page)
    assert "4.09 / 7.80 / 11.51" not in text  # Table 1 is not computed until its tab is opened
    assert [tab.label for tab in page.tabs] == ["Figure 3", "Table 1", "Shortcut options (Table 3)",
                                                "Basic vs bottleneck (Figure 5)", "Every layer"]


def test_every_tab_when_opened():
    at = app_page(PAGE)
    assert "4.09 / 7.80 / 11.51" in _text(_open(at, "table1"))  # Table 1's V1.5 explanation
    assert not at.get("plotly_chart")  # Figure 3 is not drawn behind it
    assert "21,797,672" in _text(_open(at, "layers"))  # the every-layer tab: ResNet-34 totals
    assert _open(at, "blocks").number_input  # Figure 5's width and size
    assert _open(at, "options").table


def test_the_open_tab_survives_a_language_switch():
    at = _open(app_page(PAGE), "table1")
    at.session_state["lang"] = "zh"
    at.query_params["lang"] = "zh"
    at.run()
    assert_no_exception(at)
    assert at.session_state["architecture_tab"] == at.tabs[1].label != "Table 1"
    assert any("输出尺寸" in str(t.value.to_dict()) for t in at.table)  # Table 1, now in Chinese


def test_a_tab_keeps_its_choices_while_another_is_open():
    """Only the open tab runs, yet Figure 3's columns, Figure 5's width and the layer table's model are there again
    when their tabs are reopened."""
    at = app_page(PAGE)
    at.selectbox(key="architecture_col_0").set_value("resnet18")
    at.toggle(key="architecture_collapse").set_value(True).run()
    _open(at, "blocks").number_input(key="architecture_block_width").set_value(128).run()
    _open(at, "layers").selectbox(key="architecture_tbl_model").set_value("resnet50").run()
    _open(at, "figure3")
    assert at.selectbox(key="architecture_col_0").value == "resnet18" and at.toggle(key="architecture_collapse").value
    assert _open(at, "blocks").number_input(key="architecture_block_width").value == 128
    assert _open(at, "layers").selectbox(key="architecture_tbl_model").value == "resnet50"


def test_layer_details_follow_the_selection(page):
    pick = page.selectbox(key="architecture_detail")
    assert len(pick.options) == 24 + 36 + 36  # one choice per box of the three columns
    row = summary_module.summarize("resnet34").row("layer2.0.conv1").index
    pick.set_value(f"2:{row}")  # what a click on "3x3 conv, 128, /2" in the third column selects
    page.run()
    assert_no_exception(page)
    details = str(page.table[0].value.to_dict())
    assert "layer2.0.conv1" in details and "67 x 67 input pixels" in details
    assert "zero-padding shortcut (option A)" in details  # the paper's ResNet-34: option A by default


def test_figure3_draws_resnet34_with_option_a_as_the_paper_does(page):
    """The paper's Figure 3 and Table 2 use option A for ResNet-34: no extra parameters, so the same count as
    plain-34 (21.6 M), where torchvision's option B has 21.8 M."""
    assert page.radio(key="architecture_shortcut").value == "A"
    a, b = summary_module.summarize("resnet34", shortcut="A"), summary_module.summarize("resnet34", shortcut="B")
    assert a.params == summary_module.summarize("plain34").params == 21_623_848 and b.params == 21_797_672
    spec = page.get("plotly_chart")[0].proto.spec
    assert "21.8" not in spec and "21.6" in spec


def test_change_one_column_recomputes_only_that_column(monkeypatch):
    at = app_page(PAGE)
    calls = []
    real = summary_module.summarize

    def counting(name, **kwargs):
        calls.append(name)
        return real(name, **kwargs)

    monkeypatch.setattr(summary_module, "summarize", counting)
    at.selectbox(key="architecture_col_0").set_value("resnet152")
    at.toggle(key="architecture_collapse").set_value(True)
    at.run()
    assert_no_exception(at)
    assert calls == ["resnet152"]
    assert len(at.selectbox(key="architecture_detail").options) < 24 + 36 + 36


def test_a_cifar_resnet18_goes_in_a_column():
    at = app_page(PAGE)
    at.selectbox(key="architecture_col_2").set_value("resnet18_cifar").run()
    assert_no_exception(at)
    texts = [a.get("text").replace("<br>", " ")  # headings wrap to fit a phone
             for a in json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["annotations"]]
    assert "<b>18-layer residual (CIFAR-10), option A</b>" in texts  # the page's shortcut option, A by default
    assert {"output size: 32", "output size: 4"} <= set(texts)  # 32x32 through four stages, no max pool


def test_chinese_and_bad_inputs_show_messages():
    # Values go in before the first run: after AppTest.switch_page a rerun does not keep ?lang=zh.
    at = app_page(PAGE, lang="zh", architecture_tbl_model="vgg19", architecture_tbl_size=16,
                  architecture_opt_model="resnet56", **{TAB: "layers"})
    assert_no_exception(at)
    assert at.title[0].value == "网络结构浏览器：论文图 3"
    assert any("更大的输入尺寸" in e.value for e in at.error)  # VGG-19 cannot run on 16x16, said in Chinese
    assert "853,018" in str([t.value.to_dict() for t in _open(at, "options").table])  # ResNet-56, option A
    assert any("输出尺寸" in str(t.value.to_dict()) for t in _open(at, "table1").table)  # Table 1's header
