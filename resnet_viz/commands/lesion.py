"""``lesion CHECKPOINT... --data PATH``: delete blocks at test time (Veit et al. 2016): the accuracy with each block
deleted alone, and with k random blocks deleted (several seeded draws per k)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from resnet_viz import cli_args
from resnet_viz.models.registry import display_name
from resnet_viz.paper.lesion import DRAWS, SEED, LesionStudy, lesion_study, random_sentence, store_study


def add_arguments(p: argparse.ArgumentParser) -> None:
    cli_args.checkpoints(p)
    cli_args.maxpool(p)
    cli_args.sample(p)
    p.add_argument("--k", type=int, nargs="*", metavar="K",
                   help="numbers of random blocks to delete (default: every k for shallow nets, 8 values up to all "
                        "blocks for deep ones; none: no random deletions)")
    p.add_argument("--draws", type=int, default=DRAWS, help=f"random sets per k (default {DRAWS})")
    p.add_argument("--seed", type=int, default=SEED, help=f"seed of the random sets (default {SEED})")
    cli_args.sample_batch(p)
    cli_args.threads(p)
    p.add_argument("--store", type=Path, nargs="?", const=Path("__default__"), metavar="FOLDER",
                   help="also save each sweep as JSON named by the weights' hash (default folder: assets/lesion, "
                        "which the app reads)")
    p.add_argument("--progress", action="store_true", help="print progress on stderr")
    cli_args.json_output(p, "per checkpoint the whole sweep")


def _progress(source: str):
    def show(fraction: float) -> None:
        print(f"\r{source}: {100 * fraction:5.1f} %", end="", file=sys.stderr, flush=True)
    return show


def _print(source: str, s: LesionStudy) -> None:
    print(f"{source}: {s.model}, {len(s.blocks)} blocks, {s.images} images, error {s.baseline_error:.1f} % intact")
    print(f"  {'#':>3} {'block':<12} {'error %':>8} {'change':>8}")
    for i, (name, err, down) in enumerate(zip(s.block_names, s.single_error, s.downsampling), start=1):
        mark = "  downsampling" if down else ""
        print(f"  {i:>3} {name:<12} {err:8.1f} {err - s.baseline_error:+8.1f}{mark}")
    if s.ks:
        print(f"  k random blocks deleted ({len(s.random[0])} draws, seed {s.seed}): mean error % ± standard "
              "deviation [lowest, highest]")
        for p in s.random_error():
            print(f"  {p.k:>5} {p.mean:8.1f} ± {p.sd:.1f} [{p.low:.1f}, {p.high:.1f}]")
        print(f"  {random_sentence(s, display_name(s.model))}")


def run(args: argparse.Namespace) -> int:
    cli_args.use_threads(args)
    images, labels, _ = cli_args.read_sample(args, args.limit)
    sample = Path(str(args.data)).stem if str(args.data).endswith(".npz") else f"{Path(args.data).name}:{args.split}"
    sample += f":{args.limit}" if args.limit else ""
    results = {}
    for source, loaded in cli_args.each_model(args):
        study = lesion_study(loaded, images, labels, ks=args.k, draws=args.draws, seed=args.seed,
                             batch_size=args.batch_size, sample=sample,
                             on_progress=_progress(source) if args.progress else None)
        if args.progress:
            print(file=sys.stderr)
        results[source] = study
        if args.store is not None:
            store_study(study, *(() if str(args.store) == "__default__" else (args.store,)))
    if args.json:
        cli_args.print_json({src: s.to_dict() for src, s in results.items()})
        return 0
    for src, s in results.items():
        _print(src, s)
    return 0
