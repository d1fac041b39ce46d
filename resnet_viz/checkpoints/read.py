"""Reading checkpoint files safely: a ready model (eval mode) with its preprocessing and class names.

Accepts the project's ``<name>.safetensors`` + ``<name>.json`` sidecar, community CIFAR checkpoints (the formats
of ``community``, detected automatically), and uploaded bytes (``.safetensors``, ``.pt``, ``.pth``, ``.th``).
Pickle-based files are only ever read with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import dataclasses

import hashlib
import io
import json
import math
import os
import pickle
import struct
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, TypeGuard

import torch
from safetensors.torch import load as st_load
from torch import nn

from resnet_viz.checkpoints.community import FORMATS, detect
from resnet_viz.errors import LoadError
from resnet_viz.models.registry import ModelSpec, display_name, get_spec
from resnet_viz.models.stages import STAGE_BLOCKS
from resnet_viz.seeded import seeded

CHECKPOINT_SUFFIXES = (".safetensors", ".pt", ".pth", ".th")
MAX_CHECKPOINT_BYTES = 600 * 1024 * 1024  # VGG-19's 548 MB fits; anything larger is refused unread
SIDECAR_FORMAT = "resnet_viz-checkpoint/1"
FP16_MAX = 65504.0  # the largest finite float16
# The keys beside a community file's weights that hold its author's own test accuracy (best_prec1, acc).
CLAIMED_ACCURACIES = tuple(f.claimed for f in FORMATS.values() if f.claimed)


@dataclass
class LoadedModel:
    """A model ready for inference, and what is needed to feed it and read its output."""

    model: nn.Module
    spec: ModelSpec
    source: str  # "pretrained", "checkpoint", "pytorch", "random", or a community format ("akamaster", ...)
    label: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    classes: tuple[str, ...]
    shortcut: str | None = None
    resize_size: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    maxpool: bool = False  # a CIFAR ResNet-18/34 whose stem keeps torchvision's max pool

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def input_size(self) -> int:
        return self.spec.input_size

    @property
    def accuracy(self) -> float | None:
        value = self.meta.get("accuracy")
        return float(value) if value is not None else None


def load_random(name: str, *, shortcut: str | None = None, seed: int = 0) -> LoadedModel:
    """A freshly initialised zoo model (useful for architecture views and gradient flow)."""
    spec = get_spec(name)
    with seeded(seed):
        model = spec.build(shortcut=shortcut)
    return LoadedModel(model.eval(), spec, "random", f"{spec.name} (random init)", spec.mean, spec.std,
                       spec.classes, shortcut=shortcut or spec.default_shortcut, resize_size=spec.resize_size)


def safe_torch_load(data: bytes, filename: str, *, max_bytes: int = MAX_CHECKPOINT_BYTES) -> Any:
    _check_zip_expansion(data, filename, max_bytes)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's warnings about pickle protocols mean nothing to a user
            return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # An import of a callable (a "global") is how a pickle runs code; anything else is damage.
        if "global" in str(exc).lower():
            raise LoadError("load.unsafe_pickle", file=filename) from None
        raise LoadError("load.corrupt", file=filename, reason=_unpickler_reason(exc)) from None
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile, OSError, struct.error, KeyError,
            AttributeError, TypeError, IndexError, UnicodeDecodeError) as exc:
        raise LoadError("load.corrupt", file=filename, reason=_short(exc)) from None


def _check_zip_expansion(data: bytes, filename: str, max_bytes: int) -> None:
    """Refuse a zip-format file whose entries unpack to more than ``max_bytes``, before torch inflates them.

    torch.save never compresses, but torch.load inflates deflated entries: a few MB could become many GB.
    """
    if not data.startswith(b"PK"):
        return
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            expanded = sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error):
        return  # damaged: torch.load reports it
    if expanded > max_bytes:
        raise LoadError("load.expands_too_large", file=filename, size_mb=round(expanded / 2**20, 1),
                        limit_mb=round(max_bytes / 2**20))


def _unpickler_reason(exc: BaseException) -> str:
    # torch's message starts with advice to retry with weights_only=False: never show that to a user.
    text = str(exc)
    if "WeightsUnpickler error:" in text:
        rest = [line.strip() for line in text.split("WeightsUnpickler error:", 1)[1].splitlines() if line.strip()]
        if rest:
            return rest[0][:200]
    return _short(exc)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def safetensors_header(data: bytes, filename: str = "file") -> dict[str, Any]:
    """The JSON header of a safetensors file, validated before any tensor is read."""
    if len(data) < 8:
        raise LoadError("load.corrupt", file=filename, reason="file too short for safetensors")
    (n,) = struct.unpack("<Q", data[:8])
    if n <= 1 or 8 + n > len(data) or n > 100 * 1024 * 1024:
        raise LoadError("load.corrupt", file=filename, reason="safetensors header length is invalid")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise LoadError("load.corrupt", file=filename, reason="safetensors header is not valid JSON") from None
    if not isinstance(header, dict):
        raise LoadError("load.corrupt", file=filename, reason="safetensors header is not a JSON object")
    return header


def _read_safetensors(data: bytes, filename: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    header = safetensors_header(data, filename)
    try:
        tensors = st_load(data)
    except Exception as exc:  # safetensors raises its own error type for every malformed file
        raise LoadError("load.corrupt", file=filename, reason=_short(exc)) from None
    meta = header.get("__metadata__") or {}
    return tensors, {str(k): str(v) for k, v in meta.items()} if isinstance(meta, dict) else {}


def _is_state_dict(obj: object) -> TypeGuard[Mapping[str, torch.Tensor]]:
    return isinstance(obj, Mapping) and bool(obj) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def _unwrap(obj: Any, filename: str) -> tuple[dict[str, torch.Tensor], dict[str, Any], frozenset[str]]:
    """(state dict, the numbers and texts saved beside it, the keys of the dict around it) of whatever
    ``torch.load`` returned."""
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model", "model_state_dict", "net"):
            inner = obj.get(key)
            if _is_state_dict(inner):
                extra = {k: v for k, v in obj.items() if k != key and isinstance(v, (int, float, str))}
                return _strip_prefix(dict(inner)), extra, frozenset(str(k) for k in obj)
        if _is_state_dict(obj):
            return _strip_prefix(dict(obj)), {}, frozenset()
    raise LoadError("load.no_state_dict", file=filename)


def _strip_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Without the prefixes of wrappers: nn.DataParallel / DistributedDataParallel, torch.compile, and a module
    that holds the network as ``self.model`` (torchvision's resnet18 adapted to CIFAR often is)."""
    for prefix in ("module.", "_orig_mod.", "model."):
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def infer_architecture(state: Mapping[str, torch.Tensor]) -> tuple[str, str | None]:
    """(zoo name, shortcut option) that a state dict was saved from, or LoadError."""
    keys = set(state)
    if "features.0.weight" in keys and any(k.startswith("classifier.") for k in keys):
        return "vgg19", None
    if "linear.weight" in keys and "layer3.0.conv1.weight" in keys and "layer4.0.conv1.weight" not in keys:
        n = len({k.split(".")[1] for k in keys if k.startswith("layer1.")})
        depth = 6 * n + 2
        has_proj = any(".shortcut.0.weight" in k for k in keys)
        # Option A has no parameters on its shortcuts: a file without them is ResNet option A unless
        # told otherwise (akamaster's files, ours carry their model name in the sidecar).
        return f"resnet{depth}", ("B" if has_proj else "A")
    if "fc.weight" in keys and "layer4.0.conv1.weight" in keys:
        counts = [len({k.split(".")[1] for k in keys if k.startswith(f"layer{i}.")}) for i in (1, 2, 3, 4)]
        bottleneck = "layer1.0.conv3.weight" in keys
        for depth, layers in STAGE_BLOCKS.items():
            if tuple(counts) == layers and bottleneck == (depth >= 50):
                has_proj = any(".downsample." in k for k in keys)
                if not has_proj:
                    return f"plain{depth}", None
                return f"resnet{depth}", "B"
    raise LoadError("load.unknown_architecture", keys=", ".join(sorted(keys)[:3]))


def check_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor], model_name: str) -> None:
    """LoadError naming the first mismatching keys and shapes, or None when ``state`` fits ``model``."""
    expected = model.state_dict()
    # Parameter names and shapes only: the sentence around them (in the reader's language) says what they mean.
    missing = [f"{k} {tuple(v.shape)}" for k, v in expected.items() if k not in state]
    unexpected = [f"{k} {tuple(v.shape)}" for k, v in state.items() if k not in expected]
    reshaped = [f"{k} {tuple(v.shape)} → {tuple(state[k].shape)}" for k, v in expected.items()
                if k in state and tuple(state[k].shape) != tuple(v.shape)]
    problems = missing + reshaped + unexpected
    if problems:
        raise LoadError("load.mismatch", model=model_name, count=len(problems), missing=len(missing),
                        unexpected=len(unexpected), reshaped=len(reshaped), first="; ".join(problems[:3]))
    for key, tensor in state.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise LoadError("load.nonfinite", key=key)


def with_batch_counters(model: nn.Module, state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` with every BatchNorm ``num_batches_tracked`` it lacks set to 0, as PyTorch's own BatchNorm loading
    does for files saved before the buffer existed (PyTorch < 0.4.1, e.g. akamaster's released files). The counter
    only matters for BN without momentum in training; any other missing or unexpected key stays a mismatch."""
    state = dict(state)
    for path, module in model.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.num_batches_tracked is not None:
            state.setdefault(f"{path}.num_batches_tracked" if path else "num_batches_tracked",
                             torch.tensor(0, dtype=torch.long))
    return state


def load_state(model: nn.Module, state: Mapping[str, torch.Tensor], model_name: str) -> None:
    state = with_batch_counters(model, state)
    check_state_dict(model, state, model_name)
    expected = model.state_dict()
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})


def trained_epochs(meta: dict) -> float | None:
    """The epochs a checkpoint's sidecar records (its recipe's), None when it says nothing."""
    recipe = meta.get("recipe")
    epochs = recipe.get("epochs") if isinstance(recipe, dict) else None
    return float(epochs) if isinstance(epochs, (int, float)) and not isinstance(epochs, bool) and epochs > 0 else None


def read_sidecar(path: Path) -> dict[str, Any]:
    """The JSON sidecar next to a ``.safetensors`` file ({} when there is none or it is unreadable)."""
    side = Path(path).with_suffix(".json")
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _check_meta(meta: Any, filename: str) -> dict[str, Any]:
    """The metadata a file brings (sidecar or safetensors header), refused before any of it is used."""
    def bad(name: str) -> LoadError:
        return LoadError("load.bad_metadata", file=filename, field=name)

    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    if not isinstance(meta, Mapping):
        raise bad("metadata")
    meta = dict(meta)
    for name in ("model", "shortcut"):
        if meta.get(name) is not None and not isinstance(meta[name], str):
            raise bad(name)
    if meta.get("maxpool") is not None and not isinstance(meta["maxpool"], bool):
        raise bad("maxpool")
    classes = meta.get("classes")
    if classes is not None and not (isinstance(classes, (list, tuple)) and classes
                                    and all(isinstance(c, str) for c in classes)):
        raise bad("classes")
    for name in ("mean", "std"):
        v = meta.get(name)
        if v is not None and not (isinstance(v, (list, tuple)) and len(v) == 3 and all(number(x) for x in v)
                                  and (name == "mean" or min(v) > 0)):
            raise bad(name)
    for name in ("accuracy", *CLAIMED_ACCURACIES):
        if meta.get(name) is not None and not number(meta[name]):
            raise bad(name)
    if meta.get("log") is not None and not (isinstance(meta["log"], list)
                                            and all(isinstance(e, Mapping) for e in meta["log"])):
        raise bad("log")
    return meta


def load_checkpoint_bytes(data: bytes, filename: str, *, model: str | None = None,
                          sidecar: Mapping[str, Any] | None = None, maxpool: bool = False,
                          max_bytes: int = MAX_CHECKPOINT_BYTES) -> LoadedModel:
    """A ready model from the bytes of a checkpoint file (an upload, or a file read by the caller). ``maxpool``:
    the stem of a CIFAR ResNet-18/34 keeps its max pool (torchvision's resnet18 adapted to CIFAR; the weights
    cannot say)."""
    suffix = Path(filename).suffix.lower()
    if suffix not in CHECKPOINT_SUFFIXES:
        raise LoadError("load.bad_suffix", file=filename, suffixes=", ".join(CHECKPOINT_SUFFIXES))
    if len(data) > max_bytes:
        raise LoadError("load.too_large", file=filename, size_mb=round(len(data) / 2**20, 1),
                        limit_mb=round(max_bytes / 2**20))
    if not data:
        raise LoadError("load.corrupt", file=filename, reason="the file is empty")
    meta: dict[str, Any] = _check_meta(sidecar or {}, filename)
    if suffix == ".safetensors":
        state, header_meta = _read_safetensors(data, filename)
        if "resnet_viz" in header_meta and not meta:
            try:
                meta = json.loads(header_meta["resnet_viz"])
            except json.JSONDecodeError:
                meta = {}
        community = None
    else:
        state, extra, around = _unwrap(safe_torch_load(data, filename, max_bytes=max_bytes), filename)
        meta = {**extra, **meta}
        community = detect(state, around)
    meta = _check_meta(meta, filename)
    name = model or meta.get("model")
    shortcut = meta.get("shortcut")
    fmt = "checkpoint" if suffix == ".safetensors" else "pytorch"
    if community is not None:
        fmt = community[0].key
        state = community[0].to_zoo(state)
        name, shortcut = name or community[1].model, shortcut or community[1].shortcut
    elif not name:
        name, shortcut = infer_architecture(state)
    try:
        spec = get_spec(str(name))
    except KeyError:
        raise LoadError("load.unknown_model", model=name) from None
    maxpool = maxpool or meta.get("maxpool") is True
    if maxpool and not (spec.maxpool_option and (community is None or community[0].maxpool_unknown)):
        raise LoadError("load.no_maxpool", model=display_name(spec.name), format=fmt)
    if community is not None:
        mean, std, classes = community[0].mean, community[0].std, community[0].classes
        meta.setdefault("dataset", "CIFAR-10")
        claimed = community[0].claimed
        if claimed is not None and claimed in meta and "accuracy" not in meta:
            meta["accuracy"] = float(meta[claimed])
            meta["accuracy_source"] = claimed  # the file's own claim, not measured here
    else:
        mean = tuple(meta.get("mean") or spec.mean)
        std = tuple(meta.get("std") or spec.std)
        classes = tuple(meta.get("classes") or spec.classes)
    try:
        net = spec.build(shortcut=shortcut, num_classes=len(classes), maxpool=maxpool)
    except ValueError as exc:
        raise LoadError("load.corrupt", file=filename, reason=_short(exc)) from None
    load_state(net, state, spec.name)
    meta.setdefault("format", fmt)
    return LoadedModel(net.eval(), spec, fmt, f"{spec.name} ({filename})", tuple(map(float, mean)),
                       tuple(map(float, std)), classes, shortcut=shortcut or spec.default_shortcut,
                       resize_size=spec.resize_size, meta=meta, maxpool=maxpool)


def load_checkpoint(path: str | os.PathLike, *, model: str | None = None, maxpool: bool = False,
                    max_bytes: int = MAX_CHECKPOINT_BYTES) -> LoadedModel:
    """A ready model from a checkpoint file on disk (its sidecar is read when there is one)."""
    path = Path(path)
    data = _read_file(path, max_bytes)
    sidecar = read_sidecar(path) if path.suffix.lower() == ".safetensors" else {}
    if sidecar.get("weights_sha256") and sidecar["weights_sha256"] != hashlib.sha256(data).hexdigest():
        raise LoadError("load.sidecar_mismatch", file=path.name)
    loaded = load_checkpoint_bytes(data, path.name, model=model, sidecar=sidecar, maxpool=maxpool,
                                   max_bytes=max_bytes)
    loaded.meta["path"] = str(path)
    return loaded


def _read_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of ``path``, refused unread above ``max_bytes``."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise LoadError("load.unreadable", file=str(path), reason=_short(exc)) from None
    if size > max_bytes:
        raise LoadError("load.too_large", file=path.name, size_mb=round(size / 2**20, 1),
                        limit_mb=round(max_bytes / 2**20))
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LoadError("load.unreadable", file=str(path), reason=_short(exc)) from None


def read_state_dict(path: str | os.PathLike, *, max_bytes: int = MAX_CHECKPOINT_BYTES) -> dict[str, torch.Tensor]:
    """The state dict in a weights file, whatever network it was saved from: ``torch.save(model.state_dict(), ...)``,
    a training checkpoint that holds one (``module.`` prefixes removed), or ``.safetensors``. No pickle code runs;
    no architecture is assumed (the caller knows the network)."""
    path = Path(path)
    if path.suffix.lower() not in CHECKPOINT_SUFFIXES:
        raise LoadError("load.bad_suffix", file=path.name, suffixes=", ".join(CHECKPOINT_SUFFIXES))
    data = _read_file(path, max_bytes)
    if not data:
        raise LoadError("load.corrupt", file=path.name, reason="the file is empty")
    if path.suffix.lower() == ".safetensors":
        return _read_safetensors(data, path.name)[0]
    return _unwrap(safe_torch_load(data, path.name, max_bytes=max_bytes), path.name)[0]


def with_maxpool(loaded: LoadedModel) -> LoadedModel:
    """The same weights in the network whose stem keeps its max pool (a torchvision resnet18 adapted to CIFAR: the
    weights cannot tell whether the pool was kept; the pool has no parameters)."""
    net = loaded.spec.build(shortcut=loaded.shortcut, num_classes=len(loaded.classes), maxpool=True)
    net.load_state_dict(loaded.model.state_dict())
    return dataclasses.replace(loaded, model=net.eval(), maxpool=True)
