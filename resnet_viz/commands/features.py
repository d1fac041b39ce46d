"""``features``: what each layer of a model produces for one image, and ||F(x)|| / ||x|| per residual block."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from resnet_viz import cli_args
from resnet_viz.checkpoints.find import load_model
from resnet_viz.errors import ImageError
from resnet_viz.images import load_image, preprocess
from resnet_viz.inspect.feature_maps import capture, layer_table, ratios


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", help="an image file (JPEG, PNG, WebP, BMP, GIF, TIFF)")
    p.add_argument("--model", default="random:resnet20",
                   help='"pretrained:resnet50", "random:plain20" or a checkpoint path (default: random:resnet20)')
    cli_args.maxpool(p)
    cli_args.json_output(p, "one object instead of tables")


def run(args: argparse.Namespace) -> int:
    path = Path(args.image)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError("images.corrupt", file=str(path), reason=str(exc) or type(exc).__name__) from None
    loaded = load_model(args.model, maxpool=args.maxpool)
    pre = preprocess(load_image(data, path.name), loaded)
    cap = capture(loaded.model, pre.tensor, loaded.spec, classes=loaded.classes)
    result: dict[str, Any] = {"model": loaded.label, "top5": [{"class": c, "prob": p} for c, p in cap.top(5)],
              "layers": layer_table(cap), "ratios": [{"block": k, "ratio": r} for k, r in ratios(cap)]}
    if args.json:
        cli_args.print_json(result)
        return 0
    print(f"{loaded.label}: " + ", ".join(f"{c} {100 * p:.1f}%" for c, p in cap.top(5)))
    print(f"{'layer':<10} {'stage':<8} {'C x H x W':>16} {'RF':>5} {'mean':>9} {'std':>9} {'zeros':>7}  ||F(x)||/||x||")
    rat = dict(ratios(cap))
    for row in result["layers"]:
        shape = f"{row['channels']} x {row['height']} x {row['width']}"
        ratio = f"{rat[row['layer']]:.3f}" if row["layer"] in rat else "-"
        print(f"{row['layer']:<10} {row['stage']:<8} {shape:>16} {row['rf']:>5} {row['mean']:>9.4f} "
              f"{row['std']:>9.4f} {100 * row['zeros']:>6.1f}%  {ratio}")
    return 0
