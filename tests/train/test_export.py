"""fp16 export: half the size, the same sidecar, accuracy checked on data the test writes."""

import json

import pytest
import torch

from resnet_viz.checkpoints.read import load_checkpoint
from resnet_viz.checkpoints.write import save_checkpoint
from resnet_viz.errors import DataError
from resnet_viz.models.registry import CIFAR10_CLASSES, build_model
from resnet_viz.train.export import export_half
from tests.train.test_loop import write_tiny_zip


def _checkpoint(tmp_path):
    torch.manual_seed(0)
    meta = {"model": "resnet20", "shortcut": "A", "dataset": "tiny", "classes": list(CIFAR10_CLASSES),
            "mean": [0.5] * 3, "std": [0.25] * 3, "accuracy": 10.0, "log": [{"epoch": 1, "test_error": 90.0}]}
    return save_checkpoint(build_model("resnet20").eval(), tmp_path / "run" / "resnet20", meta)


def test_export_halves_the_file_and_keeps_the_sidecar(tmp_path):
    data = write_tiny_zip(tmp_path / "tiny.zip", per_class=2, test_per_class=3, size=32)
    src = _checkpoint(tmp_path)
    record = export_half(src, tmp_path / "ship", data=data, device="cpu")
    out = tmp_path / "ship" / "resnet20.safetensors"
    assert out.stat().st_size < 0.6 * src.stat().st_size
    side = json.loads(out.with_suffix(".json").read_text())
    assert side["weights_dtype"] == "float16" and side["log"][0]["epoch"] == 1 and side["export"] == record
    assert abs(record["accuracy_change"]) <= 0.1
    assert record["fp16_accuracy"] == pytest.approx(record["fp32_accuracy"], abs=0.1)
    assert load_checkpoint(out).name == "resnet20"


def test_export_refuses_when_accuracy_moves(tmp_path, monkeypatch):
    data = write_tiny_zip(tmp_path / "tiny.zip", per_class=2, test_per_class=3, size=32)
    src = _checkpoint(tmp_path)
    with pytest.raises(DataError):
        export_half(src, tmp_path / "ship", data=data, max_change=-1.0, device="cpu")
    assert not (tmp_path / "ship" / "resnet20.safetensors").exists()


def test_values_beyond_fp16_range_stay_fp32(tmp_path):
    model = build_model("plain20").eval()
    model.layer1[0].bn1.running_var.fill_(1e6)  # an untrained deep plain net gets there
    meta = {"model": "plain20", "classes": list(CIFAR10_CLASSES), "mean": [0.5] * 3, "std": [0.25] * 3}
    src = save_checkpoint(model, tmp_path / "run" / "plain20", meta)
    export_half(src, tmp_path / "ship")
    loaded = load_checkpoint(tmp_path / "ship" / "plain20.safetensors")
    assert float(loaded.model.layer1[0].bn1.running_var.max()) == 1e6
    assert loaded.model.layer1[0].conv1.weight.dtype == torch.float32
