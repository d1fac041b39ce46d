"""Timings of the lesion study on this machine: one click (one block deleted, a full forward pass of the shipped
ResNet-56 on the 1,000 sample images, warm) and the whole per-block sweep of the shipped ResNet-110 (54 single
deletions in one pass, no random sets).

    python benchmarks/lesion.py [--threads 2] [--repeat 3] [--skip-sweep] [--json out.json]

Prints wall and CPU seconds (best of --repeat for the click, one run for the sweep) and the load average: on a
shared machine the numbers move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from resnet_viz.checkpoints.find import SHIPPED_DIR, load_model
from resnet_viz.paper.lesion import lesion_study, probabilities
from resnet_viz.runtime import configure_threads
from resnet_viz.samples import load_test_sample


def timed(fn) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--block", type=int, default=13, help="the block the click deletes (0-based; 13: layer2.4)")
    p.add_argument("--skip-sweep", action="store_true")
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    configure_threads(args.threads)
    images, labels, _ = load_test_sample()
    out: dict[str, object] = {"threads": args.threads, "images": len(images), "load_before": os.getloadavg()[0]}
    r56 = load_model(str(SHIPPED_DIR / "resnet56.safetensors"))
    click = lambda: probabilities(r56.model, images, [args.block], mean=r56.mean, std=r56.std)  # noqa: E731
    click()  # warm: allocator, kernels
    wall, cpu = min(timed(click) for _ in range(args.repeat))
    out["click_resnet56_s"], out["click_resnet56_cpu_s"] = round(wall, 2), round(cpu, 2)
    print(f"one click (ResNet-56, block {args.block + 1} deleted, {len(images)} images): {wall:.2f} s "
          f"(CPU {cpu:.2f} s), load {os.getloadavg()[0]:.1f}")
    if not args.skip_sweep:
        r110 = load_model(str(SHIPPED_DIR / "resnet110.safetensors"))
        wall, cpu = timed(lambda: lesion_study(r110, images, labels, ks=()))
        out["sweep_resnet110_s"], out["sweep_resnet110_cpu_s"] = round(wall, 1), round(cpu, 1)
        print(f"per-block sweep (ResNet-110, 54 deletions, {len(images)} images): {wall:.1f} s (CPU {cpu:.1f} s), "
              f"load {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
