"""Writing checkpoints: the one atomic writer, and ``<name>.safetensors`` + ``<name>.json`` sidecar pairs."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as st_save
from torch import nn

from resnet_viz.checkpoints.read import FP16_MAX, SIDECAR_FORMAT


def atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes files private; checkpoints are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(state: nn.Module | Mapping[str, torch.Tensor], path: str | os.PathLike,
                    meta: Mapping[str, Any], *, half: bool = False) -> Path:
    """Write ``<path>.safetensors`` and its ``.json`` sidecar, each atomically (a crash leaves the old pair).

    ``meta`` must hold at least ``model``; ``half`` stores floating tensors as fp16 where they fit its range
    (loaded back as fp32).
    The sidecar records the weights' sha256, so a weights file and a sidecar from different writes are
    detected on load.
    """
    if isinstance(state, nn.Module):
        state = state.state_dict()
    tensors = {}
    for k, v in state.items():
        v = v.detach().cpu()
        if half and v.is_floating_point() and (v.numel() == 0 or float(v.abs().max()) <= FP16_MAX):
            v = v.half()  # tensors beyond fp16's range (an untrained net's BN variances) stay fp32
        tensors[k] = v.contiguous()
    full = {"format": SIDECAR_FORMAT, **meta}
    light = {k: v for k, v in full.items() if k != "log"}
    data = st_save(tensors, metadata={"resnet_viz": json.dumps(light)})
    full["weights_sha256"] = hashlib.sha256(data).hexdigest()
    full["weights_dtype"] = "float16" if half else "float32"
    path = Path(path)
    if path.suffix != ".safetensors":
        path = path.with_name(path.name + ".safetensors")
    atomic_write(path, data)
    atomic_write(path.with_suffix(".json"), json.dumps(full, indent=1).encode("utf-8"))
    return path
