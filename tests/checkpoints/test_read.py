"""Every weight source: safetensors + sidecar, akamaster-format pickles, uploads, pretrained (offline and cached)."""

import json
import socket
from pathlib import Path

import pytest
import torch

from resnet_viz.checkpoints import pretrained as loading
from resnet_viz.checkpoints.find import find_checkpoints, load_model
from resnet_viz.checkpoints.pretrained import load_pretrained
from resnet_viz.checkpoints.read import infer_architecture, load_checkpoint, load_checkpoint_bytes
from resnet_viz.checkpoints.write import save_checkpoint
from resnet_viz.errors import LoadError
from resnet_viz.models.registry import IMAGENET_MEAN, build_model


@pytest.fixture(autouse=True)
def _own_hub_dir():
    """Tests here point torch hub at a temporary folder; later tests must not see its files."""
    before = torch.hub.get_dir()
    yield
    torch.hub.set_dir(before)


def _meta(**extra):
    return {"model": "resnet20", "shortcut": "A", "dataset": "test", "classes": [f"c{i}" for i in range(10)],
            "mean": [0.5, 0.4, 0.3], "std": [0.2, 0.2, 0.2], "accuracy": 12.5, **extra}


class CodeRunner:
    """Unpickling this runs code: it writes a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def malicious_pth(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "marker.txt"
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"conv1.weight": torch.zeros(1)}, "payload": CodeRunner(marker)}, path)
    return path, marker


def test_safetensors_round_trip_with_sidecar(tmp_path):
    model = build_model("resnet20").eval()
    path = save_checkpoint(model, tmp_path / "r20", _meta(log=[{"epoch": 1, "test_error": 80.0}]))
    assert path.name == "r20.safetensors" and path.with_suffix(".json").is_file()
    loaded = load_checkpoint(path)
    assert loaded.name == "resnet20" and loaded.source == "checkpoint" and loaded.shortcut == "A"
    assert loaded.classes[0] == "c0" and loaded.mean == (0.5, 0.4, 0.3) and loaded.accuracy == 12.5
    assert loaded.meta["log"][0]["epoch"] == 1 and not loaded.model.training
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(loaded.model(x), model(x))


def test_fp16_checkpoint_loads_back_as_fp32(tmp_path):
    model = build_model("plain20").eval()
    path = save_checkpoint(model, tmp_path / "p20.safetensors", _meta(model="plain20", shortcut=None), half=True)
    loaded = load_checkpoint(path)
    assert all(p.dtype == torch.float32 for p in loaded.model.parameters())
    x = torch.randn(2, 3, 32, 32)
    assert torch.allclose(loaded.model(x), model(x), atol=0.05, rtol=0.05)
    assert json.loads(path.with_suffix(".json").read_text())["weights_dtype"] == "float16"


def test_uploaded_safetensors_without_sidecar_reads_header_metadata(tmp_path):
    path = save_checkpoint(build_model("resnet20"), tmp_path / "up", _meta(accuracy=50.0))
    loaded = load_checkpoint_bytes(path.read_bytes(), "up.safetensors")
    assert loaded.name == "resnet20" and loaded.accuracy == 50.0 and loaded.classes[1] == "c1"


def test_akamaster_format_is_detected(tmp_path):
    model = build_model("resnet32").eval()
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    path = tmp_path / "resnet32-d509ac18.th"
    torch.save({"best_prec1": 92.63, "state_dict": state}, path)
    loaded = load_checkpoint(path)
    assert loaded.source == "akamaster" and loaded.name == "resnet32" and loaded.shortcut == "A"
    assert loaded.mean == IMAGENET_MEAN and loaded.classes[9] == "truck" and loaded.accuracy == 92.63
    x = torch.randn(1, 3, 32, 32)
    assert torch.equal(loaded.model(x), model(x))


def test_malicious_pickle_is_refused_and_its_code_never_runs(tmp_path):
    path, marker = malicious_pth(tmp_path)
    with pytest.raises(LoadError) as info:
        load_checkpoint(path)
    assert info.value.key == "load.unsafe_pickle"
    assert not marker.exists()
    with pytest.raises(LoadError):
        load_checkpoint_bytes(path.read_bytes(), "evil.pth")
    assert not marker.exists()


def test_wrong_architecture_names_mismatching_keys(tmp_path):
    path = save_checkpoint(build_model("resnet20"), tmp_path / "r20", _meta())
    with pytest.raises(LoadError) as info:
        load_checkpoint(path, model="resnet32")
    assert info.value.key == "load.mismatch" and "layer1.3" in str(info.value)
    torch.save(build_model("resnet20", shortcut="B").state_dict(), tmp_path / "b.pt")
    state = torch.load(tmp_path / "b.pt", weights_only=True)
    state["linear.weight"] = torch.zeros(5, 64)
    torch.save(state, tmp_path / "wrong_shape.pt")
    with pytest.raises(LoadError, match=r"linear.weight \(10, 64\) → \(5, 64\)") as info:  # the model's → the file's
        load_checkpoint(tmp_path / "wrong_shape.pt")
    zh = info.value.message("zh")  # parameter names and shapes only; no English words inside the Chinese sentence
    assert "linear.weight (10, 64) → (5, 64)" in zh and "expected" not in zh and "file has" not in zh


def test_nan_weights_and_garbage_are_refused(tmp_path):
    state = build_model("resnet20").state_dict()
    state["conv1.weight"][0, 0, 0, 0] = float("nan")
    torch.save(state, tmp_path / "nan.pt")
    with pytest.raises(LoadError, match="NaN"):
        load_checkpoint(tmp_path / "nan.pt")
    (tmp_path / "noise.pth").write_bytes(bytes(range(256)) * 10)
    with pytest.raises(LoadError) as info:
        load_checkpoint(tmp_path / "noise.pth")
    assert info.value.key == "load.corrupt"
    with pytest.raises(LoadError) as info:
        load_checkpoint_bytes(b"\xff" * 64, "bad.safetensors")
    assert info.value.key == "load.corrupt"
    with pytest.raises(LoadError) as info:
        load_checkpoint_bytes(b"x" * 2000, "big.pt", max_bytes=1000)
    assert info.value.key == "load.too_large"
    with pytest.raises(LoadError) as info:
        load_checkpoint_bytes(b"x", "model.onnx")
    assert info.value.key == "load.bad_suffix"


def test_sidecar_from_another_write_is_detected(tmp_path):
    path = save_checkpoint(build_model("resnet20"), tmp_path / "a", _meta())
    other = save_checkpoint(build_model("resnet20"), tmp_path / "b", _meta())
    path.write_bytes(other.read_bytes())
    with pytest.raises(LoadError) as info:
        load_checkpoint(path)
    assert info.value.key == "load.sidecar_mismatch"


def test_infer_architecture_of_imagenet_state_dicts():
    with torch.device("meta"):
        assert infer_architecture(build_model("resnet50").state_dict()) == ("resnet50", "B")
        assert infer_architecture(build_model("plain34").state_dict()) == ("plain34", None)
        assert infer_architecture(build_model("vgg19").state_dict()) == ("vgg19", None)
    with pytest.raises(LoadError):
        infer_architecture({"foo.weight": torch.zeros(1)})


def test_offline_pretrained_request_fails_soft(tmp_path, monkeypatch):
    torch.hub.set_dir(str(tmp_path / "hub"))
    monkeypatch.delenv("RESNET_VIZ_OFFLINE", raising=False)

    def no_network(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(LoadError) as info:
        load_pretrained("resnet18", timeout=0.5)
    assert info.value.key == "load.offline" and "unreachable" in str(info.value)
    assert "离线" in info.value.message("zh") or "联网" in info.value.message("zh")
    with pytest.raises(LoadError) as info:
        load_pretrained("resnet18", allow_download=False)
    assert info.value.key == "load.not_cached"
    with pytest.raises(LoadError) as info:
        load_pretrained("plain34")
    assert info.value.key == "load.no_pretrained"


@pytest.fixture
def weights_server():
    """A local HTTP server: /good-<sha256 prefix>.pth, /bad-<wrong prefix>.pth, and /stall-0.pth, which sends
    its headers and a few bytes, then nothing until the test ends."""
    import hashlib
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = b"weights" * 1000
    good = hashlib.sha256(body).hexdigest()[:8]
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.path.startswith("/stall"):
                self.wfile.write(body[:10])
                self.wfile.flush()
                release.wait(30)
                return
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    yield {"body": body, "good": f"{base}/good-{good}.pth", "bad": f"{base}/bad-{'0' * 8}.pth",
           "stall": f"{base}/stall-0.pth"}
    release.set()
    server.shutdown()
    server.server_close()


def _download(url: str, folder: Path, timeout: float = 2.0) -> Path:
    dst = folder / url.rsplit("/", 1)[1]
    loading._download(url, dst, "resnet18", timeout)
    return dst


def test_download_checks_the_hash_with_its_own_timeout(tmp_path, monkeypatch, weights_server):
    """A per-call timeout (the process-wide socket default is never touched); a wrong or stalled download
    leaves nothing behind, not even a partial file."""
    import time

    monkeypatch.delenv("RESNET_VIZ_OFFLINE", raising=False)
    default = socket.getdefaulttimeout()
    monkeypatch.setattr(socket, "setdefaulttimeout", lambda *_: pytest.fail("process-wide socket timeout set"))
    dst = _download(weights_server["good"], tmp_path / "hub")
    assert dst.read_bytes() == weights_server["body"] and [p.name for p in dst.parent.iterdir()] == [dst.name]
    with pytest.raises(LoadError) as info:
        _download(weights_server["bad"], tmp_path / "bad")
    assert info.value.key == "load.download_failed" and "hash" in str(info.value)
    assert not any((tmp_path / "bad").iterdir())
    start = time.perf_counter()
    with pytest.raises(LoadError) as info:
        _download(weights_server["stall"], tmp_path / "stall", timeout=0.1)
    assert info.value.key == "load.download_failed" and time.perf_counter() - start < 10
    assert not any((tmp_path / "stall").iterdir())
    assert socket.getdefaulttimeout() == default


def test_pretrained_from_torch_hub_cache(tmp_path):
    """A file in the hub cache under torchvision's file name is used without any network access."""
    torch.hub.set_dir(str(tmp_path / "hub"))
    path = loading.pretrained_path("resnet18")
    path.parent.mkdir(parents=True)
    reference = build_model("resnet18").eval()
    torch.save(reference.state_dict(), path)
    assert loading.pretrained_cached("resnet18")
    loaded = load_model("pretrained:resnet18")
    assert loaded.source == "pretrained" and len(loaded.classes) == 1000 and loaded.classes[0] == "tench"
    assert loaded.resize_size == 256 and loaded.accuracy == pytest.approx(69.758)
    x = torch.randn(1, 3, 64, 64)
    assert torch.equal(loaded.model(x), reference(x))


def test_find_checkpoints_in_user_dir(tmp_path, monkeypatch):
    user = tmp_path / "mine"
    monkeypatch.setenv("RESNET_VIZ_CHECKPOINTS", str(user))
    save_checkpoint(build_model("plain20"), user / "p20", _meta(model="plain20", shortcut=None))
    (user / "stray.safetensors").write_bytes(b"not a checkpoint")
    found = [c for c in find_checkpoints() if not c.shipped]
    assert [(c.stem, c.model) for c in found] == [("p20", "plain20")]
    assert load_model(str(found[0].path)).name == "plain20"


def test_random_model_is_deterministic():
    a, b = load_model("random:resnet20"), load_model("random:resnet20")
    x = torch.randn(1, 3, 32, 32)
    assert torch.equal(a.model(x), b.model(x)) and a.source == "random"


# ---------------------------------------------------------------- community files as they are in the wild

def _trained_like(name: str) -> torch.nn.Module:
    """A net whose BN statistics are not the defaults, so a wrong load would change its outputs."""
    torch.manual_seed(1)
    net = build_model(name).eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return net


@pytest.mark.parametrize("name", ["resnet20", "resnet56"])
def test_akamaster_files_as_released_load(tmp_path, name):
    from tests.corpus import akamaster_file_bytes

    net = _trained_like(name)
    path = tmp_path / f"{name}-12fca82f.th"
    path.write_bytes(akamaster_file_bytes(net, best_prec1=91.73))
    assert path.read_bytes()[:2] == b"\x80\x02"  # a pickle, not a zip: the pre-1.6 format
    for loaded in (load_checkpoint(path), load_checkpoint_bytes(path.read_bytes(), path.name)):
        assert loaded.source == "akamaster" and loaded.name == name and loaded.shortcut == "A"
        assert loaded.accuracy == 91.73 and loaded.meta["accuracy_source"] == "best_prec1"
        assert loaded.mean == IMAGENET_MEAN
        x = torch.randn(2, 3, 32, 32)
        assert torch.equal(loaded.model(x), net(x))
        assert all(int(m.num_batches_tracked) == 0 for m in loaded.model.modules()
                   if isinstance(m, torch.nn.BatchNorm2d))


def test_only_the_missing_batch_counters_are_forgiven(tmp_path):
    from tests.corpus import akamaster_file_bytes

    net = _trained_like("resnet20")
    data = akamaster_file_bytes(net)
    obj = torch.load(__import__("io").BytesIO(data), weights_only=True)
    del obj["state_dict"]["module.layer2.1.bn1.running_var"]
    obj["state_dict"]["module.extra.weight"] = torch.zeros(3)
    path = tmp_path / "broken.th"
    torch.save(obj, path)
    with pytest.raises(LoadError) as info:
        load_checkpoint(path)
    assert info.value.key == "load.mismatch"
    message = str(info.value)
    assert "layer2.1.bn1.running_var" in message and "num_batches_tracked" not in message
