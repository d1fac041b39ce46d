"""``evaluate``: our checkpoints and akamaster-format files, each with its own normalisation."""

from __future__ import annotations

import json

import pytest
import torch

from resnet_viz.cli import main as cli_main
from resnet_viz.data import load_split
from resnet_viz.errors import DataError
from resnet_viz.models.registry import CIFAR10_CLASSES, IMAGENET_MEAN, IMAGENET_STD, build_model
from resnet_viz.train.evaluate import evaluate_checkpoint
from resnet_viz.train.loop import TrainConfig, train
from tests.corpus import akamaster_file_bytes
from tests.train.test_loop import CLASSES, write_tiny_zip

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_evaluate_reproduces_the_accuracy_the_trainer_recorded(tmp_path, capsys):
    data = write_tiny_zip(tmp_path / "tiny.zip")
    result = train(TrainConfig(model="resnet20", data=str(data), epochs=3, batch_size=16, lr=0.05, device="cpu",
                               out=str(tmp_path / "out"), progress=False), log_fn=lambda m: None)
    assert cli_main(["evaluate", str(result.checkpoint), "--data", str(data), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["accuracy"] == pytest.approx(result.accuracy, abs=1e-3)
    assert out["total"] == 12 and out["classes"] == list(CLASSES) and out["format"] == "checkpoint"
    confusion = torch.tensor(out["confusion"])
    assert confusion.shape == (3, 3) and confusion.sum(1).tolist() == [4, 4, 4]
    assert out["per_class_accuracy"]["cat"] == pytest.approx(100 * confusion[0, 0].item() / 4)
    assert out["mean"] == pytest.approx(json.loads(result.checkpoint.with_suffix(".json").read_text())["mean"])
    assert cli_main(["evaluate", str(result.checkpoint), "--data", str(data)]) == 0
    text = capsys.readouterr().out
    assert "top-1 accuracy" in text and "confusion matrix" in text


def test_akamaster_checkpoint_is_evaluated_with_its_own_imagenet_normalisation(tmp_path):
    torch.manual_seed(0)
    net = build_model("resnet20").eval()
    with torch.no_grad():  # make the BN statistics non-trivial so the normalisation matters
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    path = tmp_path / "resnet20-12fca82f.th"
    path.write_bytes(akamaster_file_bytes(net, best_prec1=91.73))  # the released files' own format
    data = write_tiny_zip(tmp_path / "tiny.zip", per_class=1, test_per_class=6, size=32)
    result, info = evaluate_checkpoint(path, data, device="cpu")
    assert info["format"] == "akamaster" and info["mean"] == pytest.approx(IMAGENET_MEAN)
    # by hand: the tiny set's classes (cat, dog, ship) are CIFAR-10 classes 3, 5 and 8
    x, y, _ = load_split(data, "test")
    target = torch.tensor([CIFAR10_CLASSES.index(c) for c in CLASSES])[y]
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        pred = net((x.float() / 255 - mean) / std).argmax(1)
    assert result.correct == int((pred == target).sum()) and result.total == 18
    assert result.confusion.shape == (10, 10) and set(result.per_class()) == set(CLASSES)


def test_classes_the_model_does_not_know_are_a_clear_error(tmp_path, capsys):
    torch.save({"best_prec1": 90.0, "state_dict": build_model("resnet20").state_dict()}, tmp_path / "r20.th")
    data = write_tiny_zip(tmp_path / "tiny.zip", per_class=1, test_per_class=1)
    import zipfile

    with zipfile.ZipFile(data, "a") as z:
        z.writestr("test/unicorn/a.png", zipfile.ZipFile(data).read("test/cat/000.png"))
    with pytest.raises(DataError, match="unicorn"):
        evaluate_checkpoint(tmp_path / "r20.th", data, device="cpu")
    assert cli_main(["evaluate", str(tmp_path / "r20.th"), "--data", str(data)]) == 2
    assert "unicorn" in capsys.readouterr().err


def test_limit_takes_a_subset_of_every_class_not_the_first_images(tmp_path):
    torch.save({"best_prec1": 90.0, "state_dict": build_model("resnet20").state_dict()}, tmp_path / "r20.th")
    data = write_tiny_zip(tmp_path / "tiny.zip", per_class=1, test_per_class=20)
    result, _ = evaluate_checkpoint(tmp_path / "r20.th", data, device="cpu", limit=30)
    assert result.total == 30 and len(result.per_class()) == 3
