"""The attribution methods the attribution page offers side by side: one entry per method, all it needs to know.

An entry names the function (``resnet_viz.explain.attribution``), its integer settings and their bounds, whether
the map depends on the Grad-CAM layer (another layer is then another map; the others are kept across a layer
change), whether it is slow (many passes: it reports progress and runs through the server's queue of heavy work),
the sign its heat is first shown with and the catalogue keys of its name and help. The page and
``ui/attribution.py`` read only these entries.

Adding a method: its function, one entry in ``METHODS``, its lines in both catalogues (``attribution.methods.<name>``,
``attribution.method_help.<name>``, its settings' labels) and its test.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from resnet_viz.explain.attribution import (
    Attribution,
    Explanation,
    guided_grad_cam,
    integrated_gradients,
    occlusion,
    occlusion_evaluations,
    saliency,
)


@dataclass(frozen=True)
class Param:
    """An integer setting of a method, offered as a slider."""

    name: str  # the function's keyword argument
    widget: str  # the slider's name in the page's state (attribution_<widget>)
    label: str  # catalogue key of the slider's label
    bounds: Callable[[int], tuple[int, int, int]]  # the picture's shorter side -> (lowest, highest, default)
    step: int = 1
    help: str | None = None  # catalogue key
    at_most: str | None = None  # a setting of the same method, listed before this one, that caps it


@dataclass(frozen=True)
class Method:
    name: str  # the page's value, its state keys and the cache's; Attribution.method
    label: str  # catalogue key of the method's name
    help: str  # catalogue key of a sentence about it
    # (model, x, *, target, [layer=module path], [progress=callback], **params) -> Attribution. None: Grad-CAM itself,
    # whose map comes from the page's one forward and backward pass (``attribution.explain``).
    run: Callable[..., Attribution] | None
    default_sign: str  # how its signed values first become heat (``resnet_viz.render.colour.SIGNS``)
    # The map as the page's explanation pass gives it too (``explain(with_saliency=True)``), read instead of ``run``
    # there: one backward for Grad-CAM and this map. None from an explanation that was not asked for it.
    from_pass: Callable[[Explanation], Attribution | None] | None = None
    signed: bool = True  # False: its map has one sign by definition, shown and not offered
    layer: bool = False  # the map depends on the Grad-CAM layer (``run`` takes it as ``layer``)
    slow: bool = False  # many passes: ``run`` takes ``progress``, and it goes through the server's queue
    params: tuple[Param, ...] = ()
    passes: Callable[[tuple[int, int], Mapping[str, int]], int] | None = None  # image (H, W), settings -> passes
    passes_label: str | None = None  # catalogue key ({count}) that shows ``passes`` under the last setting


def _ig_steps(side: int) -> tuple[int, int, int]:
    return 4, 64, 16


def _occlusion_window(side: int) -> tuple[int, int, int]:
    low = max(1, side // 16)
    return low, max(2, side // 2), max(low, side // 8)


def _occlusion_stride(side: int) -> tuple[int, int, int]:
    # From 1, not from the window's lowest: a slider whose bounds change is a new widget and would lose its value.
    _, high, default = _occlusion_window(side)
    return 1, high, default


METHODS: dict[str, Method] = {m.name: m for m in (
    # Grad-CAM keeps the positive part (the original method); the gradient methods show magnitude at first.
    Method("grad_cam", "attribution.methods.grad_cam", "attribution.method_help.grad_cam", run=None,
           default_sign="positive", signed=False, layer=True),
    Method("guided_grad_cam", "attribution.methods.guided_grad_cam", "attribution.method_help.guided_grad_cam",
           run=guided_grad_cam, default_sign="absolute", layer=True),
    Method("integrated_gradients", "attribution.methods.integrated_gradients",
           "attribution.method_help.integrated_gradients", run=integrated_gradients, default_sign="absolute",
           slow=True, params=(Param("steps", "ig_steps", "attribution.ig_steps", _ig_steps, step=4,
                                    help="attribution.ig_steps_help"),)),
    Method("saliency", "attribution.methods.saliency", "attribution.method_help.saliency", run=saliency,
           from_pass=lambda exp: exp.saliency, default_sign="absolute"),
    Method("occlusion", "attribution.methods.occlusion", "attribution.method_help.occlusion", run=occlusion,
           default_sign="positive", slow=True,
           params=(Param("window", "occ_window", "attribution.occ_window", _occlusion_window),
                   Param("stride", "occ_stride", "attribution.occ_stride", _occlusion_stride, at_most="window")),
           passes=lambda size, p: occlusion_evaluations(size, p["window"], p["stride"]),
           passes_label="attribution.occ_help"),
)}
