"""``export CHECKPOINT --out DIR``: an fp16 copy (half the size) with the same sidecar, accuracy checked."""

from __future__ import annotations

import argparse
import json

from resnet_viz import cli_args
from resnet_viz.train.export import export_half


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", nargs="+", help="checkpoint(s) written by `train` (.safetensors + .json)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--data", help="evaluate fp32 and fp16 on this dataset's test split and compare")
    p.add_argument("--max-change", type=float, default=0.1, help="refuse if accuracy moves more (points)")
    cli_args.device(p)


def run(args: argparse.Namespace) -> int:
    for ckpt in args.checkpoint:
        record = export_half(ckpt, args.out, data=args.data, max_change=args.max_change, device=args.device)
        print(json.dumps(record))
    return 0
