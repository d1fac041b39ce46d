"""Timing of the loss landscape: the live grid the page offers (11 x 11 on 256 training images of ResNet-20 by
default) and the cost of one grid point, for each network asked for, as the app runs it: one torch intra-op thread,
the grid's points on ``resnet_viz.work.WORKERS`` Python threads (``--workers 1``: as before issue 33), the app's
allocator setting (``--no-allocator``: glibc's default, as this script ran before 2026-12-07).

    python benchmarks/landscape.py [--models resnet20 plain20] [--points 11] [--images 256] [--workers 2]

Prints one line per network: wall seconds of the whole grid, seconds per point, per image and point, the CPU
seconds of this process and the load average (on a shared machine the numbers move with it).
"""

from __future__ import annotations

import argparse
import os
import time

from resnet_viz import cli_args
from resnet_viz.checkpoints.find import SHIPPED_DIR, load_model
from resnet_viz.paper.landscape import prepare, surface
from resnet_viz.runtime import configure_threads
from resnet_viz.samples import load_train_subset
from resnet_viz.train.evaluate import align_labels
from resnet_viz.work import WORKERS


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["resnet20"], help="shipped checkpoint stems")
    p.add_argument("--points", type=int, default=11)
    p.add_argument("--images", type=int, default=256)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (the app's default: 1)")
    p.add_argument("--workers", type=int, default=WORKERS)
    cli_args.allocator(p)
    args = p.parse_args()
    threads = configure_threads(args.threads)
    cli_args.use_allocator(args)
    images, labels, classes = load_train_subset(limit=args.images)
    for stem in args.models:
        loaded = load_model(SHIPPED_DIR / f"{stem}.safetensors")
        batches = prepare(images, align_labels(labels, classes, loaded.classes), loaded.mean, loaded.std)
        start, cpu = time.perf_counter(), time.process_time()
        land = surface(loaded.model, batches, points=args.points, workers=args.workers)
        wall, cpu_s = time.perf_counter() - start, time.process_time() - cpu
        n = args.points**2
        print(f"{stem}: {args.points}x{args.points} grid on {len(images)} images, {threads} torch threads, "
              f"{args.workers} workers: {wall:.1f} s "
              f"({wall / n:.3f} s/point, {1e3 * wall / n / len(images):.3f} ms per image and point; CPU {cpu_s:.1f} s;"
              f" load {os.getloadavg()[0]:.1f}); centre loss {land.centre_loss:.4f}", flush=True)


if __name__ == "__main__":
    main()
