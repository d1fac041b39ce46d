"""A model's identity (resnet_viz.checkpoints.identity): the max pool a CIFAR ResNet-18 may keep has no parameter,
so its fingerprint says it, and nothing computed for one network is served for the other."""

from __future__ import annotations

from dataclasses import replace

import torch

from resnet_viz.checkpoints.identity import model_fingerprint, model_key
from resnet_viz.checkpoints.read import load_random
from resnet_viz.models.registry import build_model


def test_the_same_weights_with_a_max_pool_are_another_network():
    without = load_random("resnet18_cifar")
    kept = build_model("resnet18_cifar", maxpool=True).eval()
    kept.load_state_dict(without.model.state_dict())
    assert model_fingerprint(kept) == model_fingerprint(without.model) + ":maxpool"
    assert model_key(replace(without, model=kept)) != model_key(without)
    x = torch.randn(1, 3, 32, 32)
    assert not torch.allclose(kept(x), without.model(x))  # not a label only: the outputs differ
    assert model_fingerprint(load_random("resnet20").model).startswith("CifarNet:")  # other keys as before
