"""``landscape CHECKPOINT``: the loss surface around a trained network on filter-normalised random directions
(Li et al. 2018) and the loss along the line from its initial weights, written to an ``.npz`` the app reads."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from resnet_viz import cli_args
from resnet_viz.checkpoints.find import load_model
from resnet_viz.paper.landscape import DEFAULT_SEED, compute, save
from resnet_viz.train.evaluate import align_labels


def add_arguments(p: argparse.ArgumentParser) -> None:
    cli_args.checkpoints(p, one=True)
    p.add_argument("--points", type=int, default=11, help="grid points per axis, odd (default: 11)")
    p.add_argument("--span", type=float, default=1.0, help="the grid runs from -SPAN to SPAN (default: 1)")
    p.add_argument("--images", type=int, default=256,
                   help="training images the loss is taken on (class-balanced first N; default: 256)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"seed of the directions (default: {DEFAULT_SEED})")
    cli_args.sample(p, default_split="train", limit=False)
    p.add_argument("--no-line", action="store_true", help="skip the line from the initial weights")
    cli_args.threads(p)
    p.add_argument("--out", help="output .npz (default: <checkpoint stem>-landscape.npz here)")


def _progress(name: str):
    last = {"phase": "", "step": -1}

    def show(phase: str, done: int, total: int) -> None:
        step = 20 * done // total  # a line every 5 %
        if (phase, step) != (last["phase"], last["step"]) or done == total:
            last.update(phase=phase, step=step)
            print(f"{name}: {phase} {done}/{total}", file=sys.stderr, flush=True)
    return show


def run(args: argparse.Namespace) -> int:
    cli_args.use_threads(args)
    loaded = load_model(args.checkpoint)
    images, labels, classes = cli_args.read_sample(args, args.images)
    labels = align_labels(labels, classes, loaded.classes)
    land = compute(loaded, images, labels, points=args.points, span=args.span, seed=args.seed,
                   line=not args.no_line, on_point=_progress(Path(args.checkpoint).stem), data=Path(args.data).name)
    out = Path(args.out or f"{Path(args.checkpoint).stem}-landscape.npz")
    save(land, out)
    line = f", line {land.meta['line_seconds']} s" if "line_seconds" in land.meta else ""
    print(f"{out}: {args.points}x{args.points} over [-{args.span:g}, {args.span:g}] on {len(images)} images; "
          f"loss at the trained weights {land.centre_loss:.4f} (accuracy {land.centre_accuracy:.1f} %), "
          f"min {land.loss.min():.4f}, max {land.loss.max():.4f}; {land.meta['seconds']} s{line}")
    return 0
