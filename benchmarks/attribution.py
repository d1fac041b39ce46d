"""Attribution timings (issue 8), measured side by side in one run: prints a table and a JSON object.

On ResNet-50 with random weights at 224 x 224 (pretrained weights cannot be downloaded here; the timings do
not depend on the weights' values), on the sample photo "chelsea":

- bare: ``LayerGradCam(model, model.layer4).attribute(x, target=t)`` on the model as loaded;
- explain: ``resnet_viz.explain.attribution.explain`` at conv5_x, the app's Grad-CAM (own hooks, predictions from
  the same forward pass, one backward, model state saved and restored), for a given class and for the top-1 class;
- strip: ``stage_strip`` (predictions + conv5_x + the four stages, one forward and one backward) against
  four separate ``LayerGradCam`` calls, one per stage.

The calls are interleaved round by round and the median of each is reported, so that the load of a shared
machine hits all of them alike. Target from the issue: Grad-CAM within 1.5x of the bare call; the strip in one
forward and one backward pass (counted here, not timed).

(Until issue 30 the package also had a Captum-based ``grad_cam``, timed here as the Grad-CAM of the target; the
app never called it, and it now lives in the tests as their reference, so the app's own ``explain`` is measured.)

    .venv/bin/python benchmarks/attribution.py [--model resnet50] [--size 224] [--rounds 5] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("RESNET_VIZ_OFFLINE", "1")


def _ms(seconds: float) -> float:
    return round(1000 * seconds, 1)


def _count_passes(model, fn) -> tuple[int, int]:
    """(forward passes of the whole model, torch.autograd.grad calls) during ``fn()``."""
    import torch

    forwards: list[int] = []
    grads: list[int] = []
    real_grad = torch.autograd.grad

    def counting_grad(*args, **kwargs):
        grads.append(1)
        return real_grad(*args, **kwargs)

    handle = model.register_forward_hook(lambda *_: forwards.append(1))
    torch.autograd.grad = counting_grad
    try:
        fn()
    finally:
        torch.autograd.grad = real_grad
        handle.remove()
    return len(forwards), len(grads)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--size", type=int, default=224, help="input side in pixels (ImageNet models: crop size)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()

    import torch
    from captum.attr import LayerGradCam

    from resnet_viz.checkpoints.read import load_random
    from resnet_viz.explain import attribution as A
    from resnet_viz.images import load_sample, preprocess, sample_images

    if args.threads:
        torch.set_num_threads(args.threads)
    loaded = load_random(args.model)
    spec, model = loaded.spec, loaded.model
    samples = sample_images(spec.dataset)
    image = load_sample(samples["chelsea" if "chelsea" in samples else next(iter(samples))])
    x = preprocess(image, loaded).tensor
    if args.size != x.shape[-1]:
        x = torch.nn.functional.interpolate(x, size=(args.size, args.size), mode="bilinear", align_corners=False)
    layers, strip = A.target_layers(spec), A.strip_layers(spec)
    last = A.default_layer(spec)
    target = A.explain(model, x, layer=last, layers=layers).target

    def bare():
        return LayerGradCam(model, model.get_submodule(layers[last])).attribute(x, target=target)

    def bare_per_stage():
        return [LayerGradCam(model, model.get_submodule(p)).attribute(x, target=target) for p in strip.values()]

    calls = {
        "bare LayerGradCam": bare,
        "explain at conv5_x": lambda: A.explain(model, x, layer=last, layers=layers, target=target),
        "explain, top-1 target": lambda: A.explain(model, x, layer=last, layers=layers),
        "stage strip (one pass)": lambda: A.stage_strip(model, x, spec, target=target),
        "LayerGradCam per stage": bare_per_stage,
    }
    for fn in calls.values():  # warm-up: allocator, Captum imports, LUTs
        fn()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for r in range(args.rounds):
        order = list(calls) if r % 2 == 0 else list(reversed(calls))
        for name in order:
            start = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(v) for name, v in times.items()}
    base = median["bare LayerGradCam"]
    passes = {
        "stage strip (one pass)": _count_passes(model, calls["stage strip (one pass)"]),
        "LayerGradCam per stage": _count_passes(model, bare_per_stage),
        "explain, top-1 target": _count_passes(model, calls["explain, top-1 target"]),
    }

    print(f"{args.model} (random weights), input 1 x 3 x {args.size} x {args.size}, torch threads "
          f"{torch.get_num_threads()}, {args.rounds} interleaved rounds, medians")
    print(f"{'call':34} {'median ms':>10} {'min ms':>8} {'x bare':>7}")
    for name in calls:
        print(f"{name:34} {_ms(median[name]):>10} {_ms(min(times[name])):>8} {median[name] / base:>7.2f}")
    for name, (fwd, grad) in passes.items():
        print(f"{name}: {fwd} forward pass(es), {grad} autograd.grad call(s)")
    ratio = median["explain at conv5_x"] / base
    print(f"Grad-CAM / bare LayerGradCam = {ratio:.2f} (target <= 1.5): {'met' if ratio <= 1.5 else 'NOT met'}")
    result = {
        "model": args.model, "weights": "random", "input": [1, 3, args.size, args.size],
        "threads": torch.get_num_threads(), "rounds": args.rounds,
        "median_ms": {k: _ms(v) for k, v in median.items()},
        "min_ms": {k: _ms(min(v)) for k, v in times.items()},
        "ratio_to_bare": {k: round(v / base, 3) for k, v in median.items()},
        "passes": {k: {"forward": f, "autograd_grad": g} for k, (f, g) in passes.items()},
        "grad_cam_ratio": round(ratio, 3), "target_ratio": 1.5, "met": ratio <= 1.5,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
