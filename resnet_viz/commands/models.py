"""``models``: every zoo model with its family, params and the weight sources available here."""

from __future__ import annotations

import argparse
import json

import torch

from resnet_viz.checkpoints.find import find_checkpoints
from resnet_viz.checkpoints.pretrained import pretrained_cached
from resnet_viz.models.registry import MODELS, count_params


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print a JSON object keyed by model name")


def model_table() -> dict[str, dict]:
    checkpoints: dict[str, list[str]] = {}
    for info in find_checkpoints():
        checkpoints.setdefault(info.model, []).append(str(info.path))
    table = {}
    for name, spec in MODELS.items():
        with torch.device("meta"):
            params = count_params(spec.build())
        table[name] = {
            "family": spec.family, "dataset": spec.dataset, "depth": spec.depth, "params": params,
            "input_size": spec.input_size, "block": spec.block, "shortcut": spec.default_shortcut,
            "pretrained": {"available": spec.pretrained is not None, "weights": spec.pretrained,
                           "cached": pretrained_cached(name)},
            "checkpoints": checkpoints.get(name, []),
        }
    return table


def run(args: argparse.Namespace) -> int:
    table = model_table()
    if args.json:
        print(json.dumps(table, indent=1))
        return 0
    print(f"{'model':<11} {'family':<7} {'dataset':<9} {'params':>13}  weights")
    for name, row in table.items():
        sources = []
        if row["pretrained"]["available"]:
            sources.append("pretrained (cached)" if row["pretrained"]["cached"] else "pretrained (download)")
        sources += [f"checkpoint {p}" for p in row["checkpoints"]]
        print(f"{name:<11} {row['family']:<7} {row['dataset']:<9} {row['params']:>13,}  {', '.join(sources) or '-'}")
    return 0
