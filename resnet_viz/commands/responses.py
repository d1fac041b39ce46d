"""``responses CHECKPOINT... --data PATH``: the paper's Figure 7 numbers (std of every 3x3 conv's response)."""

from __future__ import annotations

import argparse
import json

from resnet_viz.checkpoints.find import load_model
from resnet_viz.paper.figure7 import responses_of, store_in_sidecar
from resnet_viz.runtime import configure_threads
from resnet_viz.samples import TEST_SAMPLE, load_images


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT",
                   help="checkpoint files (.safetensors with sidecar, .pt, .th) or random:NAME")
    p.add_argument("--data", default=str(TEST_SAMPLE),
                   help="an .npz sample (default: the shipped 1000 CIFAR-10 test images) or a dataset "
                        "(cifar-10-batches-py, image folder, .zip, .tar.gz)")
    p.add_argument("--split", default="test", help="split of a dataset (default: test)")
    p.add_argument("--limit", type=int, help="use only N images (class-balanced)")
    p.add_argument("--batch-size", type=int, default=250)
    p.add_argument("--threads", type=int,
                   help="intra-op CPU threads of this process (default: torch's; 1 is fastest on a busy CPU)")
    p.add_argument("--store", action="store_true",
                   help="also save the values in each checkpoint's JSON sidecar (key 'responses'), for the app")
    p.add_argument("--json", action="store_true", help="print JSON: per checkpoint a list of per-layer std values")


def run(args: argparse.Namespace) -> int:
    if args.threads:
        configure_threads(args.threads)
    images, _, _ = load_images(args.data, split=args.split, limit=args.limit)
    results = {}
    for source in args.checkpoints:
        loaded = load_model(source)
        result = responses_of(loaded, images, batch_size=args.batch_size)
        results[source] = result
        if args.store and loaded.meta.get("path"):
            store_in_sidecar(loaded.meta["path"], result, sample=args.data)
    if args.json:
        print(json.dumps({src: list(r.std) for src, r in results.items()}, indent=1))
        return 0
    for src, r in results.items():
        print(f"{src}: {len(r.std)} layers, {r.images} images")
        for i, (layer, value) in enumerate(zip(r.layers, r.std), start=1):
            print(f"  {i:>3} {layer:<24} {value:.4f}")
    return 0
