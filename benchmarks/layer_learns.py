""""What each layer learns" timings (issue 23): prints a table and, with --json, one JSON object.

- top patches: one pass of the shipped ResNet-56 over the 1,000 shipped test images for its deepest stage layer
  (stage3_9: the whole network but the classifier), running top-9 per channel;
- channel switch: with those top patches computed, one channel's 3 x 3 grid cropped, drawn and PNG-encoded
  (what the page does when the channel changes), worst of all 64 channels;
- feature visualisation: seconds for one channel of the shipped ResNet-20 (default settings, one picture alone)
  at each stage's last layer, and per channel when six are optimised together (the shipped grids).

Targets from the issue: top patches <= 3 s on 2 cores, a channel switch <= 0.3 s, one channel's visualisation
<= 10 s on 2 cores. The load average is printed too: on a shared machine wall times scale with it, so the CPU
seconds of each run are printed as well (with ``--threads 1`` they are about what an idle core would take).

    .venv/bin/python benchmarks/layer_learns.py [--threads 2] [--repeat 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

from resnet_viz.checkpoints.find import SHIPPED_DIR, load_model
from resnet_viz.explain.feature_vis import VisConfig, visualise
from resnet_viz.inspect.layer_learns import crops, stage_layers, top_activations
from resnet_viz.render.colour import png_bytes
from resnet_viz.render.plots.layer_learns import patch_grid
from resnet_viz.samples import load_test_sample

CPU: dict[str, float] = {}  # the process's CPU seconds of the best run of each measurement


def _best(fn, repeat: int, name: str) -> tuple[float, object]:
    """The shortest wall time of ``repeat`` runs; its CPU time goes to ``CPU[name]`` (with one thread, about the
    wall time the run would take on an idle core)."""
    times, result = [], None
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - start)
        if times[-1] == min(times):
            CPU[name] = round(time.process_time() - cpu, 2)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images, _, _ = load_test_sample()
    hwc = images.permute(0, 2, 3, 1).numpy()
    out: dict[str, object] = {"threads": args.threads, "load_average_before": os.getloadavg()[0]}

    r56 = load_model(SHIPPED_DIR / "resnet56.safetensors")
    deepest = stage_layers(r56.model, r56.spec)[-1]
    seconds, found = _best(lambda: top_activations(r56.model, [deepest], images, r56.mean, r56.std), args.repeat,
                           "top_patches_resnet56")
    top = found[deepest.key]  # type: ignore[index]
    out["top_patches_resnet56_s"] = round(seconds, 2)
    switches = []
    for channel in range(top.channels):
        start = time.perf_counter()
        png_bytes(patch_grid(hwc, crops(top, channel), top.rf.size))
        switches.append(time.perf_counter() - start)
    out["channel_switch_max_s"] = round(max(switches), 4)

    r20 = load_model(SHIPPED_DIR / "resnet20.safetensors")
    config = VisConfig()
    per_layer = {}
    for layer in stage_layers(r20.model, r20.spec):
        seconds, _ = _best(lambda path=layer.path: visualise(r20.model, path, [0], r20.mean, r20.std, config), 1,
                           f"feature_vis_{layer.key}")
        per_layer[layer.key] = round(seconds, 2)
    out["feature_vis_resnet20_one_channel_s"] = per_layer
    batch, _ = _best(lambda: visualise(r20.model, "layer3.2", list(range(6)), r20.mean, r20.std, config), 1,
                     "feature_vis_six_stage3")
    out["feature_vis_resnet20_stage3_per_channel_in_six_s"] = round(batch / 6, 2)
    out["steps"] = config.steps
    out["cpu_s"] = dict(CPU)
    out["load_average_after"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(out, indent=1))
        return
    for key, value in out.items():
        print(f"{key:<50} {value}")


if __name__ == "__main__":
    main()
