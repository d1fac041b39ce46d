"""Does memory stay flat across repeated work? Figure 7 on the same images several times in one process.

    python -m benchmarks.memory [--net plain56] [--passes 4] [--images 1000] [--batch-size 250] [--no-allocator]

Prints the process's RSS after import, after each pass and its peak (VmHWM). ``--no-allocator`` skips
``resnet_viz.runtime.configure_allocator`` to show what glibc's dynamic mmap threshold does without it.
For the whole CIFAR-10 test split through the CLI: ``/usr/bin/time -f %M python -m resnet_viz responses
assets/checkpoints/plain56.safetensors --data cifar10-jpeg.tar.gz``.
"""

from __future__ import annotations

import argparse
import time

from resnet_viz.checkpoints.find import SHIPPED_DIR
from resnet_viz.checkpoints.read import load_checkpoint
from resnet_viz.paper.figure7 import responses_of
from resnet_viz.runtime import configure_allocator
from resnet_viz.samples import load_npz


def status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--net", default="plain56")
    p.add_argument("--passes", type=int, default=4)
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=250)
    p.add_argument("--no-allocator", action="store_true")
    args = p.parse_args()
    applied = False if args.no_allocator else configure_allocator()
    loaded = load_checkpoint(SHIPPED_DIR / f"{args.net}.safetensors")
    images = load_npz(limit=args.images)[0]
    print(f"allocator configured: {applied}; {args.net}, {len(images)} images, batch {args.batch_size}")
    print(f"after loading: RSS {status_mb('VmRSS'):.0f} MB")
    for i in range(args.passes):
        start = time.perf_counter()
        responses_of(loaded, images, batch_size=args.batch_size)
        print(f"pass {i + 1}: {time.perf_counter() - start:.1f} s, RSS {status_mb('VmRSS'):.0f} MB, "
              f"peak {status_mb('VmHWM'):.0f} MB")


if __name__ == "__main__":
    main()
