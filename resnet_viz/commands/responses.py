"""``responses CHECKPOINT... --data PATH``: the paper's Figure 7 numbers (std of every 3x3 conv's response)."""

from __future__ import annotations

import argparse

from resnet_viz import cli_args
from resnet_viz.models.registry import cifar_paper_path
from resnet_viz.paper.figure7 import responses_of, store_in_sidecar


def add_arguments(p: argparse.ArgumentParser) -> None:
    cli_args.checkpoints(p)
    cli_args.maxpool(p)
    cli_args.sample(p)
    cli_args.sample_batch(p)
    cli_args.threads(p)
    p.add_argument("--store", action="store_true",
                   help="also save the values in each checkpoint's JSON sidecar (key 'responses'), for the app")
    cli_args.json_output(p, "per checkpoint a list of per-layer std values")


def run(args: argparse.Namespace) -> int:
    cli_args.use_threads(args)
    images, _, _ = cli_args.read_sample(args, args.limit)
    results = {}
    for source, loaded in cli_args.each_model(args):
        result = responses_of(loaded, images, batch_size=args.batch_size)
        results[source] = result
        if args.store and loaded.meta.get("path"):
            store_in_sidecar(loaded.meta["path"], result, sample=args.data)
    if args.json:
        cli_args.print_json({src: list(r.std) for src, r in results.items()})
        return 0
    for src, r in results.items():
        print(f"{src}: {len(r.std)} layers, {r.images} images")
        for i, (layer, value) in enumerate(zip(r.layers, r.std), start=1):
            print(f"  {i:>3} {cifar_paper_path(layer):<24} {value:.4f}")
    return 0
