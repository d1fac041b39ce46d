"""Where checkpoints are found (shipped, the user's folder) and the one entry point from a source name to a model."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnet_viz import ASSETS_DIR
from resnet_viz.checkpoints.pretrained import load_pretrained
from resnet_viz.checkpoints.read import (
    LoadedModel,
    load_checkpoint,
    load_random,
    read_sidecar,
)

SHIPPED_DIR = ASSETS_DIR / "checkpoints"


def user_checkpoint_dir() -> Path:
    return Path(os.environ.get("RESNET_VIZ_CHECKPOINTS") or "checkpoints")


def checkpoint_dirs() -> list[Path]:
    dirs = [SHIPPED_DIR, user_checkpoint_dir()]
    out: list[Path] = []
    for d in dirs:
        if d.resolve() not in [o.resolve() for o in out]:
            out.append(d)
    return out


def file_stamp(path: Path) -> tuple[int, int] | None:
    """(size, mtime_ns) of a file, None when it cannot be read: changes when the file is written again."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def folders_fingerprint() -> tuple[tuple[str, int, int], ...]:
    """(path, size, mtime_ns) of every checkpoint and sidecar in the checkpoint folders.

    A cheap cache key of everything found there: it changes when a training run (or anyone) writes, replaces or
    removes a checkpoint or a sidecar, and only then.
    """
    out = []
    for folder in checkpoint_dirs():
        if not folder.is_dir():
            continue
        for path in sorted([*folder.glob("*.safetensors"), *folder.glob("*.json")]):
            stamp = file_stamp(path)
            if stamp is not None:
                out.append((str(path), *stamp))
    return tuple(out)


@dataclass(frozen=True)
class CheckpointInfo:
    path: Path
    model: str
    shipped: bool
    meta: dict[str, Any] = field(hash=False, compare=False)

    @property
    def stem(self) -> str:
        return self.path.stem


def find_checkpoints(dirs: list[Path] | None = None) -> list[CheckpointInfo]:
    """Every ``.safetensors`` with a readable sidecar naming a zoo model, shipped ones first."""
    found = []
    for d in dirs if dirs is not None else checkpoint_dirs():
        if not Path(d).is_dir():
            continue
        shipped = Path(d).resolve() == SHIPPED_DIR.resolve()
        for path in sorted(Path(d).glob("*.safetensors")):
            meta = read_sidecar(path)
            name = meta.get("model")
            if isinstance(name, str) and name in _zoo_names():
                found.append(CheckpointInfo(path, name, shipped, meta))
    return found


def _zoo_names() -> set[str]:
    from resnet_viz.models.registry import MODELS

    return set(MODELS)


def load_model(source: str | os.PathLike, *, model: str | None = None, allow_download: bool = True,
               maxpool: bool = False) -> LoadedModel:
    """The one entry point: ``"pretrained:resnet50"``, ``"random:plain56"``, or a checkpoint path (``maxpool``: see
    ``load_checkpoint``)."""
    text = str(source)
    if text.startswith("pretrained:"):
        return load_pretrained(text.split(":", 1)[1], allow_download=allow_download)
    if text.startswith("random:"):
        return load_random(text.split(":", 1)[1])
    return load_checkpoint(text, model=model, maxpool=maxpool)
