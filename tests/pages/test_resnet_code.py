"""The Hand-written ResNet page: the source shown is the running code, every note still finds its line, the trace's
shapes and parameter counts, the same code without shortcuts is the plain net, and the page in both languages."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch

from resnet_viz.i18n import catalogue, t
from resnet_viz.inspect import resnet_code as R
from resnet_viz.models.registry import build_model, count_params
from resnet_viz.student.demo import example
from tests.conftest import app_page, assert_no_exception

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_source_shown_is_the_running_code():
    for name, obj in R.SHOWN.items():
        text = "\n".join(R.source_text(name))
        assert text in Path(inspect.getsourcefile(obj)).read_text() and text.startswith(("class ", "def "))
        assert [line.text for line in R.annotated(name)] == list(R.source_text(name))


def test_every_note_finds_exactly_one_line_and_is_translated():
    assert R.unmatched() == []
    for name, notes in R.NOTES.items():
        lines = R.annotated(name)
        assert sum(1 for line in lines if line.note) == len(notes)
        for fragment, key in notes:
            line = lines[R.find_line(name, fragment) - 1]
            assert fragment in line.text and line.note == f"resnet_code.{key}"
            assert all(f"resnet_code.{key}" in catalogue(lang) for lang in ("en", "zh"))


def test_a_changed_line_breaks_the_notes_not_the_page(monkeypatch):
    changed = tuple(line.replace("return self.relu2(out)", "return out") for line in R.source_text("block"))
    original = R.source_text
    monkeypatch.setattr(R, "source_text", lambda name: changed if name == "block" else original(name))
    assert R.unmatched() == [("block", "return self.relu2(out)")]
    assert all(line.note != "resnet_code.note_relu_after" for line in R.annotated("block"))


def test_resnet20_option_a_has_plain20s_parameter_count():
    resnet, plain = R.trace(3, "A"), R.trace(3, None)
    assert resnet.params == plain.params == 269_722
    assert resnet.params == count_params(build_model("resnet20"))
    assert plain.params == count_params(build_model("plain20"))
    assert R.trace(3, "B").params == count_params(build_model("resnet20", shortcut="B")) == 269_722 + 2_752
    assert R.trace(18, "A").params == count_params(build_model("resnet110"))


@pytest.mark.parametrize("n, option", [(1, "A"), (3, "B"), (2, "C"), (3, None)])
def test_trace_gives_every_layer_a_line_and_the_papers_shapes(n, option):
    tr = R.trace(n, option)
    assert all(r.line is not None for r in tr.rows), [r.name for r in tr.rows if r.line is None]
    last = {r.name.split(".")[0]: r.output_shape for r in tr.rows}
    assert (last["conv1"], last["layer1"], last["layer2"], last["layer3"], last["linear"]) == \
        ((16, 32, 32), (16, 32, 32), (32, 16, 16), (64, 8, 8), (10,))
    totals = R.line_totals(tr)
    assert sum(x.params for x in totals) == tr.params and sum(x.layers for x in totals) == len(tr.rows)
    convs = [x for x in totals if R.source_text(x.source)[x.line - 1].strip().startswith("self.conv")]
    assert sum(x.layers for x in convs if x.source == "block") == 6 * n and tr.depth == 6 * n + 2
    code = {r.name: R.source_text(r.source)[r.line - 1] for r in tr.rows}
    assert "self.conv2 = nn.Conv2d(" in code["layer2.0.conv2"] and "self.linear" in code["linear"]


@pytest.mark.parametrize("option, extra", [("A", 0), ("B", 2_752)])
def test_removing_the_shortcuts_gives_the_plain_net(option, extra):
    check = R.plain_check(3, option)
    assert check.same_parameters and check.same_output and check.residual_differs
    assert check.plain_params == check.stripped_params == 269_722 and check.shortcut_params == extra


def test_plain_check_builds_its_own_models():
    before = torch.random.get_rng_state()
    R.plain_check.__wrapped__(1, "A", seed=5)
    assert torch.equal(before, torch.random.get_rng_state())  # the process's random state is left alone


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page(lang):
    at = app_page("pages/resnet_code.py", lang=lang)
    assert_no_exception(at)
    assert at.title[0].value == t("resnet_code.title", lang)
    python = [c for c in at.code if c.language == "python"]
    assert len(python) == len(R.SHOWN) and "class CifarBlock(nn.Module):" in python[0].value
    assert "out = out + self.shortcut(x)  # ⑪" in python[0].value
    # the student's own: check resnet and convert, each with what it prints, computed by resnet_viz.student.demo
    shown = [c.value for c in at.code if c.language in ("bash", "text")]
    assert shown == [*example("check_resnet", lang), *example("convert", lang)]
    assert [m.value for m in at.metric] == ["20", "269,722", "269,722"]
    at.selectbox(key="resnet_code_n").set_value(9).run()
    at.radio(key="resnet_code_shortcut").set_value("B").run()
    assert_no_exception(at)
    assert [m.value for m in at.metric] == ["56", "855,770", "853,018"]
    texts = " ".join(m.value for m in at.markdown)
    assert t("resnet_code.shortcut_costs", lang, option="B", extra="2,752", resnet="ResNet-56", residual="855,770",
             plain=t("resnet_code.name_plain", lang, depth=56)) in texts
