"""check resnet (resnet_viz.student.resnet): a hand-written ResNet-20 with its own names passes, wrong ones are told
each difference, a forward that computes something else with the same layers is caught; the report in both
languages."""

from __future__ import annotations

import pytest

from resnet_viz.errors import InputError
from resnet_viz.i18n import t
from resnet_viz.student.code import InProcess, Target
from resnet_viz.student.demo import RESNET
from resnet_viz.student.resnet import IMAGES, check_resnet, report
from tests.conftest import ROOT

pytestmark = pytest.mark.usefixtures("one_torch_thread")
EXAMPLES = ROOT / "tests" / "examples"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_hand_written_resnet20_passes(lang):
    check = check_resnet(RESNET, InProcess())
    assert check.passed and (check.match.name, check.match.option) == ("resnet20", "A")
    assert check.network.skeleton.params == check.match.skeleton.params == 269_722
    assert check.comparison is not None and check.comparison.largest <= check.comparison.allowed
    lines = report(check, lang)
    assert lines[1] == t("check.closest_same", lang, zoo=check.match.label(lang), params="269,722")
    kinds = {k: t(f"check.kind_{k}", lang) for k in ("identity", "pad")}
    assert f"body.3 {kinds['pad']} · body.4 {kinds['identity']}" in lines[5]
    assert "32 × 16 × 16" in lines[5] and "64 × 8 × 8" in lines[6]
    assert lines[-2].startswith(t("check.same_yes", lang, zoo=check.match.label(lang), images=IMAGES,
                                  largest="", allowed="")[:12])


@pytest.mark.parametrize("name,first", [
    ("four_stages", "the network has 4 stages; ResNet-20, option A has 3."),
    ("missing_shortcut", "block 2.1 (body.3) has no shortcut; ResNet-20, option A has one there: zero padding "
                         "(option A)."),
])
def test_wrong_resnets_are_told_each_difference(name, first):
    check = check_resnet(Target(EXAMPLES / "wrong_resnets.py", name), InProcess())
    assert not check.passed and check.comparison is None
    lines = report(check, "en")
    assert lines[2] == t("check.bullet", "en", text=first)
    assert lines[-1] == t("check.no_convert", "en")


def test_the_same_layers_computing_something_else_are_caught():
    check = check_resnet(Target(EXAMPLES / "bad_code.py", "ReluBeforeAdd"), InProcess())
    assert check.match.exact and not check.comparison.same and not check.passed
    assert report(check, "en")[-1].startswith("Same computation: no.")


def test_a_forward_that_fails_or_returns_something_else_is_said():
    with pytest.raises(InputError) as info:
        check_resnet(Target(EXAMPLES / "bad_code.py", "CrashesInForward"), InProcess())
    assert info.value.key == "check.raised" and info.value.params["what"] == "CrashesInForward.forward"
    assert info.value.params["where"].startswith("bad_code.py:") and "self.head(x)" in info.value.params["where"]
    with pytest.raises(InputError) as info:
        check_resnet(Target(EXAMPLES / "bad_code.py", "TupleOutput"), InProcess())
    assert info.value.key == "check.bad_output"
