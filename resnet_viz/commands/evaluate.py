"""``evaluate CHECKPOINT --data PATH``: top-1 accuracy, per-class accuracy and the confusion matrix."""

from __future__ import annotations

import argparse

from resnet_viz import cli_args
from resnet_viz.train.evaluate import evaluate_checkpoint


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="our .safetensors (+ .json sidecar) or a .pt/.pth/.th file (the community "
                                      "CIFAR formats of akamaster, chenyaofo, kuangliu and torchvision included)")
    cli_args.dataset(p)
    cli_args.split(p)
    cli_args.model_name(p)
    cli_args.maxpool(p)
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--limit", type=int, help="evaluate a fixed random subset of N images")
    cli_args.device(p)
    cli_args.json_output(p, "the result (accuracy in percent)")


def run(args: argparse.Namespace) -> int:
    result, info = evaluate_checkpoint(args.checkpoint, args.data, split=args.split, batch_size=args.batch_size,
                                       device=args.device, model=args.model, limit=args.limit,
                                       maxpool=args.maxpool)
    if args.json:
        cli_args.print_json({**info, **result.to_dict()})
        return 0
    print(f"{info['model']} ({info['format']}) on {info['dataset']}, {info['split']} split: "
          f"top-1 accuracy {result.accuracy:.2f}% ({result.correct}/{result.total}), loss {result.loss:.4f}")
    width = max(len(c) for c in result.classes)
    print("per-class accuracy:")
    for cls, acc in result.per_class().items():
        print(f"  {cls:<{width}}  {acc:6.2f}%")
    print("confusion matrix (rows: true class, columns: predicted):")
    print(" " * (width + 2) + " ".join(f"{i:>5}" for i in range(len(result.classes))))
    for i, row in enumerate(result.confusion.tolist()):
        print(f"  {result.classes[i]:<{width}}" + " ".join(f"{v:>5}" for v in row))
    return 0
