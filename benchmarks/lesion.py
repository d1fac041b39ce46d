"""Timings of the lesion study on this machine, as the app runs it (one torch intra-op thread, the work split over
``resnet_viz.work.WORKERS`` Python threads, the app's allocator setting; ``--no-allocator``: glibc's default, as this
script ran before 2026-12-07):

- a click: the shipped ResNet-56 on the 1,000 sample images with one block deleted, restarting from the intact
  network's kept block inputs (``intact_pass``, computed once per network and image set: its time and bytes are
  printed), for the first block, block 14 (``layer2.4``) and the last; and the same click without the kept inputs
  (``probabilities``, the full forward pass the page made before issue 33);
- the sweeps of the shipped ResNet-110: every single deletion, and the page's whole sweep (single deletions and
  ten random draws for each of its ks).

    python benchmarks/lesion.py [--workers 2] [--threads 1] [--repeat 3] [--skip-sweep] [--json out.json]

Prints wall and CPU seconds (best of --repeat for a click, one run for a sweep) and the load average: on a shared
machine the numbers move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from functools import partial
from pathlib import Path

import torch

from resnet_viz import cli_args
from resnet_viz.checkpoints.find import SHIPPED_DIR, load_model
from resnet_viz.paper.lesion import intact_pass, lesion_study, probabilities, probabilities_from, sweep_work
from resnet_viz.runtime import configure_threads
from resnet_viz.samples import load_test_sample
from resnet_viz.work import WORKERS


def timed(fn) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - start, time.process_time() - cpu


def conv_rate(repeat: int = 20) -> float:
    """Multiply-adds per second of one 3x3 convolution (16 -> 16 channels, 32 x 32, batch 64, channels last, as the
    sweep's first stage runs it) on this thread: what this CPU can give the sweep."""
    x = torch.randn(64, 16, 32, 32).contiguous(memory_format=torch.channels_last)
    conv = torch.nn.Conv2d(16, 16, 3, padding=1).eval()
    macs = 64 * 16 * 16 * 9 * 32 * 32
    with torch.inference_mode():
        conv(x)
        best = min(timed(lambda: conv(x))[0] for _ in range(repeat))
    return macs / best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=WORKERS)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (the app's default: 1)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--skip-sweep", action="store_true")
    p.add_argument("--json", type=Path)
    cli_args.allocator(p)
    args = p.parse_args()
    configure_threads(args.threads)
    cli_args.use_allocator(args)
    images, labels, _ = load_test_sample()
    out: dict[str, object] = {"threads": args.threads, "workers": args.workers, "images": len(images),
                              "load_before": os.getloadavg()[0]}

    def say(key: str, wall: float, cpu: float, what: str) -> None:
        out[key], out[f"{key}_cpu"] = round(wall, 2), round(cpu, 2)
        print(f"{what}: {wall:.2f} s (CPU {cpu:.2f} s), load {os.getloadavg()[0]:.1f}", flush=True)

    r56 = load_model(str(SHIPPED_DIR / "resnet56.safetensors"))
    norm = dict(mean=r56.mean, std=r56.std)
    kept = [None]

    def first() -> None:
        kept[0] = intact_pass(r56.model, images, workers=args.workers, **norm)

    first()  # warm: allocator, kernels
    say("intact_pass_resnet56", *timed(first), f"intact pass (ResNet-56, {len(images)} images, once per network)")
    intact = kept[0]
    assert intact is not None
    out["kept_blocks"], out["kept_mb"] = list(intact.kept), round(intact.nbytes / 1e6, 1)
    print(f"kept block inputs: blocks {[k + 1 for k in intact.kept]}, {intact.nbytes / 1e6:.1f} MB")
    for block in (0, 13, 26):
        click = partial(probabilities_from, r56.model, intact, images, [block], workers=args.workers, **norm)
        wall, cpu = min(timed(click) for _ in range(args.repeat))
        say(f"click_block{block + 1}", wall, cpu, f"one click (ResNet-56, block {block + 1} deleted)")
    wall, cpu = min(timed(lambda: probabilities(r56.model, images, [13], **norm)) for _ in range(args.repeat))
    say("click_block14_uncached", wall, cpu, "the same click without kept inputs, one thread (before issue 33)")
    if not args.skip_sweep:
        r110 = load_model(str(SHIPPED_DIR / "resnet110.safetensors"))
        say("sweep_single_resnet110", *timed(lambda: lesion_study(r110, images, labels, ks=(), workers=args.workers)),
            f"single deletions (ResNet-110, 54 blocks, {len(images)} images)")
        say("sweep_page_resnet110", *timed(lambda: lesion_study(r110, images, labels, workers=args.workers)),
            "the page's sweep (ResNet-110: single deletions and 10 random draws per k)")
        work = sweep_work("resnet110", len(images))
        rate, peak = work / float(out["sweep_page_resnet110_cpu"]) / 1e9, conv_rate() / 1e9  # type: ignore[arg-type]
        out["sweep_tmac"], out["sweep_gmac_per_cpu_s"], out["conv_gmac_per_s"] = work / 1e12, rate, peak
        print(f"the sweep's work: {work / 1e12:.2f} T multiply-adds, {rate:.1f} G per CPU second; one 3x3 "
              f"convolution alone on one thread (ResNet's first stage, batch 64): {peak:.1f} G per second, so the "
              f"sweep runs at {100 * rate / peak:.0f} % of it")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
