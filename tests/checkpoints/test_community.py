"""Community CIFAR files in the exact format their code writes them (tests/community_nets.py holds that code, written
again from the repositories): akamaster's released .th files, chenyaofo's torch.hub files, kuangliu's
checkpoint/ckpt.pth and torchvision's resnet18 adapted to CIFAR. Each is recognised by the loader alone and gives the
original code's outputs, with the original code's preprocessing; and every door takes it: the CLI's checkpoint,
evaluate, features, responses, lesion and learns commands and the sidebar upload."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from PIL import Image

from resnet_viz.checkpoints import community
from resnet_viz.checkpoints.read import load_checkpoint, load_checkpoint_bytes
from resnet_viz.cli import main as cli_main
from resnet_viz.data import load_split, normalize
from resnet_viz.errors import LoadError
from resnet_viz.i18n import t
from resnet_viz.images import load_image, preprocess
from resnet_viz.models.registry import CIFAR10_CLASSES, build_model
from tests import community_nets as N
from tests.corpus import akamaster_file_bytes
from tests.conftest import uploader
from tests.train.test_loop import CLASSES, write_tiny_zip

SAMPLE_PHOTO = "assets/samples/cifar10/cat_1.png"
pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ---------------------------------------------------------------- the files, as their code writes them

def _akamaster(depth: int) -> N.WildFile:
    net = N.trained_like(N.AkamasterResNet(N.AkamasterBlock, [(depth - 2) // 6] * 3), seed=depth)
    return N.WildFile(f"resnet{depth}-12fca82f.th", net, akamaster_file_bytes(net, best_prec1=91.73),
                      N.AKAMASTER_NORMALIZE, f"resnet{depth}", "akamaster")


def _chenyaofo(depth: int, *, legacy: bool = False) -> N.WildFile:
    net = N.trained_like(N.CifarResNet(N.ChenyaofoBlock, [(depth - 2) // 6] * 3), seed=depth)
    name = {20: "cifar10_resnet20-4118986f.pt", 56: "cifar10_resnet56-187c023a.pt"}[depth]  # torch.hub's files
    return N.WildFile(name, net, N.torch_bytes(net.state_dict(), legacy=legacy), N.CHENYAOFO_NORMALIZE,
                      f"resnet{depth}", "chenyaofo")


def _kuangliu(depth: int, *, legacy: bool = False) -> N.WildFile:
    blocks = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3]}[depth]
    net = N.trained_like(N.ResNet(N.KuangliuBlock, blocks), seed=depth)
    return N.WildFile("ckpt.pth", net, N.kuangliu_ckpt(net, acc=95.44, epoch=199, legacy=legacy),
                      N.KUANGLIU_NORMALIZE, f"resnet{depth}_cifar", "kuangliu")


def _torchvision(depth: int = 18, *, maxpool: bool = False, wrapped: bool = False) -> N.WildFile:
    net = N.torchvision_cifar(depth, maxpool=maxpool)
    net = N.trained_like(N.Wrapped(net) if wrapped else net, seed=depth)
    return N.WildFile(f"resnet{depth}_cifar10.pth", net, N.torch_bytes(net.state_dict()), N.CIFAR10_TRAIN_STATS,
                      f"resnet{depth}_cifar", "torchvision-cifar")


FILES: dict[str, Callable[[], N.WildFile]] = {
    "akamaster resnet20 (PyTorch 0.4 pickle, module.)": lambda: _akamaster(20),
    "chenyaofo resnet20 (hub file)": lambda: _chenyaofo(20),
    "chenyaofo resnet56 (legacy pickle)": lambda: _chenyaofo(56, legacy=True),
    "kuangliu ResNet18 (ckpt.pth from a GPU, legacy pickle)": lambda: _kuangliu(18, legacy=True),
    "kuangliu ResNet18 (ckpt.pth from a GPU)": lambda: _kuangliu(18),
    "torchvision resnet18, 3x3 stem": lambda: _torchvision(),
    "torchvision resnet18 held as self.model": lambda: _torchvision(wrapped=True),
}
SLOW_FILES = {  # 21 M parameters: 85 MB each
    "kuangliu ResNet34": lambda: _kuangliu(34),
    "torchvision resnet34, 3x3 stem": lambda: _torchvision(34),
}


def _images(n: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def _assert_original_outputs(wild: N.WildFile, path: Path, *, maxpool: bool = False) -> None:
    """Both loaders recognise the file and give the original code's logits on its own preprocessing."""
    images = _images()
    transform = N.original_transform(wild.normalize)
    x = torch.stack([transform(Image.fromarray(img.permute(1, 2, 0).numpy())) for img in images])
    with torch.no_grad():
        expected = wild.net(x)
    for loaded in (load_checkpoint(path, maxpool=maxpool), load_checkpoint_bytes(path.read_bytes(), path.name,
                                                                                  maxpool=maxpool)):
        assert (loaded.source, loaded.name, loaded.meta["format"]) == (wild.fmt, wild.model, wild.fmt)
        assert loaded.mean == pytest.approx(wild.normalize[0]) and loaded.std == pytest.approx(wild.normalize[1])
        assert loaded.classes == CIFAR10_CLASSES and not loaded.model.training
        with torch.no_grad():
            logits = loaded.model(normalize(images, loaded.mean, loaded.std))
        # the two normalisations round differently, and 34 layers on another CPU grew that to 2e-5 (CI); a wrong
        # weight or layer is off by whole units
        torch.testing.assert_close(logits, expected, atol=1e-4, rtol=1e-4)


def _write(wild: N.WildFile, folder: Path) -> Path:
    path = folder / wild.name
    path.write_bytes(wild.data)
    return path


@pytest.mark.parametrize("case", list(FILES))
def test_a_file_from_the_wild_gives_the_original_codes_outputs(case, tmp_path):
    wild = FILES[case]()
    _assert_original_outputs(wild, _write(wild, tmp_path))


@pytest.mark.slow
@pytest.mark.parametrize("case", list(SLOW_FILES))
def test_the_34_layer_files_give_the_original_codes_outputs(case, tmp_path):
    wild = SLOW_FILES[case]()
    _assert_original_outputs(wild, _write(wild, tmp_path))


def test_the_files_are_laid_out_as_in_the_wild(tmp_path):
    """What the tests above load is what those repositories' code writes, not the zoo's own keys."""
    raw = torch.load(_write(_kuangliu(18, legacy=True), tmp_path), weights_only=True)
    assert set(raw) == {"net", "acc", "epoch"} and all(k.startswith("module.") for k in raw["net"])
    assert "module.layer2.0.shortcut.0.weight" in raw["net"] and "module.linear.weight" in raw["net"]
    assert (tmp_path / "ckpt.pth").read_bytes()[:2] == b"\x80\x02"  # a pickle, not a zip
    hub = _chenyaofo(20)
    raw = torch.load(_write(hub, tmp_path), weights_only=True)
    assert {"fc.weight", "layer2.0.downsample.0.weight", "layer3.2.bn2.running_var"} <= set(raw)
    assert hub.data[:2] == b"PK"  # PyTorch >= 1.6's zip format, the hub files' (2021)
    tv = torch.load(_write(_torchvision(wrapped=True), tmp_path), weights_only=True)
    assert "model.conv1.weight" in tv and tuple(tv["model.conv1.weight"].shape) == (64, 3, 3, 3)


def test_the_file_says_what_its_author_measured(tmp_path):
    loaded = load_checkpoint(_write(_kuangliu(18), tmp_path))
    assert loaded.accuracy == 95.44 and loaded.meta["accuracy_source"] == "acc" and loaded.meta["epoch"] == 199
    assert loaded.meta["dataset"] == "CIFAR-10"
    assert load_checkpoint(_write(_chenyaofo(20), tmp_path)).accuracy is None  # a hub file holds weights only


def test_the_max_pool_is_a_choice_the_weights_cannot_make(tmp_path):
    """The same torchvision-CIFAR file with its max pool kept: loaded as the common adaptation it gives other
    outputs; with maxpool=True the original's. The choice is refused where the network has no max pool."""
    wild = _torchvision(maxpool=True)
    path = _write(wild, tmp_path)
    _assert_original_outputs(wild, path, maxpool=True)
    loaded = load_checkpoint(path)
    assert not loaded.maxpool and "maxpool" not in dict(loaded.model.named_children())
    with torch.no_grad():
        expected = wild.net(normalize(_images(), loaded.mean, loaded.std))
        assert not torch.allclose(loaded.model(normalize(_images(), loaded.mean, loaded.std)), expected, atol=1e-2)
    for other in (_chenyaofo(20), _kuangliu(18)):
        with pytest.raises(LoadError) as info:
            load_checkpoint(_write(other, tmp_path), maxpool=True)
        assert info.value.key == "load.no_maxpool" and other.fmt in str(info.value)


def test_the_description_names_source_and_preprocessing_in_both_languages(tmp_path):
    chen = load_checkpoint(_write(_chenyaofo(56), tmp_path))
    en = community.describe(chen, "en")
    assert en.startswith("ResNet-56, option B, from chenyaofo/pytorch-cifar-models")
    assert "(0.4914, 0.4822, 0.4465)" in en and "(0.2023, 0.1994, 0.201)" in en
    assert "chenyaofo/pytorch-cifar-models" in community.describe(chen, "zh") and "均值" in community.describe(
        chen, "zh")
    tv = load_checkpoint(_write(_torchvision(), tmp_path))
    assert "taken out" in community.describe(tv, "en") and "(0.247, 0.2435, 0.2616)" in community.describe(tv)
    kept = load_checkpoint(tmp_path / "resnet18_cifar10.pth", maxpool=True)
    assert "kept" in community.describe(kept, "en") and "保留" in community.describe(kept, "zh")
    assert community.describe(load_checkpoint("assets/checkpoints/resnet20.safetensors")) is None


def test_the_project_s_own_state_dicts_are_not_taken_for_a_community_format(tmp_path):
    """A bare state dict of a zoo CIFAR net (akamaster's names, no best_prec1 beside it) keeps the zoo's own
    preprocessing, as before; a torchvision ImageNet net is still the ImageNet zoo model."""
    torch.save(build_model("resnet20").state_dict(), tmp_path / "mine.pt")
    loaded = load_checkpoint(tmp_path / "mine.pt")
    assert loaded.source == "pytorch" and community.describe(loaded) is None
    with torch.device("meta"):
        imagenet = {k: v for k, v in build_model("resnet18").state_dict().items()}
    assert community.detect(imagenet) is None


# ---------------------------------------------------------------- the CLI

@pytest.fixture
def released(tmp_path):
    torch.manual_seed(3)
    path = tmp_path / "resnet20-12fca82f.th"
    path.write_bytes(akamaster_file_bytes(build_model("resnet20").eval(), best_prec1=91.73))
    return path


def test_checkpoint_command(released, capsys):
    assert cli_main(["checkpoint", str(released), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "akamaster" and info["model"] == "resnet20" and info["accuracy"] == 91.73
    assert cli_main(["checkpoint", str(released)]) == 0
    assert "91.73 (the file's own claim: best_prec1)" in capsys.readouterr().out


def test_checkpoint_command_on_the_other_formats(tmp_path, capsys):
    for wild, claim in ((_chenyaofo(20), None), (_kuangliu(18), 95.44), (_torchvision(), None)):
        path = _write(wild, tmp_path)
        assert cli_main(["checkpoint", str(path), "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
        assert (info["format"], info["model"], info["accuracy"]) == (wild.fmt, wild.model, claim)
        assert info["mean"] == pytest.approx(wild.normalize[0]) and info["community"]
    assert cli_main(["checkpoint", str(tmp_path / "resnet18_cifar10.pth"), "--maxpool"]) == 0
    out = capsys.readouterr().out
    assert "format     torchvision-cifar" in out and "max pool (stride 2) after the stem kept" in out
    assert cli_main(["checkpoint", str(tmp_path / "ckpt.pth"), "--maxpool"]) == 2
    assert "no max pool to keep" in capsys.readouterr().err


def test_evaluate_command(released, tmp_path, capsys):
    data = write_tiny_zip(tmp_path / "tiny.zip", per_class=1, test_per_class=4, size=32)
    assert cli_main(["evaluate", str(released), "--data", str(data), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total"] == 12 and 0 <= out["accuracy"] <= 100


def test_evaluate_command_counts_what_the_original_code_predicts(tmp_path, capsys):
    data = write_tiny_zip(tmp_path / "tiny.zip", per_class=1, test_per_class=6, size=32)
    x, y, _ = load_split(data, "test")
    target = torch.tensor([CIFAR10_CLASSES.index(c) for c in CLASSES])[y]
    for wild in (_chenyaofo(20), _kuangliu(18)):
        probabilities = N.original_probabilities(wild.net, x, wild.normalize)
        predicted = probabilities.argmax(1)
        top2 = probabilities.topk(2, dim=1).values
        ties = int((top2[:, 0] - top2[:, 1] < 1e-4).sum())  # another CPU's rounding may pick the other class
        assert cli_main(["evaluate", str(_write(wild, tmp_path)), "--data", str(data), "--json",
                         "--device", "cpu"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["format"] == wild.fmt and abs(out["correct"] - int((predicted == target).sum())) <= ties
        assert ties or out["confusion"] == [[int(((target == i) & (predicted == j)).sum()) for j in range(10)]
                                            for i in range(10)]


def test_features_command_gives_the_original_codes_probabilities(tmp_path, capsys):
    image = Image.open(SAMPLE_PHOTO).convert("RGB")
    for wild in (_chenyaofo(20), _kuangliu(18), _torchvision(maxpool=True)):
        x = N.original_transform(wild.normalize)(image).unsqueeze(0)
        with torch.no_grad():
            expected = torch.softmax(wild.net(x), 1)[0]
        args = ["features", SAMPLE_PHOTO, "--model", str(_write(wild, tmp_path)), "--json"]
        assert cli_main(args + (["--maxpool"] if wild.fmt == "torchvision-cifar" else [])) == 0
        top5 = json.loads(capsys.readouterr().out)["top5"]
        # each row is its class's probability, and the five are the top five (a near tie may swap two rows)
        assert [row["prob"] for row in top5] == pytest.approx(expected.topk(5).values.tolist(), abs=1e-4)
        assert [row["prob"] for row in top5] == pytest.approx(
            [float(expected[CIFAR10_CLASSES.index(row["class"])]) for row in top5], abs=1e-4)


def test_features_and_responses_commands(released, capsys):
    assert cli_main(["features", SAMPLE_PHOTO, "--model", str(released), "--json"]) == 0
    features = json.loads(capsys.readouterr().out)
    assert len(features["ratios"]) == 9 and features["top5"]
    assert cli_main(["responses", str(released), "--limit", "20", "--json"]) == 0
    assert capsys.readouterr().out.strip()


def test_responses_lesion_and_learns_take_the_new_formats(tmp_path, capsys):
    hub, ckpt = _write(_chenyaofo(20), tmp_path), _write(_kuangliu(18), tmp_path)
    assert cli_main(["responses", str(hub), str(ckpt), "--limit", "10", "--json"]) == 0
    stds = json.loads(capsys.readouterr().out)
    assert len(stds[str(hub)]) == 19 and len(stds[str(ckpt)]) == 17  # every 3x3 conv: the stem, 2 per block
    assert cli_main(["lesion", str(ckpt), "--limit", "10", "--k", "--json"]) == 0
    study = json.loads(capsys.readouterr().out)[str(ckpt)]
    assert study["model"] == "resnet18_cifar" and len(study["blocks"]) == 8
    assert study["downsampling"] == [False, False, True, False, True, False, True, False]
    out = tmp_path / "grid.png"
    assert cli_main(["learns", str(ckpt), "--layer", "conv5_2", "--limit", "10", "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


# ---------------------------------------------------------------- the sidebar upload

def _picker_script():
    import streamlit as st

    from ui.models import current_model, model_picker

    model_picker()
    loaded = current_model()
    st.text(f"loaded:{loaded.name}:{loaded.source}:{loaded.maxpool}")


def _upload(name: str, data: bytes, lang: str = "en"):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_picker_script, default_timeout=60)
    at.session_state["lang"] = lang
    at.session_state["model_choice"] = "upload"
    at.run()
    at.file_uploader(key="model_upload").set_value((name, data, "application/octet-stream"))
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_sidebar_upload_says_the_accuracy_is_the_files_claim(released, lang):
    at = _upload(released.name, released.read_bytes(), lang)
    assert at.text[0].value == "loaded:resnet20:akamaster:False"
    captions = [c.value for c in at.sidebar.caption]
    assert any(t("models.upload_claimed", lang, acc="91.73", field="best_prec1") in c for c in captions), captions


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_sidebar_upload_of_a_hub_file_and_a_ckpt_says_where_they_come_from(tmp_path, lang):
    for wild in (_chenyaofo(56), _kuangliu(18)):
        at = _upload(wild.name, wild.data, lang)
        assert at.text[0].value == f"loaded:{wild.model}:{wild.fmt}:False"
        caption = " ".join(c.value for c in at.sidebar.caption)
        loaded = load_checkpoint_bytes(wild.data, wild.name)
        assert community.describe(loaded, lang) in caption
        if wild.fmt == "kuangliu":
            assert t("models.upload_claimed", lang, acc="95.44", field="acc") in caption


def test_sidebar_upload_of_torchvision_cifar_offers_the_max_pool():
    wild = _torchvision(maxpool=True)
    at = _upload(wild.name, wild.data)
    assert at.text[0].value == "loaded:resnet18_cifar:torchvision-cifar:False"
    radio = at.sidebar.radio[0]
    assert radio.value == "removed" and radio.label == t("models.maxpool_label", "en")
    radio.set_value("kept").run()
    assert not at.exception and at.text[0].value == "loaded:resnet18_cifar:torchvision-cifar:True"
    assert any("kept" in c.value for c in at.sidebar.caption)
    uploader(at, "model_upload").set_value((_chenyaofo(20).name, _chenyaofo(20).data, "x")).run()
    assert not at.exception and not at.error and not at.sidebar.radio  # another file: no max pool to choose
    assert at.text[0].value == "loaded:resnet20:chenyaofo:False"
