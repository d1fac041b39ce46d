"""``convert FILE.py:NAME WEIGHTS [-o OUT]``: a student's own trained ResNet as this project's checkpoint
(``.safetensors`` + ``.json``), mapped onto the zoo network with the same structure and checked to give the same
logits; nothing is written when a check fails."""

from __future__ import annotations

import argparse
from pathlib import Path

from resnet_viz import cli_args
from resnet_viz.commands.check import TARGET_HELP


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="FILE.py:NAME", help=TARGET_HELP)
    p.add_argument("weights", metavar="WEIGHTS",
                   help="your trained weights: torch.save(model.state_dict(), 'my_resnet.pth') (.pth, .pt, .th; also "
                        "a training checkpoint that holds the state dict, or .safetensors); read without running code")
    p.add_argument("--mean", type=float, nargs=3, metavar=("R", "G", "B"),
                   help="the per-channel mean your training normalised images with (default: CIFAR-10's)")
    p.add_argument("--std", type=float, nargs=3, metavar=("R", "G", "B"),
                   help="the per-channel standard deviation your training divided by (default: CIFAR-10's)")
    p.add_argument("-o", "--out", metavar="OUT.safetensors",
                   help="where to write the checkpoint and its .json sidecar (default: checkpoints/<weights "
                        "name>.safetensors, where the app finds it)")
    cli_args.student_code(p, seconds=60, per="building and running your network")
    cli_args.language(p)


def run(args: argparse.Namespace) -> int:
    from resnet_viz.student.code import Worker, parse_target
    from resnet_viz.student.convert import convert, default_out, report

    target, weights = parse_target(args.target), Path(args.weights)
    out = Path(args.out) if args.out else default_out(weights)
    with Worker(args.timeout) as worker:
        done, path = convert(target, weights, out, worker, mean=args.mean, std=args.std)
    print("\n".join(report(done, path, args.target, args.weights, args.lang)))
    return 0
