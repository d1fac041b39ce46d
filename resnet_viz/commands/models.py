"""``models``: every zoo model with its family, params and the weight sources available here."""

from __future__ import annotations

import argparse

import torch

from resnet_viz import cli_args
from resnet_viz.checkpoints.community import FORMATS, RELEASE_FORMAT, RELEASES
from resnet_viz.checkpoints.find import find_checkpoints
from resnet_viz.checkpoints.pretrained import has_pretrained, pretrained_cached
from resnet_viz.models.registry import MODELS, count_params


def add_arguments(p: argparse.ArgumentParser) -> None:
    cli_args.json_output(p, "an object keyed by model name")


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
            "pretrained": {"available": has_pretrained(name),
                           "weights": RELEASES[name].file if name in RELEASES else spec.pretrained,
                           "dataset": "CIFAR-10" if name in RELEASES else "ImageNet-1K" if spec.pretrained else None,
                           "by": (f"{FORMATS[RELEASE_FORMAT].repository}, option B" if name in RELEASES
                                  else "torchvision" if spec.pretrained else None),
                           "cached": pretrained_cached(name)},
            "checkpoints": checkpoints.get(name, []),
        }
    return table


def run(args: argparse.Namespace) -> int:
    table = model_table()
    if args.json:
        cli_args.print_json(table)
        return 0
    width = max(len(name) for name in table)
    print(f"{'model':<{width}} {'family':<7} {'dataset':<9} {'params':>13}  weights")
    for name, row in table.items():
        sources = []
        pretrained = row["pretrained"]
        if pretrained["available"]:
            state = "cached" if pretrained["cached"] else "download"
            sources.append(f"pretrained on {pretrained['dataset']} by {pretrained['by']} ({state})")
        sources += [f"checkpoint {p}" for p in row["checkpoints"]]
        print(f"{name:<{width}} {row['family']:<7} {row['dataset']:<9} {row['params']:>13,}  "
              f"{', '.join(sources) or '-'}")
    return 0
