"""A reference Grad-CAM for the tests: Captum's ``LayerGradCam`` at one layer (positive part), with the predictions
of the same forward pass, returned as ``resnet_viz.explain.attribution.explain`` returns its own.

The app computes Grad-CAM in one pass of its own (``explain``); this is what that pass is checked against.
"""

from __future__ import annotations

import torch
from captum.attr import LayerGradCam
from torch import nn

from resnet_viz.explain import attribution as A
from resnet_viz.inspect.hooks import hooked


class Recorder(nn.Module):
    """Wraps a model so that the logits of the very forward pass Captum runs are kept.

    With ``target=None`` it returns the score of the top-1 class of that same pass, so the class to
    explain is decided without a second forward pass.
    """

    def __init__(self, model: nn.Module, target: int | None) -> None:
        super().__init__()
        self.model = model
        self.target = target
        self.logits: torch.Tensor | None = None
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        self.calls += 1
        if self.logits is None:
            self.logits = out.detach()[:1].clone()
        if self.target is None:
            self.target = int(out[0].argmax())
        return out[:, self.target]


def grad_cam(model: nn.Module, x: torch.Tensor, layer: str | nn.Module, *, target: int | None = None,
             name: str | None = None) -> A.Explanation:
    """Captum's ``LayerGradCam`` at one layer (positive part), with the predictions of the same forward pass."""
    x = A._check_input(x) if target is None else A._validate(model, x, target)
    with hooked(model, requires_grad=False):
        module = A._module(model, layer)
        recorder = Recorder(model, target)
        attr = LayerGradCam(recorder, module).attribute(x, relu_attributions=True)
        assert recorder.logits is not None and recorder.target is not None
        logits = recorder.logits[0].float()
        label = name or (layer if isinstance(layer, str) else type(layer).__name__)
        cam = A._cam_map(label, attr.detach()[0, 0], (int(x.shape[2]), int(x.shape[3])))
        return A.Explanation(logits.numpy(), torch.softmax(logits, 0).numpy(), recorder.target, cam, ())
