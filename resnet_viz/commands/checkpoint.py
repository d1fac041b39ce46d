"""``checkpoint FILE``: format, architecture, params, classes and metadata of a checkpoint file."""

from __future__ import annotations

import argparse

from resnet_viz import cli_args
from resnet_viz.checkpoints import community
from resnet_viz.checkpoints.read import load_checkpoint
from resnet_viz.models.registry import count_params


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help=".safetensors (with its .json sidecar), .pt, .pth or .th")
    cli_args.model_name(p)
    cli_args.maxpool(p)
    cli_args.json_output(p, "the file's format, model, params, classes and metadata")


def describe(path: str, model: str | None = None, maxpool: bool = False) -> dict:
    loaded = load_checkpoint(path, model=model, maxpool=maxpool)
    meta = {k: v for k, v in loaded.meta.items() if k != "log"}
    return {"file": path, "format": loaded.source, "model": loaded.name, "shortcut": loaded.shortcut,
            "params": count_params(loaded.model), "dataset": loaded.meta.get("dataset"),
            "classes": list(loaded.classes), "mean": list(loaded.mean), "std": list(loaded.std),
            "accuracy": loaded.accuracy, "epochs_logged": len(loaded.meta.get("log") or []), "metadata": meta,
            "maxpool": loaded.maxpool, "community": community.describe(loaded)}


def run(args: argparse.Namespace) -> int:
    info = describe(args.file, args.model, args.maxpool)
    if args.json:
        cli_args.print_json(info)
        return 0
    print(f"file       {info['file']}")
    print(f"format     {info['format']}")
    if info["community"]:
        print(f"source     {info['community']}")
    print(f"model      {info['model']}" + (f" (shortcut option {info['shortcut']})" if info["shortcut"] else ""))
    print(f"params     {info['params']:,}")
    print(f"dataset    {info['dataset'] or '-'}")
    source = info["metadata"].get("accuracy_source")
    claim = {None: "", "published": " (published by the weights' authors, not measured here)"}.get(
        source, f" (the file's own claim: {source})")
    print(f"accuracy   {info['accuracy'] if info['accuracy'] is not None else '-'}{claim}")
    more = " ..." if len(info["classes"]) > 10 else ""
    print(f"classes    {len(info['classes'])}: {', '.join(info['classes'][:10])}{more}")
    print(f"mean/std   {tuple(round(x, 4) for x in info['mean'])} / {tuple(round(x, 4) for x in info['std'])}")
    for key in ("recipe", "hardware", "date", "seed", "wall_time_s"):
        if key in info["metadata"]:
            print(f"{key:<10} {info['metadata'][key]}")
    return 0
