"""chenyaofo's pretrained CIFAR-10 ResNets by download (resnet_viz.checkpoints.pretrained), against a local HTTP
server that serves a hub file in their format: fetched once into the torch hub cache with its hash prefix checked,
recognised as chenyaofo's, offered by the sidebar while downloads are on, and failing soft offline without
dropping the student's model."""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

from resnet_viz.checkpoints import community, pretrained
from resnet_viz.checkpoints.find import load_model
from resnet_viz.data import normalize
from resnet_viz.errors import LoadError
from resnet_viz.i18n import t
from tests import community_nets as N
from tests.conftest import assert_no_exception

README = {"resnet20": 92.60, "resnet32": 93.53, "resnet44": 94.01, "resnet56": 94.37}  # their README's table


@pytest.fixture(autouse=True)
def _own_hub_dir(tmp_path):
    before = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield
    torch.hub.set_dir(before)


class Release:
    """A local copy of chenyaofo's release: the resnet20 hub file (a net with perturbed BN statistics) under its
    own hash prefix, and a file whose bytes do not match its name."""

    def __init__(self) -> None:
        self.net = N.trained_like(N.CifarResNet(N.ChenyaofoBlock, [3, 3, 3]), seed=20)
        self.data = N.torch_bytes(self.net.state_dict())
        self.file = f"cifar10_resnet20-{hashlib.sha256(self.data).hexdigest()[:8]}.pt"
        self.requests: list[str] = []
        files = {f"/{self.file}": self.data, "/cifar10_resnet56-00000000.pt": self.data}
        release = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                release.requests.append(self.path)
                body = files.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"


@pytest.fixture
def release(monkeypatch) -> Iterator[Release]:
    """The release served locally, the tables pointed at it, downloads on."""
    served = Release()
    monkeypatch.setattr(pretrained, "RELEASE_URL", served.url)
    monkeypatch.setitem(community.RELEASES, "resnet20", community.Release("resnet20", served.file, 92.60))
    monkeypatch.setitem(community.RELEASES, "resnet56",
                        community.Release("resnet56", "cifar10_resnet56-00000000.pt", 94.37))
    monkeypatch.delenv("RESNET_VIZ_OFFLINE", raising=False)
    yield served
    served.server.shutdown()
    served.server.server_close()


def test_the_releases_are_chenyaofos_files_with_their_published_accuracy():
    assert {name: r.accuracy for name, r in community.RELEASES.items()} == README
    assert [r.file for r in community.RELEASES.values()] == [
        "cifar10_resnet20-4118986f.pt", "cifar10_resnet32-ef93fc4d.pt", "cifar10_resnet44-2a3cabcb.pt",
        "cifar10_resnet56-187c023a.pt"]
    assert community.RELEASE_URL == "https://github.com/chenyaofo/pytorch-cifar-models/releases/download/resnet/"
    assert pretrained.pretrained_path("resnet56").name == "cifar10_resnet56-187c023a.pt"
    assert pretrained.has_pretrained("resnet56") and not pretrained.has_pretrained("resnet110")


def test_downloaded_once_and_giving_the_original_codes_outputs(release):
    loaded = load_model("pretrained:resnet20")
    assert release.requests == [f"/{release.file}"]
    assert pretrained.pretrained_cached("resnet20") and pretrained.pretrained_path("resnet20").name == release.file
    assert (loaded.source, loaded.meta["format"], loaded.name, loaded.shortcut) == ("pretrained", "chenyaofo",
                                                                                   "resnet20", "B")
    assert loaded.accuracy == 92.60 and loaded.meta["accuracy_source"] == "published"
    assert loaded.mean == pytest.approx(N.CHENYAOFO_NORMALIZE[0]) and loaded.std == pytest.approx(
        N.CHENYAOFO_NORMALIZE[1])
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    expected = N.original_probabilities(release.net, images, N.CHENYAOFO_NORMALIZE)
    with torch.no_grad():
        probabilities = torch.softmax(loaded.model(normalize(images, loaded.mean, loaded.std)), 1)
    torch.testing.assert_close(probabilities, expected, atol=1e-4, rtol=1e-4)
    again = load_model("pretrained:resnet20")  # from the cache: no second request
    assert release.requests == [f"/{release.file}"] and again.accuracy == 92.60


def test_a_file_that_does_not_match_its_hash_is_refused_and_not_kept(release):
    with pytest.raises(LoadError) as info:
        load_model("pretrained:resnet56")
    assert info.value.key == "load.download_failed" and "hash" in str(info.value)
    hub = pretrained.pretrained_path("resnet56").parent
    assert not hub.exists() or not any(hub.iterdir())


def test_offline_the_download_fails_soft(release, monkeypatch):
    monkeypatch.setenv("RESNET_VIZ_OFFLINE", "1")
    with pytest.raises(LoadError) as info:
        load_model("pretrained:resnet20")
    assert info.value.key == "load.downloads_off" and not release.requests
    monkeypatch.delenv("RESNET_VIZ_OFFLINE")

    def no_network(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(LoadError) as info:
        load_model("pretrained:resnet20")
    assert info.value.key == "load.offline" and "联网" in info.value.message("zh")
    with pytest.raises(LoadError) as info:
        load_model("pretrained:resnet20", allow_download=False)
    assert info.value.key == "load.not_cached"


# ---------------------------------------------------------------- the sidebar picker

def _script():
    import streamlit as st

    from ui.models import current_model, model_picker

    model_picker()
    loaded = current_model()
    st.text(f"loaded:{loaded.name}:{loaded.source}")


def _sidebar(lang: str = "en", **session):
    from streamlit.testing.v1 import AppTest

    import ui.models

    ui.models.model_cache.clear()
    at = AppTest.from_function(_script, default_timeout=60)
    at.session_state["lang"] = lang
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    assert_no_exception(at)
    return at


def test_offered_while_downloads_are_on_and_once_downloaded(release, monkeypatch):
    options = _sidebar().sidebar.selectbox(key="model_choice").options
    assert "ResNet-20 · chenyaofo (download)" in options and "ResNet-56 · chenyaofo (download)" in options
    monkeypatch.setenv("RESNET_VIZ_OFFLINE", "1")
    assert not [o for o in _sidebar().sidebar.selectbox(key="model_choice").options if "chenyaofo" in o]
    monkeypatch.delenv("RESNET_VIZ_OFFLINE")
    load_model("pretrained:resnet20")
    monkeypatch.setenv("RESNET_VIZ_OFFLINE", "1")
    options = _sidebar("zh").sidebar.selectbox(key="model_choice").options
    assert "ResNet-20 · chenyaofo" in options and not [o for o in options if "chenyaofo（需下载）" in o]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_picked_it_downloads_and_the_sidebar_says_where_it_comes_from(release, lang):
    at = _sidebar(lang)
    at.sidebar.selectbox(key="model_choice").set_value("pretrained:resnet20").run()
    assert_no_exception(at)
    assert not at.error and at.text[0].value == "loaded:resnet20:pretrained"
    caption = " ".join(c.value for c in at.sidebar.caption)
    assert "chenyaofo/pytorch-cifar-models" in caption and "(0.4914, 0.4822, 0.4465)" in caption
    assert t("models.details_pretrained_cifar", lang, model="ResNet-20", acc="92.60",
             repository="chenyaofo/pytorch-cifar-models", state=t("models.state_cached", lang)) in \
        at.sidebar.selectbox(key="model_choice").help


def test_a_download_that_fails_keeps_the_students_uploaded_model(release, monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("Network is unreachable")

    ckpt = N.kuangliu_ckpt(N.trained_like(N.ResNet(N.KuangliuBlock, [2, 2, 2, 2])), acc=95.0, epoch=3)
    at = _sidebar(model_choice="upload")
    at.sidebar.file_uploader(key="model_upload").set_value(("ckpt.pth", ckpt, "application/octet-stream")).run()
    assert at.text[0].value == "loaded:resnet18_cifar:kuangliu"
    monkeypatch.setattr(socket, "create_connection", no_network)
    at.sidebar.selectbox(key="model_choice").set_value("pretrained:resnet56").run()
    assert_no_exception(at)
    assert any("resnet56" in e.value and "offline" in e.value for e in at.error)
    assert at.sidebar.selectbox(key="model_choice").value.startswith("uploaded:")  # the upload, now on the list
    assert at.text[0].value == "loaded:resnet18_cifar:kuangliu"
