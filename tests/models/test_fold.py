"""fold_batchnorm: a private copy whose outputs are the network's, BN folded into its convolutions."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from resnet_viz.models.fold import fold_batchnorm
from resnet_viz.models.registry import get_spec


def _trained_looking(model: nn.Module) -> nn.Module:
    """BN statistics and affine parameters off their defaults (defaults would hide a wrong fold)."""
    gen = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=gen) - 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.rand(m.num_features, generator=gen) - 0.5)
    return model


@pytest.mark.parametrize("name,shortcut", [("resnet20", "A"), ("resnet20", "B"), ("plain20", None),
                                           ("resnet18_cifar", None)])
def test_the_folded_copy_computes_what_the_network_does_and_the_network_is_left_alone(name, shortcut):
    spec = get_spec(name)
    model = _trained_looking(spec.build(shortcut=shortcut) if shortcut else spec.build()).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    folded = fold_batchnorm(model)
    x = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        model.eval()
        want, got = model(x), folded(x)
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-4 * float(want.abs().max()))
    left = [m for m in folded.modules() if isinstance(m, nn.BatchNorm2d)]
    assert left == [], f"{len(left)} BN not folded"
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
