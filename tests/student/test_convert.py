"""convert (resnet_viz.student.convert): a hand-written ResNet-20's weights, saved the ways students save them,
become a checkpoint of the zoo's ResNet-20 that computes the same; every refusal says why and writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from resnet_viz.checkpoints.read import load_checkpoint, read_sidecar
from resnet_viz.errors import LoadError, VizError
from resnet_viz.models.registry import CIFAR10_MEAN
from resnet_viz.student.code import InProcess, Target
from resnet_viz.student.convert import NoTwin, convert, report
from resnet_viz.student.demo import RESNET
from resnet_viz.student.examples.my_resnet import MyResNet
from tests.conftest import ROOT, logits_close
from tests.corpus import MARKER, CodeRunner
from tests.examples.bad_code import WithBiases
from tests.examples.wrong_resnets import four_stages

pytestmark = pytest.mark.usefixtures("one_torch_thread")
EXAMPLES = ROOT / "tests" / "examples"


def trained(make=MyResNet, seed: int = 1) -> nn.Module:
    """A network as training leaves it: batch norms with statistics and scales far from a fresh one's."""
    torch.manual_seed(seed)
    model = make()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.2)
            m.num_batches_tracked.fill_(7820)  # ten epochs of CIFAR-10 at batch 64
    return model.eval()


def _logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(x)


def _saved(tmp_path: Path, name: str, obj, **kw) -> Path:
    path = tmp_path / name
    torch.save(obj, path, **kw)
    return path


# The ways a student's weights reach the command: the state dict itself, in PyTorch's zip or legacy format, a
# training checkpoint around it (kuangliu/pytorch-cifar's {'net', 'acc', 'epoch'}) with nn.DataParallel's prefix,
# and safetensors.
def _formats(tmp_path: Path, model: nn.Module) -> dict[str, Path]:
    state = model.state_dict()
    wrapped = {"net": {f"module.{k}": v for k, v in state.items()}, "acc": 91.2, "epoch": 199}
    safetensors = tmp_path / "my_resnet.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, safetensors)
    return {"state dict": _saved(tmp_path, "my_resnet.pth", state),
            "legacy format": _saved(tmp_path, "legacy.pth", state, _use_new_zipfile_serialization=False),
            "DataParallel checkpoint": _saved(tmp_path, "ckpt.pth", wrapped), "safetensors": safetensors}


def test_weights_in_every_format_become_a_zoo_checkpoint_with_the_same_logits(tmp_path):
    model = trained()
    x = torch.randn(5, 3, 32, 32)
    for fmt, weights in _formats(tmp_path, model).items():
        out = tmp_path / "out" / f"{weights.stem}-converted.safetensors"
        done, path = convert(RESNET, weights, out, InProcess())
        assert path == out and done.comparison.same, fmt
        loaded = load_checkpoint(path)
        assert (loaded.name, loaded.shortcut, loaded.source) == ("resnet20", "A", "checkpoint"), fmt
        assert logits_close(_logits(loaded.model, x), _logits(model, x)), fmt
        assert loaded.mean == CIFAR10_MEAN and loaded.meta["dataset"] == "CIFAR-10"
        side = read_sidecar(path)["converted_from"]
        assert side["code"] == str(RESNET) and side["weights"] == weights.name


def test_convolution_biases_are_folded_exactly_and_said(tmp_path):
    model = trained(WithBiases)
    weights = _saved(tmp_path, "biases.pth", model.state_dict())
    done, path = convert(Target(EXAMPLES / "bad_code.py", "WithBiases"), weights, tmp_path / "b", InProcess(),
                         mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    assert len(done.folded) == 19 and done.folded[0] == "stem.0" and path.name == "b.safetensors"
    x = torch.randn(4, 3, 32, 32)
    loaded = load_checkpoint(path)
    assert logits_close(_logits(loaded.model, x), _logits(model, x))
    assert loaded.mean == (0.5, 0.5, 0.5) and loaded.std == (0.25, 0.25, 0.25)
    lines = report(done, path, "bad_code.py:WithBiases", "biases.pth", "zh")
    assert any(line.startswith("19 个卷积的偏置并入了其后的 BN") for line in lines)


def _refused(tmp_path: Path, target: Target, weights: Path, key: str) -> VizError:
    out = tmp_path / "out" / "never.safetensors"
    with pytest.raises(VizError) as info:
        convert(target, weights, out, InProcess())
    assert info.value.key == key, info.value.message("en")
    assert not out.parent.exists()  # nothing written
    return info.value


def test_refusals_say_why_and_write_nothing(tmp_path):
    state = trained().state_dict()
    nan = dict(state, **{"body.3.c1.weight": state["body.3.c1.weight"].clone().fill_(float("nan"))})
    exc = _refused(tmp_path, RESNET, _saved(tmp_path, "nan.pth", nan), "load.nonfinite")
    assert "body.3.c1.weight" in exc.message("en")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(bytes(range(256)) * (60 * 4096))  # 60 MB that is no checkpoint
    _refused(tmp_path, RESNET, junk, "load.corrupt")
    exc = _refused(tmp_path, RESNET, _saved(tmp_path, "other.pth", four_stages().state_dict()), "load.mismatch")
    assert "MyResNet" in exc.message("en") and "body.9.c1.weight" in exc.message("en")
    evil = _saved(tmp_path, "evil.pth", {"state_dict": state, "x": CodeRunner(tmp_path / MARKER)})
    _refused(tmp_path, RESNET, evil, "load.unsafe_pickle")
    assert not (tmp_path / MARKER).exists()
    text = tmp_path / "notes.txt"
    text.write_text("not weights")
    _refused(tmp_path, RESNET, text, "load.bad_suffix")


def test_a_structure_no_zoo_net_has_names_its_first_difference(tmp_path):
    weights = _saved(tmp_path, "mine.pth", trained().state_dict())
    missing = Target(EXAMPLES / "wrong_resnets.py", "missing_shortcut")
    exc = _refused(tmp_path, missing, weights, "convert.no_twin")
    assert isinstance(exc, NoTwin)
    assert "block 2.1 (body.3) has no shortcut; ResNet-20, option A has one there" in exc.message("en")
    assert "块 2.1（body.3）没有快捷连接；ResNet-20 方案 A 在这里有" in exc.message("zh")
    relu = Target(EXAMPLES / "bad_code.py", "ReluBeforeAdd")
    assert "ResNet" not in _refused(tmp_path, relu, weights, "convert.logits_differ").params["target"]


def test_the_output_never_overwrites_the_weights(tmp_path):
    weights = tmp_path / "mine.safetensors"
    save_file({k: v.contiguous() for k, v in trained().state_dict().items()}, weights)
    with pytest.raises(LoadError) as info:
        convert(RESNET, weights, tmp_path / "mine", InProcess())
    assert info.value.key == "convert.same_file"

