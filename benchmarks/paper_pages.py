"""Timings of the paper pages' computations on this machine: gradient flow at init (plain + ResNet, one batch)
per depth, and Figure 7 responses per network on the shipped sample.

    python benchmarks/paper_pages.py [--depths 20 56 110] [--images 200] [--repeat 3] [--json out.json]

Prints one line per measurement (best of --repeat) and, with --json, writes them all as JSON. The load average is
printed too: on a shared machine the numbers move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from resnet_viz.models.registry import CIFAR10_MEAN, CIFAR10_STD, build_model, display_name
from resnet_viz.paper.figure7 import layer_responses
from resnet_viz.paper.gradient_flow import BATCH_SIZE, compare_at_init
from resnet_viz.runtime import configure_threads
from resnet_viz.samples import load_npz


def best_of(fn, repeat: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of the fastest of ``repeat`` runs.

    CPU seconds move less with the machine's load than wall time; their ratio shows spin-waiting threads.
    """
    runs = []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        runs.append((time.perf_counter() - start, time.process_time() - cpu))
    return min(runs)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--depths", type=int, nargs="+", default=[20, 56, 110])
    p.add_argument("--nets", nargs="+", default=["plain20", "plain56", "resnet20", "resnet56", "resnet110"])
    p.add_argument("--images", type=int, default=200)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, nargs="+", default=[1, torch.get_num_threads()],
                   help="intra-op thread counts to compare (the app uses $RESNET_VIZ_THREADS, else 1)")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args()

    results = {"machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
               "load_average_before": os.getloadavg(), "gradflow": {}, "responses": {}}
    x, y, _ = load_npz(limit=BATCH_SIZE)
    for threads in args.threads:
        configure_threads(threads)  # this script is the process: it may set its thread count between runs
        for depth in args.depths:
            s, cpu = best_of(lambda depth=depth: compare_at_init(depth, x, y), args.repeat)
            results["gradflow"][f"{depth}/threads={threads}"] = {"wall_s": s, "cpu_s": cpu}
            nets = f"{display_name(f'plain{depth}')} + {display_name(f'resnet{depth}')}"
            print(f"gradient flow at init, {nets}, batch {BATCH_SIZE}, {threads} thread(s): "
                  f"{s:.2f} s wall, {cpu:.2f} s CPU", flush=True)
    images, _, _ = load_npz(limit=args.images)
    for threads in args.threads:
        configure_threads(threads)
        for name in args.nets:
            model = build_model(name)
            s, cpu = best_of(lambda model=model: layer_responses(model, images, mean=CIFAR10_MEAN, std=CIFAR10_STD),
                             args.repeat)
            results["responses"][f"{name}/threads={threads}"] = {"wall_s": s, "cpu_s": cpu}
            print(f"Figure 7 responses, {name}, {args.images} images, {threads} thread(s): {s:.2f} s wall, "
                  f"{cpu:.2f} s CPU", flush=True)
    results["load_average_after"] = os.getloadavg()
    print(f"load average before {results['load_average_before']}, after {results['load_average_after']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
