"""``lesion CHECKPOINT... --data PATH``: delete blocks at test time (Veit et al. 2016): the accuracy with each block
deleted alone, and with k random blocks deleted (several seeded draws per k)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from resnet_viz.checkpoints.find import load_model
from resnet_viz.paper.lesion import DRAWS, SEED, LesionStudy, lesion_study, store_study
from resnet_viz.runtime import configure_threads
from resnet_viz.samples import TEST_SAMPLE, load_images


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT",
                   help="CIFAR-10 ResNet or plain-net checkpoints (.safetensors with sidecar, .pt, .th) or random:NAME")
    p.add_argument("--data", default=str(TEST_SAMPLE),
                   help="an .npz sample (default: the shipped 1000 CIFAR-10 test images) or a dataset "
                        "(cifar-10-batches-py, image folder, .zip, .tar.gz) for all 10,000 test images")
    p.add_argument("--split", default="test", help="split of a dataset (default: test)")
    p.add_argument("--limit", type=int, help="use only N images (class-balanced)")
    p.add_argument("--k", type=int, nargs="*", metavar="K",
                   help="numbers of random blocks to delete (default: every k for shallow nets, 8 values up to all "
                        "blocks for deep ones; none: no random deletions)")
    p.add_argument("--draws", type=int, default=DRAWS, help=f"random sets per k (default {DRAWS})")
    p.add_argument("--seed", type=int, default=SEED, help=f"seed of the random sets (default {SEED})")
    p.add_argument("--batch-size", type=int, default=250)
    p.add_argument("--threads", type=int,
                   help="intra-op CPU threads of this process (default: torch's; 1 is fastest on a busy CPU)")
    p.add_argument("--store", type=Path, nargs="?", const=Path("__default__"), metavar="FOLDER",
                   help="also save each sweep as JSON named by the weights' hash (default folder: assets/lesion, "
                        "which the app reads)")
    p.add_argument("--progress", action="store_true", help="print progress on stderr")
    p.add_argument("--json", action="store_true", help="print JSON: per checkpoint the whole sweep")


def _progress(source: str):
    def show(fraction: float) -> None:
        print(f"\r{source}: {100 * fraction:5.1f} %", end="", file=sys.stderr, flush=True)
    return show


def _print(source: str, s: LesionStudy) -> None:
    print(f"{source}: {s.model}, {len(s.blocks)} blocks, {s.images} images, error {s.baseline_error:.1f} % intact")
    print(f"  {'#':>3} {'block':<12} {'error %':>8} {'change':>8}")
    for i, (name, err, down) in enumerate(zip(s.blocks, s.single_error, s.downsampling), start=1):
        mark = "  downsampling" if down else ""
        print(f"  {i:>3} {name:<12} {err:8.1f} {err - s.baseline_error:+8.1f}{mark}")
    if s.ks:
        print(f"  k random blocks deleted ({len(s.random[0])} draws, seed {s.seed}): mean error % [lowest, highest]")
        for k, mean, low, high in s.random_error():
            print(f"  {k:>5} {mean:8.1f} [{low:.1f}, {high:.1f}]")


def run(args: argparse.Namespace) -> int:
    if args.threads:
        configure_threads(args.threads)
    images, labels, _ = load_images(args.data, split=args.split, limit=args.limit)
    sample = Path(str(args.data)).stem if str(args.data).endswith(".npz") else f"{Path(args.data).name}:{args.split}"
    sample += f":{args.limit}" if args.limit else ""
    results = {}
    for source in args.checkpoints:
        loaded = load_model(source)
        study = lesion_study(loaded, images, labels, ks=args.k, draws=args.draws, seed=args.seed,
                             batch_size=args.batch_size, sample=sample,
                             on_progress=_progress(source) if args.progress else None)
        if args.progress:
            print(file=sys.stderr)
        results[source] = study
        if args.store is not None:
            store_study(study, *(() if str(args.store) == "__default__" else (args.store,)))
    if args.json:
        print(json.dumps({src: s.to_dict() for src, s in results.items()}, indent=1))
        return 0
    for src, s in results.items():
        _print(src, s)
    return 0
