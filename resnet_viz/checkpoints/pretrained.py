"""Pretrained weights, downloaded once into the torch hub cache, failing soft when offline: torchvision's ImageNet
weights (its weights API) and chenyaofo/pytorch-cifar-models' CIFAR-10 ResNets (``community.RELEASES``)."""

from __future__ import annotations

import hashlib
import os
import socket
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlparse

import torch

from resnet_viz.checkpoints.community import RELEASE_URL, RELEASES
from resnet_viz.checkpoints.read import LoadedModel, load_checkpoint_bytes, load_state, safe_torch_load
from resnet_viz.errors import LoadError
from resnet_viz.models.registry import (
    ModelSpec,
    get_spec,
)

DOWNLOAD_TIMEOUT_S = 5.0  # to connect; a download that stalls for STALL_FACTOR times as long fails
STALL_FACTOR = 6
CHUNK_BYTES = 1 << 20
# The torch hub file of each weights entry (the base name of its URL), so that the sidebar can say what is cached
# without importing torchvision (2 s and 170 MB); a test keeps it equal to torchvision's URLs.
HUB_FILES = {"ResNet18_Weights.DEFAULT": "resnet18-f37072fd.pth", "ResNet34_Weights.DEFAULT": "resnet34-b627a593.pth",
             "ResNet50_Weights.DEFAULT": "resnet50-11ad3fa6.pth", "ResNet101_Weights.DEFAULT": "resnet101-cd907fc2.pth",
             "ResNet152_Weights.DEFAULT": "resnet152-f82ba261.pth", "VGG19_Weights.DEFAULT": "vgg19-dcbb9e9d.pth"}


def _weights_enum(spec: ModelSpec):
    from torchvision.models import get_weight

    if not spec.pretrained:
        raise LoadError("load.no_pretrained", model=spec.name)
    return get_weight(spec.pretrained)


def has_pretrained(name: str) -> bool:
    """Whether ``name`` has weights to download: torchvision's (ImageNet) or chenyaofo's (CIFAR-10)."""
    return name in RELEASES or bool(get_spec(name).pretrained)


def pretrained_path(name: str) -> Path | None:
    """Where torch hub caches the pretrained file of ``name`` (None when it has no pretrained weights)."""
    spec = get_spec(name)
    if spec.name in RELEASES:
        file = RELEASES[spec.name].file
    elif spec.pretrained:
        file = HUB_FILES.get(spec.pretrained) or os.path.basename(urlparse(_weights_enum(spec).url).path)
    else:
        return None
    return Path(torch.hub.get_dir()) / "checkpoints" / file


def pretrained_cached(name: str) -> bool:
    path = pretrained_path(name)
    return path is not None and path.is_file()


DOWNLOAD_HOST = "download.pytorch.org"  # where every file of HUB_FILES comes from (a test checks torchvision's URLs)
PROBE_TIMEOUT_S = 2.0


def offline() -> bool:
    return os.environ.get("RESNET_VIZ_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def download_blocker(timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """Why pretrained weights cannot be downloaded now: "switched_off" (RESNET_VIZ_OFFLINE), "unreachable" (no
    connection to the download host within ``timeout``), or None when they can. The timeout is this call's only."""
    if offline():
        return "switched_off"
    try:
        socket.create_connection((DOWNLOAD_HOST, 443), timeout=timeout).close()
    except OSError:
        return "unreachable"
    return None


def _download(url: str, dst: Path, name: str, timeout: float) -> None:
    if offline():
        raise LoadError("load.downloads_off", model=name)
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((parsed.hostname or "", port), timeout=timeout).close()
    except OSError as exc:
        raise LoadError("load.offline", model=name, reason=str(exc) or type(exc).__name__) from None
    match = torch.hub.HASH_REGEX.search(dst.name)
    try:
        _fetch(url, dst, match.group(1) if match else None, timeout * STALL_FACTOR)
    except Exception as exc:  # network errors, hash mismatch, disk full: all the same to the user
        raise LoadError("load.download_failed", model=name, reason=str(exc) or type(exc).__name__) from None


def _fetch(url: str, dst: Path, hash_prefix: str | None, timeout: float) -> None:
    """Stream ``url`` into a temporary file beside ``dst``, check its sha256 prefix (torch hub's file-name
    convention), then move it into place: an interrupted or wrong download never becomes ``dst``.
    ``timeout`` bounds each network operation of this call only (no process-wide socket setting)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{uuid.uuid4().hex}.partial")
    sha256 = hashlib.sha256()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "resnet-viz"}),
                                    timeout=timeout) as response, open(tmp, "xb") as f:
            while chunk := response.read(CHUNK_BYTES):
                f.write(chunk)
                sha256.update(chunk)
        digest = sha256.hexdigest()
        if hash_prefix and not digest.startswith(hash_prefix):
            raise RuntimeError(f'invalid hash value (expected "{hash_prefix}", got "{digest}")')
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def _cached_or_downloaded(name: str, url: str, allow_download: bool, timeout: float) -> Path:
    path = pretrained_path(name)
    assert path is not None
    if not path.is_file():
        if not allow_download:
            raise LoadError("load.not_cached", model=name)
        _download(url, path, name, timeout)
    return path


def load_pretrained(name: str, *, allow_download: bool = True, timeout: float = DOWNLOAD_TIMEOUT_S) -> LoadedModel:
    """Pretrained weights for ``name`` (ImageNet: torchvision's; CIFAR-10: chenyaofo's), from the torch hub cache or
    downloaded once."""
    spec = get_spec(name)
    if spec.name in RELEASES:
        return _load_release(spec.name, allow_download, timeout)
    weights = _weights_enum(spec)
    path = _cached_or_downloaded(spec.name, weights.url, allow_download, timeout)
    state = safe_torch_load(path.read_bytes(), path.name)
    model = spec.build()
    load_state(model, state, spec.name)
    transforms = weights.transforms()
    resize = getattr(transforms, "resize_size", [spec.resize_size])
    resize_size = int(resize[0] if isinstance(resize, (list, tuple)) else resize)
    meta = {"weights": str(weights), "accuracy": weights.meta.get("_metrics", {}).get("ImageNet-1K", {}).get("acc@1"),
            "dataset": "ImageNet-1K", "source": weights.url}
    return LoadedModel(model.eval(), spec, "pretrained", f"{spec.name} ({weights})", tuple(transforms.mean),
                       tuple(transforms.std), tuple(weights.meta["categories"]), shortcut=spec.default_shortcut,
                       resize_size=resize_size, meta=meta)


def _load_release(name: str, allow_download: bool, timeout: float) -> LoadedModel:
    """chenyaofo's published CIFAR-10 weights of ``name``: their file goes through the loader like an upload (the
    format is recognised from its keys), with the accuracy their README publishes."""
    release = RELEASES[name]
    url = RELEASE_URL + release.file
    path = _cached_or_downloaded(name, url, allow_download, timeout)
    loaded = load_checkpoint_bytes(path.read_bytes(), path.name)
    loaded.source = "pretrained"
    loaded.meta.update(accuracy=release.accuracy, accuracy_source="published", source=url, path=str(path))
    return loaded
