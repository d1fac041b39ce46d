"""Community CIFAR-10 checkpoints: the files the most used public CIFAR code writes, in one place.

For each format: how it is recognised from its keys (and the dict around them), how its keys map onto the zoo
model, and how that code fed its images (mean/std, class order). ``read.load_checkpoint_bytes`` applies them, so
the CLI and the app recognise the same files. chenyaofo's published weights (``RELEASES``) are downloaded by
``pretrained``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from resnet_viz.i18n import t
from resnet_viz.models.registry import (
    CIFAR10_CLASSES,
    CIFAR10_MEAN,
    CIFAR10_STD,
    CIFAR64_SUFFIX,
    IMAGENET_MEAN,
    IMAGENET_STD,
    display_name,
    get_spec,
)
from resnet_viz.models.stages import STAGE_BLOCKS

# kuangliu/pytorch-cifar's main.py and chenyaofo's training configuration normalise with these; the std is a
# widely copied estimate, not the training split's per-channel std (CIFAR10_STD).
KUANGLIU_MEAN = (0.4914, 0.4822, 0.4465)
KUANGLIU_STD = (0.2023, 0.1994, 0.2010)
# torchvision's renaming of the zoo's CIFAR modules: its classifier and projection shortcuts.
TORCHVISION_NAMES = ((r"^fc\.", "linear."), (r"\.downsample\.", ".shortcut."))

State = Mapping[str, torch.Tensor]


@dataclass(frozen=True)
class Detected:
    model: str  # zoo name
    shortcut: str  # "A" or "B"


@dataclass(frozen=True)
class CommunityFormat:
    key: str  # LoadedModel.source of its files
    repository: str  # where its code is published
    mean: tuple[float, ...]
    std: tuple[float, ...]
    classes: tuple[str, ...]  # its outputs, in order
    detect: Callable[[State, frozenset[str]], Detected | None]  # (weights, keys of the dict around them)
    renames: tuple[tuple[str, str], ...] = ()  # (pattern on its keys, replacement): its names -> the zoo's
    claimed: str | None = None  # the key, beside the weights, of the test accuracy its author measured
    maxpool_unknown: bool = False  # whether the stem's max pool was kept cannot be read from the weights

    def to_zoo(self, state: State) -> dict[str, torch.Tensor]:
        """``state`` under the zoo model's parameter names."""
        out = {}
        for name, tensor in state.items():
            for pattern, replacement in self.renames:
                name = re.sub(pattern, replacement, name)
            out[name] = tensor
        return out


def _blocks_per_stage(keys: frozenset[str], stages: int) -> tuple[int, ...]:
    return tuple(len({k.split(".")[1] for k in keys if k.startswith(f"layer{i}.")}) for i in range(1, stages + 1))


def _six_n_plus_2(keys: frozenset[str], head: str) -> str | None:
    """resnet<6n+2>: three stages of n basic blocks (section 4.2), classifier ``head``."""
    if f"{head}.weight" not in keys or "layer1.0.conv3.weight" in keys or any(k.startswith("layer4.") for k in keys):
        return None
    counts = _blocks_per_stage(keys, 3)
    return f"resnet{6 * counts[0] + 2}" if counts[0] and len(set(counts)) == 1 else None


def _table1_cifar(state: State, head: str) -> str | None:
    """resnet18_cifar / resnet34_cifar: Table 1's four stages of basic blocks after a 3x3 stem of 64 filters."""
    keys = frozenset(state)
    conv1 = state.get("conv1.weight")
    if f"{head}.weight" not in keys or conv1 is None or tuple(conv1.shape) != (64, 3, 3, 3):
        return None
    counts = _blocks_per_stage(keys, 4)
    for depth in (18, 34):
        if counts == STAGE_BLOCKS[depth] and "layer1.0.conv3.weight" not in keys:
            return f"resnet{depth}{CIFAR64_SUFFIX}"
    return None


def _akamaster(state: State, around: frozenset[str]) -> Detected | None:
    keys = frozenset(state)
    name = _six_n_plus_2(keys, "linear") if "best_prec1" in around else None
    return Detected(name, "B" if any(".shortcut.0.weight" in k for k in keys) else "A") if name else None


def _chenyaofo(state: State, around: frozenset[str]) -> Detected | None:
    keys = frozenset(state)
    name = _six_n_plus_2(keys, "fc")
    return Detected(name, "B") if name and any(".downsample.0.weight" in k for k in keys) else None


def _kuangliu(state: State, around: frozenset[str]) -> Detected | None:
    name = _table1_cifar(state, "linear")
    return Detected(name, "B") if name else None


def _torchvision_cifar(state: State, around: frozenset[str]) -> Detected | None:
    name = _table1_cifar(state, "fc")
    return Detected(name, "B") if name else None


FORMATS = {f.key: f for f in (
    # resnet.py + trainer.py: option A, ImageNet's normalisation, {'state_dict', 'best_prec1'} saved by PyTorch 0.3/0.4
    CommunityFormat("akamaster", "akamaster/pytorch_resnet_cifar10", IMAGENET_MEAN, IMAGENET_STD, CIFAR10_CLASSES,
                    _akamaster, claimed="best_prec1"),
    # pytorch_cifar_models/resnet.py (torchvision's names, fc, downsample), torch.hub files: a plain state dict
    CommunityFormat("chenyaofo", "chenyaofo/pytorch-cifar-models", KUANGLIU_MEAN, KUANGLIU_STD, CIFAR10_CLASSES,
                    _chenyaofo, renames=TORCHVISION_NAMES),
    # models/resnet.py + main.py: checkpoint/ckpt.pth = {'net', 'acc', 'epoch'}, 'module.' when trained on a GPU
    CommunityFormat("kuangliu", "kuangliu/pytorch-cifar", KUANGLIU_MEAN, KUANGLIU_STD, CIFAR10_CLASSES,
                    _kuangliu, claimed="acc"),
    # torchvision.models.resnet18(num_classes=10) with conv1 = 3x3 stride 1; no known training code: CIFAR-10's
    # own statistics
    CommunityFormat("torchvision-cifar", "pytorch/vision", CIFAR10_MEAN, CIFAR10_STD, CIFAR10_CLASSES,
                    _torchvision_cifar, renames=TORCHVISION_NAMES, maxpool_unknown=True),
)}


def detect(state: State, around: frozenset[str] = frozenset()) -> tuple[CommunityFormat, Detected] | None:
    """The community format of a state dict (``module.`` prefixes already removed) and the zoo model it fits;
    ``around`` are the keys of the dict it was saved in (empty for a bare state dict)."""
    for fmt in FORMATS.values():
        found = fmt.detect(state, around)
        if found is not None:
            return fmt, found
    return None


# ---------------------------------------------------------------- chenyaofo's published CIFAR-10 weights

RELEASE_URL = "https://github.com/chenyaofo/pytorch-cifar-models/releases/download/resnet/"


@dataclass(frozen=True)
class Release:
    model: str  # zoo name
    file: str  # torch hub's convention: the first 8 hex digits of its SHA-256 after the dash
    accuracy: float  # top-1 % on the official CIFAR-10 test set, as the repository's README publishes it


RELEASES = {r.model: r for r in (
    Release("resnet20", "cifar10_resnet20-4118986f.pt", 92.60),
    Release("resnet32", "cifar10_resnet32-ef93fc4d.pt", 93.53),
    Release("resnet44", "cifar10_resnet44-2a3cabcb.pt", 94.01),
    Release("resnet56", "cifar10_resnet56-187c023a.pt", 94.37),
)}
RELEASE_FORMAT = "chenyaofo"


# ---------------------------------------------------------------- what the pages say about it

def _numbers(values: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{v:g}" for v in values) + ")"


class Loaded(Protocol):
    """What ``describe`` reads of a ``read.LoadedModel`` (which imports this module)."""

    shortcut: str | None
    mean: tuple[float, ...]
    std: tuple[float, ...]
    meta: dict[str, Any]
    maxpool: bool

    @property
    def name(self) -> str: ...


def describe(loaded: Loaded, lang: str = "en") -> str | None:
    """Where a community model comes from and how its images are fed, in one sentence (None for other models)."""
    fmt = FORMATS.get(str(loaded.meta.get("format")))
    if fmt is None:
        return None
    key = f"load.community_{fmt.key.replace('-', '_')}" + ("_maxpool" if loaded.maxpool else "")
    return t(key, lang, model=display_name(loaded.name), depth=get_spec(loaded.name).depth, shortcut=loaded.shortcut,
             mean=_numbers(loaded.mean), std=_numbers(loaded.std), repository=fmt.repository)
