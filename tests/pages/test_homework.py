"""The Homework page: question 1's numbers (resnet_viz.conv_lab.homework, from resnet_viz.conv_lab.calc) checked against
torch, the conv lab's deep-link presets, the training commands against the real CLI, and the page in both
languages."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from resnet_viz.cli import build_parser
from resnet_viz.conv_lab import calc
from resnet_viz.conv_lab import homework as H
from resnet_viz.errors import InputError
from resnet_viz.i18n import catalogue, t
from resnet_viz.student.demo import example
from tests.conftest import ROOT, app_page, assert_no_exception
from ui.common import open_tab_key
from ui.conv_lab import TAB_NAMES, TABS

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _reads(size: int, kernel: int, stride: int, padding: int) -> torch.Tensor:
    """How many windows of a conv read each pixel of a size x size image (torch's own unfold)."""
    image = torch.arange(size * size, dtype=torch.float64).view(1, 1, size, size) + 1
    patches = F.unfold(F.pad(image, (padding,) * 4), kernel, stride=stride)
    return torch.bincount(patches.flatten().long(), minlength=size * size + 1)[1:].view(size, size)


def test_stride_answer():
    a = H.stride_answer()
    assert a.gaps.output_shape == (16, 8, 8) and a.gaps.h.stride - a.gaps.h.effective_kernel == 1
    reads = _reads(32, 3, 4, 0)
    assert a.covered == int((reads[0] > 0).sum()) == 24
    assert a.unseen_share == pytest.approx(100 * float((reads == 0).double().mean())) == 43.75
    assert (a.stride_one.h.out, a.stride_two.h.out, a.cost_ratio) == (32, 16, 4.0)
    assert a.stride_one.macs == 32 * 32 * 16 * 9 * 16 and a.stride_two.macs == 16 * 16 * 16 * 9 * 16


def test_padding_answer():
    a = H.padding_answer()
    x = torch.zeros(1, 1, 32, 32)
    for _ in range(H.VALID_LAYERS):
        x = F.conv2d(x, torch.ones(1, 1, 3, 3))
    assert [r.size_out for r in a.valid_chain] == list(range(30, 11, -2))
    assert x.shape[-1] == 12 == a.valid_chain[-1].size_out
    assert a.one_valid.h.out == 30 and a.same_chain[-1].size_out == 32
    calc.receptive_field_chain([calc.Layer("conv", 3, 1, 0)] * a.max_valid_layers, 32)
    with pytest.raises(InputError):
        calc.receptive_field_chain([calc.Layer("conv", 3, 1, 0)] * (a.max_valid_layers + 1), 32)
    reads = _reads(32, 3, 1, 0)
    assert (a.corner_uses, a.centre_uses) == (int(reads[0, 0]), int(reads[16, 16])) == (1, 9)


def test_vgg_answer():
    a = H.vgg_answer()
    assert (a.two.stacked_factor, a.two.single_factor, a.two.receptive_field, a.two.nonlinearities) == (18, 25, 5, 2)
    assert (a.three.stacked_factor, a.three.single_factor, a.three.receptive_field) == (27, 49, 7)
    assert f"{a.extra_percent:.0f}" == "81"  # VGG, section 2.3: "81% more"
    assert a.three.stacked_weights == 27 * 64 * 64 and a.three.single_weights == 49 * 64 * 64


def test_training_commands_are_real_command_lines():
    parser = build_parser()
    commands = [c for cs in H.TRAIN_COMMANDS.values() for c in cs] + [H.RESUME_COMMAND, H.EVALUATE_COMMAND]
    for command in commands:
        assert command.startswith("python -m resnet_viz ")
        args = parser.parse_args(command.split()[3:])
        if args.command == "train":
            assert args.data == H.DATA and args.recipe == "fast"
    first = parser.parse_args(H.TRAIN_COMMANDS["laptop"][0].split()[3:])
    assert (first.model, first.epochs) == ("resnet20", H.EPOCHS)
    assert parser.parse_args(H.RESUME_COMMAND.split()[3:]).resume
    assert parser.parse_args(H.TRAIN_COMMANDS["cloud"][0].split()[3:]).out == H.CLOUD_OUT


def test_measured_numbers_are_the_projects():
    readme = (ROOT / "README.md").read_text()
    full = H.FAST_FULL
    assert f"{full.accuracy:.2f} %" in readme and f"{full.seconds:,.0f} s" in readme
    assert re.search(rf"`fast` is {full.epochs:.0f} epochs, batch {full.batch_size}", readme)
    run = H.shipped_run("resnet20")
    assert run is not None and run.accuracy == pytest.approx(86.87) and run.epochs == 30  # campaign stage 1
    assert full.seconds_for(10) == pytest.approx(5333 / 3)
    assert H.shipped_run("no_such_model") is None


def _lab(preset: str):
    at = app_page("pages/conv_lab.py")
    at.query_params["preset"] = preset
    at.run()
    assert_no_exception(at)
    assert "preset" not in at.query_params  # applied once
    return at


def test_deep_links_fill_in_the_conv_lab():
    at = _lab("stride_gaps")
    assert at.number_input(key="conv_lab_stride").value == 4 and at.number_input(key="conv_lab_k").value == 3
    assert at.number_input(key="conv_lab_pad").value == 0
    assert at.metric[0].value == "16 x 8 x 8"
    at.query_params["preset"] = "valid_3x3"
    at.run()
    assert at.radio(key="conv_lab_pad_mode").value == "valid" and at.metric[0].value == "16 x 30 x 30"
    at.query_params["preset"] = "vgg_three"
    at.run()
    assert at.session_state[open_tab_key(TABS)] == "tab_receptive"  # the preset's tab opened
    assert [at.number_input(key=f"conv_lab_vgg_{k}").value for k in "knc"] == [3, 3, 64]
    assert at.session_state["conv_lab_stride"] == 1  # the calculator, closed, keeps the last preset
    at.query_params["preset"] = "pooling"  # opens the pooling exercise's tab, sets nothing
    at.run()
    assert_no_exception(at)
    assert at.session_state[open_tab_key(TABS)] == H.TAB_LINKS["pooling"]
    assert set(H.TAB_LINKS.values()) <= set(TAB_NAMES)  # every homework link opens one of the lab's tabs
    assert all(f"conv_lab.{tab}" in catalogue(lang) for tab in TAB_NAMES for lang in ("en", "zh"))
    at.query_params["preset"] = "no_such_preset"
    at.run()
    assert_no_exception(at)
    assert not at.info  # nothing opened from the homework


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_preset_opened_from_a_question_says_so_once(lang):
    at = app_page("pages/conv_lab.py", lang=lang)
    at.query_params["preset"] = "stride_one"
    at.run()
    note = t("conv_lab.from_homework", lang, question=t("homework.stride_title", lang))
    assert note in [i.value for i in at.info]
    at.run()  # the student's own run: the numbers are theirs now
    assert note not in [i.value for i in at.info]
    at.query_params["preset"] = "pooling"
    at.run()
    assert t("conv_lab.from_homework_tab", lang, question=t("homework.q2_title", lang)) in [i.value for i in at.info]
    assert set(H.LINK_QUESTIONS) == set(H.PRESETS) | set(H.TAB_LINKS)  # every link of the homework page


def test_the_install_command_is_the_readmes():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert H.INSTALL in readme and "<repository URL>" not in H.INSTALL


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_homework_page(lang):
    at = app_page("pages/homework.py", lang=lang)
    assert_no_exception(at)
    assert at.title[0].value == t("homework.title", lang)
    assert len(at.expander) == 3
    quotes = " ".join(m.value for m in at.markdown)
    for q in (1, 2, 3, 4):
        assert t(f"homework.q{q}_question", lang) in quotes
    links = {(link.proto.page, link.proto.query_string) for link in at.get("page_link")}
    for preset in ("stride_gaps", "stride_one", "valid_3x3", "vgg_two", "vgg_three", "pooling"):
        assert ("conv_lab", f"preset={preset}") in links
    assert any(page == "evaluate" for page, _ in links)
    # homework 2 and 3: check pooling, check resnet and convert, each with what it prints (resnet_viz.student.demo)
    shown = [c.value for c in at.code if c.language in ("bash", "text")]
    for which in ("check_pooling", "check_resnet", "convert"):
        command, output = example(which, lang)
        assert shown[shown.index(command) + 1] == output
    at.number_input(key="homework_stride").set_value(8).run()
    assert t("homework.right", lang, value="8") in [s.value for s in at.success]
    at.number_input(key="homework_vgg").set_value(25).run()
    assert t("homework.wrong", lang, value="25") in [w.value for w in at.warning]
    at.number_input(key="homework_resnet").set_value(269722).run()
    assert t("homework.right", lang, value="269,722") in [s.value for s in at.success]
