"""A network's skeleton read by running it (resnet_viz.inspect.skeleton): the zoo's own nets, a hand-written ResNet
with its own names, the differences said one by one, and weights carried onto the zoo network by structure."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from resnet_viz.i18n import LANGUAGES
from resnet_viz.inspect import skeleton as S
from resnet_viz.models.registry import MODELS, build_model, count_params
from resnet_viz.student.examples.my_resnet import Block, MyResNet
from tests.conftest import ROOT, logits_close
from tests.examples.bad_code import WithBiases
from tests.examples.wrong_resnets import four_stages, missing_shortcut

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ZOO = [c for c in S.candidates() if c[0] != "resnet1202"]  # 1202 layers: seconds per trace


def _texts(match: S.Match, lang: str = "en") -> list[str]:
    return [d.text(lang, match.label(lang)) for d in match.differences]


@pytest.mark.parametrize("name,option", ZOO, ids=[f"{n}-{o}" for n, o in ZOO])
def test_every_zoo_net_is_its_own_closest_match(name, option):
    skeleton = S.zoo_skeleton(name, option, 10)
    spec = MODELS[name]
    n = (spec.depth - 2) // 6
    assert [len(s.blocks) for s in skeleton.stages] == [n, n, n]
    assert [s.output for s in skeleton.stages] == [(16, 32, 32), (32, 16, 16), (64, 8, 8)]
    assert skeleton.shortcut_option == option and skeleton.params == count_params(build_model(name, shortcut=option))
    match = S.closest(skeleton)
    assert (match.name, match.option, match.differences) == (name, option, ())


def test_shortcuts_of_the_three_options_and_the_plain_net():
    kinds = {o: [b.shortcut for b in S.zoo_skeleton("resnet20", o, 10).blocks] for o in ("A", "B", "C")}
    assert kinds["A"] == ["identity"] * 3 + ["pad", "identity", "identity"] * 2
    assert kinds["B"] == ["identity"] * 3 + ["projection", "identity", "identity"] * 2
    assert kinds["C"] == ["projection"] * 9
    assert [b.shortcut for b in S.zoo_skeleton("plain20", None, 10).blocks] == [None] * 9


def test_a_hand_written_resnet20_with_its_own_names():
    model = MyResNet().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    skeleton = S.trace(model)
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # as found
    assert [c.name for c in skeleton.stem] == ["stem.0"] and skeleton.stem[0].norm.prefix == "stem.1"
    assert [b.name for b in skeleton.blocks] == [f"body.{i}" for i in range(9)]
    assert [c.name for c in skeleton.blocks[3].main] == ["body.3.c1", "body.3.c2"]
    assert [h.name for h in skeleton.head] == ["head"] and skeleton.output == (10,)
    assert skeleton.shortcut_option == "A" and not (skeleton.unplaced or skeleton.shared or skeleton.unused)
    match = S.closest(skeleton)
    assert (match.name, match.option, match.exact) == ("resnet20", "A", True)


def test_a_stage_too_many_and_a_missing_shortcut_are_said_in_one_line_each():
    match = S.closest(S.trace(four_stages()))
    assert (match.name, match.option) == ("resnet20", "A")
    assert _texts(match) == ["the network has 4 stages; ResNet-20, option A has 3."]
    assert _texts(match, "zh") == ["网络有 4 个阶段；ResNet-20 方案 A 有 3 个。"]
    match = S.closest(S.trace(missing_shortcut()))
    assert (match.name, match.option) == ("resnet20", "A")
    assert _texts(match) == [f"block {s}.1 (body.{b}) has no shortcut; ResNet-20, option A has one there: zero padding "
                             "(option A)." for s, b in ((2, 3), (3, 6))]


def test_a_block_more_a_wider_stage_and_another_option():
    more = MyResNet(n=3)
    more.body = nn.Sequential(*more.body[:5], Block(32, 32), *more.body[5:])
    assert _texts(S.closest(S.trace(more))) == ["stage 2 has 4 blocks; in ResNet-20, option A it has 3."]
    wide = S.closest(S.trace(MyResNet(widths=(16, 48, 64))))
    assert _texts(wide)[0] == "stage 2 has 48 channels; in ResNet-20, option A it has 32."
    b = S.closest(S.trace(MyResNet()), option="B")
    assert (b.name, b.option) == ("resnet20", "B")
    assert _texts(b)[0] == ("the shortcut of block 2.1 (body.3) is zero padding (option A); in ResNet-20, option B it "
                            "is projection (1×1 convolution).")


def test_shared_weights_unused_parameters_and_missing_norms_are_named():
    model = MyResNet()
    model.body[1].c2 = model.body[1].c1  # the same convolution twice
    model.unused = nn.Linear(3, 3)
    model.body[4].b1 = nn.Identity()
    skeleton = S.trace(model)
    assert "body.1.c1.weight" in skeleton.shared and skeleton.unused == ("unused.weight", "unused.bias")
    texts = _texts(S.closest(skeleton))
    assert "convolution body.4.c1 has no batch norm after it; ResNet-20, option A has one after every convolution." \
        in texts
    assert any(x.startswith("the weight body.1.c1.weight is used by more than one layer") for x in texts)


@pytest.mark.parametrize("make", [MyResNet, WithBiases], ids=["plain", "with conv biases"])
def test_weights_carried_onto_the_zoo_net_give_the_same_logits(make):
    torch.manual_seed(3)
    model = make().eval()
    for m in model.modules():  # statistics far from a fresh norm's, so that a wrong mapping shows
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    skeleton = S.trace(model)
    match = S.closest(skeleton)
    zoo = build_model(match.name, shortcut=match.option).eval()
    zoo.load_state_dict(S.map_state(skeleton, model.state_dict(), match.skeleton))
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        assert logits_close(zoo(x), model(x))


def test_every_difference_sentence_exists_in_both_languages():
    from resnet_viz.i18n import has_key

    for what in ("stem_convs", "conv", "norm_missing", "norm_extra", "norm_eps", "conv_bias", "stem_pool",
                 "stem_no_pool", "stages", "stage_width", "stage_size", "stage_blocks", "block_convs",
                 "shortcut_missing", "shortcut_extra", "shortcut_kind", "head", "unplaced", "shared"):
        assert has_key(f"check.diff_{what}"), what
    for kind in (*S.SHORTCUT_KINDS, None):
        assert all(has_key(S.kind_key(kind)) for _ in LANGUAGES)


def test_zoo_skeletons_on_the_meta_device_load_neither_the_compiler_nor_torchvision():
    code = ("import sys; from resnet_viz.inspect.skeleton import zoo_skeleton; zoo_skeleton('resnet56', 'A', 10); "
            "zoo_skeleton('resnet20', 'B', 10); "
            "print(sorted(m for m in sys.modules if m.startswith(('torch._dynamo', 'torchvision'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300,
                         cwd=ROOT, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert out.stdout.strip() == "[]"
