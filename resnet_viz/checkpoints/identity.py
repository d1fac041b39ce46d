"""A loaded model's identity: the hash of its weights (``model_fingerprint``) and the key of everything computed
from it (``model_key``: weights and preprocessing), the cache key of every page and of the shipped artefacts."""

from __future__ import annotations

import hashlib
import threading
import weakref

import torch
from torch import nn

from resnet_viz.checkpoints.read import LoadedModel
from resnet_viz.models.cifar64 import Cifar64Net

_FINGERPRINTS: weakref.WeakKeyDictionary[nn.Module, str] = weakref.WeakKeyDictionary()
_FINGERPRINTS_GUARD = threading.Lock()


def model_fingerprint(model: nn.Module) -> str:
    """A hash of the model's weights and buffers (computed once per model object): a cache key that tells
    two checkpoints of the same architecture apart, and a CIFAR ResNet-18/34 from the same weights with a max pool."""
    with _FINGERPRINTS_GUARD:
        known = _FINGERPRINTS.get(model)
    if known:
        return known
    h = hashlib.blake2b(digest_size=16)
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(str(tuple(tensor.shape)).encode())
        h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy())
    digest = type(model).__name__ + ":" + h.hexdigest()
    if isinstance(model, Cifar64Net) and model.maxpool is not None:  # no parameter tells the max pool apart
        digest += ":maxpool"
    with _FINGERPRINTS_GUARD:
        _FINGERPRINTS[model] = digest
    return digest


def model_key(loaded: LoadedModel) -> str:
    """The cache key of everything computed from a model: its weights' hash and its preprocessing.

    Two checkpoints that differ in weights, mean, std, resize, crop or class count never share a result, and a
    model loaded after another was evicted never inherits its results (as a key made of ``id(model)`` could).
    The hash is computed once per model object (``model_fingerprint`` keeps it).
    """
    return ":".join(str(v) for v in (loaded.spec.name, model_fingerprint(loaded.model), loaded.mean, loaded.std,
                                     loaded.resize_size, loaded.input_size, len(loaded.classes)))
